// batchNorm's fused wasm kernels (src/engine/batch-norm-kernel.ts, channel-simd.ts): the same bytes as the
// operations they replace on wasm (SIMD and JavaScript paths alike), close to the cpu backend, and no leaks.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { selectBackend } from '../../src/engine/backend.js';
import { hasFusedBatchNorm, setFusedBatchNormEnabled } from '../../src/engine/batch-norm-kernel.js';
import { tf } from '../../src/engine/tf.js';
import { setSimdKernelsEnabled } from '../../src/engine/wasm-asm.js';
import { BatchNorm } from '../../src/plugins/channel-layers.js';
import { assertTrainingLeaksNothing } from './leaks.js';

before(async () => {
  assert.equal((await selectBackend('wasm')).name, 'wasm');
});

function randomData(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0.5, 2, 'float32', seed).dataSync() as Float32Array).slice();
}

/**
 * One training step of a BatchNorm layer on `backend`: y, dx, dgamma, dbeta, and the moving statistics
 * after it, as byte arrays. gamma and beta start away from 1 and 0 so that every input matters.
 */
function step(backend: 'cpu' | 'wasm', shape: number[]): Float32Array[] {
  tf.setBackend(backend);
  const C = shape[shape.length - 1]!;
  const xv = randomData(shape, 1);
  const wv = randomData(shape, 2);
  return tf.tidy(() => {
    const layer = new BatchNorm({ momentum: 0.1, epsilon: 1e-5 });
    layer.build(shape);
    layer.setWeights([tf.tensor1d(randomData([C], 3)), tf.tensor1d(randomData([C], 4)), tf.zeros([C]), tf.ones([C])]);
    const x = tf.tensor(xv, shape);
    const w = tf.tensor(wv, shape); // an uneven dy
    const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    let y: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      y = tf.keep(layer.apply(x, { training: true }) as tf.Tensor); // (variableGrads keeps only the value)
      return tf.sum(tf.mul(y, w)) as tf.Scalar;
    }, vars);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a, { training: true }) as tf.Tensor, w)))(x);
    const out = [y!, dx, ...vars.map((v) => grads[v.name]!), value, ...layer.getWeights().slice(2)].map((t) => (t.dataSync() as Float32Array).slice());
    for (const v of layer.weights) v.dispose();
    y!.dispose();
    return out;
  });
}

const NAMES = ['y', 'dx', 'dgamma', 'dbeta', 'loss', 'moving mean', 'moving variance'];

// Channels by 4 (the kernels as they are), even (rows taken 2 at a time), odd (column sums in JavaScript);
// rows not a multiple of 8 (a tail of the sums), and a dense layer's [batch, C].
const SHAPES = [[4, 5, 6, 8], [3, 5, 7, 6], [2, 3, 3, 5], [37, 12], [2, 4, 4, 64]];

describe('fused batchNorm kernels on wasm', () => {
  test('the fused kernels are registered and run in a training step', async () => {
    tf.setBackend('wasm');
    assert.ok(hasFusedBatchNorm());
    const info = await tf.profile(() => { step('wasm', [2, 4, 4, 8]); });
    const names = new Set(info.kernels.map((k) => k.name));
    for (const k of ['KdxBatchNormMoments', 'KdxBatchNormNormalize', 'KdxBatchNormGradSums', 'KdxBatchNormGradInput']) {
      assert.ok(names.has(k), `${k} not run: ${[...names]}`);
    }
  });

  for (const shape of SHAPES) {
    test(`x ${shape}: the bytes of the operations they replace, with and without SIMD`, () => {
      const fused = step('wasm', shape);
      setFusedBatchNormEnabled(false);
      let operations: Float32Array[];
      try {
        operations = step('wasm', shape);
      } finally {
        setFusedBatchNormEnabled(true);
      }
      setSimdKernelsEnabled(false);
      let scalar: Float32Array[];
      try {
        scalar = step('wasm', shape);
      } finally {
        setSimdKernelsEnabled(true);
      }
      NAMES.forEach((what, i) => {
        assert.deepEqual(Buffer.from(fused[i]!.buffer), Buffer.from(operations[i]!.buffer), `${what}: fused vs operations`);
        assert.deepEqual(Buffer.from(scalar[i]!.buffer), Buffer.from(fused[i]!.buffer), `${what}: JavaScript vs SIMD`);
      });
    });

    test(`x ${shape}: close to the cpu backend`, () => {
      const wasm = step('wasm', shape);
      const cpu = step('cpu', shape);
      tf.setBackend('wasm');
      NAMES.forEach((what, i) => {
        let diff = 0;
        let scale = 1e-6;
        for (let k = 0; k < cpu[i]!.length; k++) {
          diff = Math.max(diff, Math.abs(wasm[i]![k]! - cpu[i]![k]!));
          scale = Math.max(scale, Math.abs(cpu[i]![k]!));
        }
        assert.ok(diff <= 1e-4 * scale, `${what}: max |wasm - cpu| = ${diff} > 1e-4 x ${scale}`);
      });
    });
  }

  test('the same bytes step after step', () => {
    const a = step('wasm', [4, 6, 6, 16]);
    const b = step('wasm', [4, 6, 6, 16]);
    a.forEach((v, i) => assert.deepEqual(Buffer.from(v.buffer), Buffer.from(b[i]!.buffer), NAMES[i]));
  });

  test('training steps keep tensors, wasm data ids and heap size flat', () => {
    tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 3, padding: 'same', useBias: false }),
        new BatchNorm({ momentum: 0.1, epsilon: 1e-5 }),
        tf.layers.reLU(),
        tf.layers.flatten(),
        tf.layers.dense({ units: 6 }),
        new BatchNorm({ momentum: 0.1, epsilon: 1e-5 }),
        tf.layers.dense({ units: 4 }),
      ],
    });
    const x = tf.randomNormal([8, 8, 8, 3]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4).toFloat();
    assertTrainingLeaksNothing(model, x, y, 10);
    tf.dispose([x, y]);
    model.dispose();
  });
});
