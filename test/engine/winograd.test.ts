// The Winograd convolutions and gradients of stride-1 3x3 layers on wasm (src/engine/winograd.ts) against the
// cpu backend: y, dx and dW of tf.conv2d through the registered kernels, every scheme; tfjs-layers' Conv2D
// (FusedConv2D: bias, relu); odd and even sizes, 'same', 'valid' and explicit padding, channels that are not
// multiples of 4 or 8, batch 1 and more; the kernels called directly where the kernel choice keeps the direct
// path (3 input channels); byte reproducibility; no growth of tensors, data ids or the heap over training steps.
//
// Tolerance: max |wasm - cpu| <= 1e-4 x max |cpu|. Measured: F(2,3)/F(3,2) ~5e-7 (as the direct kernels);
// F(4,3)/F(3,4), whose transforms have constants up to 8 and 1/24, ~1e-5 at 64-128 channels.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import {
  WINOGRAD_SCHEMES, setWinogradEnabled, setWinogradSchemes, winogradConv3x3, winogradFilterGrad3x3, winogradModuleBytes, winogradPays,
} from '../../src/engine/winograd.js';
import { assertTrainingLeaksNothing } from './leaks.js';

const RTOL = 1e-4;
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(Number.isFinite(diff), 'non-finite values');
  return diff / Math.max(scale, 1e-30);
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const err = maxRelativeError(actual, expected);
  assert.ok(err <= RTOL, `${what}: max |wasm - cpu| / max |cpu| = ${err} > ${RTOL}`);
}

function randomData(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array).slice();
}

function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor[]): Float32Array[] {
  assert.ok(tf.setBackend(backend));
  return tf.tidy(() => f().map((t) => t.dataSync() as Float32Array)).map((a) => Float32Array.from(a));
}

before(async () => {
  assert.equal((await selectBackend('wasm')).name, 'wasm');
});
after(() => setWinogradSchemes(WINOGRAD_SCHEMES.F43, WINOGRAD_SCHEMES.F34));

test('each scheme computes the correlation it stands for (exact in doubles)', () => {
  for (const f of Object.values(WINOGRAD_SCHEMES)) {
    const n = f.m + f.r - 1;
    const d = Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 3);
    const h = Array.from({ length: f.r }, (_, i) => Math.cos(i + 2) * 2);
    const gh = f.G.map((row) => row.reduce((s, g, i) => s + g * h[i]!, 0));
    const bd = f.BT.map((row) => row.reduce((s, b, i) => s + b * d[i]!, 0));
    for (let k = 0; k < f.m; k++) {
      const winograd = f.AT[k]!.reduce((s, a, j) => s + a * gh[j]! * bd[j]!, 0);
      const direct = h.reduce((s, hi, i) => s + d[k + i]! * hi, 0);
      assert.ok(Math.abs(winograd - direct) < 1e-12, `${f.name} y[${k}]: ${winograd} != ${direct}`);
    }
  }
});

test('the transform module is valid WebAssembly here (so the cases below ran it)', () => {
  assert.ok(WebAssembly.validate(winogradModuleBytes()));
  assert.ok(winogradPays(16, 16));
  assert.ok(!winogradPays(3, 64), 'the first layer keeps the direct kernels');
});

interface Case { batch: number; h: number; w: number; ci: number; co: number; pad: Pad }
const cases: Case[] = [
  { batch: 2, h: 8, w: 8, ci: 16, co: 16, pad: 'same' },
  { batch: 1, h: 7, w: 9, ci: 17, co: 20, pad: 'same' }, // odd sizes, channels not by 4 / 8
  { batch: 3, h: 9, w: 6, ci: 24, co: 18, pad: 'valid' },
  { batch: 1, h: 5, w: 5, ci: 16, co: 16, pad: 'valid' }, // a single 3x3 output: one partial tile
  { batch: 2, h: 10, w: 7, ci: 20, co: 16, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { batch: 2, h: 13, w: 11, ci: 64, co: 48, pad: 'same' },
  { batch: 4, h: 16, w: 16, ci: 32, co: 32, pad: 'same' }, // several passes of whole images
];

/** y, dx and dW of tf.conv2d (stride 1, 3x3) on wasm and on cpu. */
function convGrads(c: Case): { wasm: Float32Array[]; cpu: Float32Array[] } {
  const xShape = [c.batch, c.h, c.w, c.ci] as [number, number, number, number];
  const fShape = [3, 3, c.ci, c.co] as [number, number, number, number];
  const xv = randomData(xShape, 11);
  const fv = randomData(fShape, 12);
  const grads = (): tf.Tensor[] => {
    const x = tf.tensor4d(xv, xShape);
    const f = tf.tensor4d(fv, fShape);
    const y = tf.conv2d(x, f, 1, c.pad);
    const w = tf.randomUniform(y.shape, -1, 1, 'float32', 13);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.pad).mul(w).sum());
    return [y, ...g([x, f])];
  };
  return { cpu: on('cpu', grads), wasm: on('wasm', grads) };
}

for (const [conv, filterGrad] of [[WINOGRAD_SCHEMES.F43, WINOGRAD_SCHEMES.F34], [WINOGRAD_SCHEMES.F23, WINOGRAD_SCHEMES.F32]] as const) {
  describe(`y and dx by ${conv.name}, dW by ${filterGrad.name} equal the cpu backend`, () => {
    before(() => setWinogradSchemes(conv, filterGrad));
    for (const c of cases) {
      test(`x ${c.batch}x${c.h}x${c.w}x${c.ci}, ${c.co} filters, pad ${JSON.stringify(c.pad)}`, () => {
        const { wasm, cpu } = convGrads(c);
        assertClose(wasm[0]!, cpu[0]!, 'y');
        assertClose(wasm[1]!, cpu[1]!, 'dx');
        assertClose(wasm[2]!, cpu[2]!, 'dW');
      });
    }
  });
}

describe('FusedConv2D (tfjs-layers Conv2D) by Winograd, bias and activation in the output transform, equals the cpu backend', () => {
  before(() => setWinogradSchemes(WINOGRAD_SCHEMES.F43, WINOGRAD_SCHEMES.F34));
  const layerCases = [
    { activation: 'relu', useBias: true, h: 9, w: 10, ci: 16, co: 20, padding: 'same' },
    { activation: 'linear', useBias: true, h: 8, w: 7, ci: 18, co: 16, padding: 'valid' },
    { activation: 'relu', useBias: false, h: 7, w: 7, ci: 16, co: 24, padding: 'same' },
    { activation: 'linear', useBias: false, h: 6, w: 9, ci: 20, co: 16, padding: 'same' },
    { activation: 'elu', useBias: true, h: 6, w: 6, ci: 16, co: 16, padding: 'same' }, // not fused here: XNNPACK
  ] as const;
  for (const c of layerCases) {
    test(`${c.activation}, ${c.useBias ? 'bias' : 'no bias'}, x 3x${c.h}x${c.w}x${c.ci}, ${c.co} filters, ${c.padding}`, () => {
      const xShape = [3, c.h, c.w, c.ci] as [number, number, number, number];
      const xv = randomData(xShape, 41);
      const kv = randomData([3, 3, c.ci, c.co], 42);
      const bv = randomData([c.co], 43);
      const grads = (): tf.Tensor[] => {
        const layer = tf.layers.conv2d({ filters: c.co, kernelSize: 3, padding: c.padding, useBias: c.useBias, activation: c.activation });
        const x = tf.tensor4d(xv, xShape);
        layer.build(xShape);
        layer.setWeights(c.useBias ? [tf.tensor4d(kv, [3, 3, c.ci, c.co]), tf.tensor1d(bv)] : [tf.tensor4d(kv, [3, 3, c.ci, c.co])]);
        const y = layer.apply(x) as tf.Tensor;
        const w = tf.randomUniform(y.shape, -1, 1, 'float32', 44);
        const loss = (input: tf.Tensor): tf.Scalar => (layer.apply(input) as tf.Tensor).mul(w).sum();
        const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const { grads: g } = tf.variableGrads(() => loss(x), vars);
        const out = [y, tf.grad(loss)(x), ...vars.map((v) => g[v.name]!)];
        for (const v of layer.weights) v.dispose();
        return out;
      };
      const expected = on('cpu', grads);
      const actual = on('wasm', grads);
      for (const [i, what] of ['y', 'dx', 'dkernel', 'dbias'].slice(0, expected.length).entries()) assertClose(actual[i]!, expected[i]!, what);
    });
  }
});

test('Winograd changes y and the gradients in the last bits only, against the direct kernels', () => {
  const c = cases[5]!;
  const winograd = convGrads(c).wasm;
  setWinogradEnabled(false);
  let direct: Float32Array[];
  try {
    direct = convGrads(c).wasm;
  } finally {
    setWinogradEnabled(true);
  }
  assert.ok(maxRelativeError(winograd[0]!, direct[0]!) > 0, 'y did not go through Winograd');
  assert.ok(maxRelativeError(winograd[1]!, direct[1]!) > 0, 'dx did not go through Winograd');
  assert.ok(maxRelativeError(winograd[2]!, direct[2]!) > 0, 'dW did not go through Winograd');
  assertClose(winograd[0]!, direct[0]!, 'y');
  assertClose(winograd[1]!, direct[1]!, 'dx');
  assertClose(winograd[2]!, direct[2]!, 'dW');
});

describe('the kernels called directly, 3 input channels (the first layer, which the kernel choice keeps direct)', () => {
  const backend = (): BackendWasm => tf.backend() as unknown as BackendWasm;
  const wrap = (t: tf.TensorInfo | null): tf.Tensor => {
    assert.ok(t != null, 'the Winograd kernel declined');
    return tf.engine().makeTensorFromTensorInfo(t);
  };
  for (const [batch, h, w, pad] of [[2, 7, 8, 'same'], [1, 6, 9, 'valid']] as const) {
    test(`x ${batch}x${h}x${w}x3, 16 filters, ${pad}`, () => {
      const xShape = [batch, h, w, 3] as [number, number, number, number];
      const fShape = [3, 3, 3, 16] as [number, number, number, number];
      const xv = randomData(xShape, 21);
      const fv = randomData(fShape, 22);
      const p = pad === 'same' ? 1 : 0;
      const oh = pad === 'same' ? h : h - 2;
      const ow = pad === 'same' ? w : w - 2;
      const dyv = randomData([batch, oh, ow, 16], 23);
      const expected = on('cpu', () => {
        const x = tf.tensor4d(xv, xShape);
        const f = tf.tensor4d(fv, fShape);
        const dy = tf.tensor4d(dyv, [batch, oh, ow, 16]);
        return [tf.conv2d(x, f, 1, pad), tf.conv2dTranspose(dy, f, xShape, 1, pad), tf.grad((ff: tf.Tensor) => tf.conv2d(x, ff as tf.Tensor4D, 1, pad).mul(dy).sum())(f)];
      });
      const actual = on('wasm', () => {
        const x = tf.tensor4d(xv, xShape);
        const f = tf.tensor4d(fv, fShape);
        const dy = tf.tensor4d(dyv, [batch, oh, ow, 16]);
        // kdx's BatchMatMul: a single untransposed product goes straight to tfjs-wasm's, on XNNPACK.
        const matMul = (a: tf.TensorInfo, b: tf.TensorInfo) => tf.getKernel(tf.BatchMatMul, 'wasm')!.kernelFunc({
          inputs: { a, b }, backend: backend(), attrs: { transposeA: false, transposeB: false },
        }) as tf.TensorInfo;
        const y = wrap(winogradConv3x3(backend(), x, f, { padTop: p, padLeft: p, outH: oh, outW: ow, rotate: false }, matMul));
        const fT = f.transpose([0, 1, 3, 2]);
        const dx = wrap(winogradConv3x3(backend(), dy, fT, { padTop: 2 - p, padLeft: 2 - p, outH: h, outW: w, rotate: true }, matMul));
        const dw = wrap(winogradFilterGrad3x3(backend(), x, dy, p, p));
        return [y, dx, dw];
      });
      assertClose(actual[0]!, expected[0]!, 'y (3 input channels, padded to 4)');
      assertClose(actual[1]!, expected[1]!, 'dx (3 output channels, padded to 4)');
      assertClose(actual[2]!, expected[2]!, 'dW (3 input channels, padded to 4)');
    });
  }
});

test('the same inputs give the same bytes, call after call', () => {
  tf.setBackend('wasm');
  const x = tf.tensor4d(randomData([3, 14, 14, 24], 31), [3, 14, 14, 24]);
  const f = tf.tensor4d(randomData([3, 3, 24, 40], 32), [3, 3, 24, 40]);
  const dy = tf.tensor4d(randomData([3, 14, 14, 40], 33), [3, 14, 14, 40]);
  const grads = () => tf.tidy(() => {
    const dx = tf.conv2dTranspose(dy, f, x.shape, 1, 'same');
    const dw = tf.grad((ff: tf.Tensor) => tf.conv2d(x, ff as tf.Tensor4D, 1, 'same').mul(dy).sum())(f);
    return Buffer.concat([Buffer.from(dx.dataSync().buffer), Buffer.from(dw.dataSync().buffer)]);
  });
  assert.ok(grads().equals(grads()));
  tf.dispose([x, f, dy]);
});

test('training steps keep tensors, wasm data ids and heap size flat', () => {
  tf.setBackend('wasm');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: 24, kernelSize: 3, padding: 'same', activation: 'relu' }), // Winograd dx and dW
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 20, kernelSize: 3, padding: 'valid' }), // odd output, padded channels
      tf.layers.flatten(),
      tf.layers.dense({ units: 4 }),
    ],
  });
  const x = tf.randomNormal([6, 16, 16, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4).toFloat();
  assertTrainingLeaksNothing(model, x, y, 10);
  tf.dispose([x, y]);
  model.dispose();
});
