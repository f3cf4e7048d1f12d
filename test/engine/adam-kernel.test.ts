// The fused Adam / AdamW update on wasm (engine/adam-kernel.ts), SIMD or not, gives the same bytes as the
// elementwise operations it replaces (plugins/optimizers.ts TorchAdam), weights and moments, over several
// steps, with and without weight decay, and with changing learning rates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { ADAM_UPDATE, adamUpdateKernel, hasAdamUpdate } from '../../src/engine/adam-kernel.js';
import { setSimdKernelsEnabled } from '../../src/engine/wasm-asm.js';
import { adamOptimizer, adamwOptimizer } from '../../src/plugins/optimizers.js';
import type { OptimizerFactory } from '../../src/registry/types.js';

let runs = 0;

/** Weights and optimizer state after 6 steps of `factory` on seeded gradients, as bytes. */
async function train(factory: OptimizerFactory, weightDecay: number, fused: boolean): Promise<Buffer[]> {
  if (!fused) tf.unregisterKernel(ADAM_UPDATE, 'wasm');
  try {
    assert.equal(hasAdamUpdate(), fused);
    const w = tf.variable(tf.randomNormal([37, 29], 0, 1, 'float32', 7), true, `adam-kernel-test-${runs++}`);
    const optimizer = factory.create({ name: 'adam', lr: 3e-3, ...factory.defaults, weightDecay });
    for (let step = 0; step < 6; step++) {
      optimizer.setLearningRate(3e-3 * (1 - step / 10));
      // Gradients of mixed sizes, with zeros (v stays 0 there: the eps branch).
      const g = tf.tidy(() => tf.mul(tf.randomNormal([37, 29], 0, 10 ** (step % 3 - 2), 'float32', 100 + step), tf.randomUniform([37, 29], 0, 1, 'float32', 200 + step).greater(0.1).toFloat()));
      optimizer.applyGradients({ [w.name]: g });
      g.dispose();
    }
    const state = await optimizer.getWeights();
    const bytes = [Buffer.from((w.dataSync() as Float32Array).buffer), ...state.map((s) => Buffer.from(s.tensor.dataSync().buffer))];
    tf.dispose([w, ...state.map((s) => s.tensor)]);
    optimizer.dispose();
    return bytes;
  } finally {
    if (!fused) tf.registerKernel(adamUpdateKernel);
  }
}

test('the fused Adam and AdamW update gives the bytes of the operations it replaces', async () => {
  await selectBackend('wasm');
  assert.ok(hasAdamUpdate(), 'registered with kdx\'s wasm kernels');
  const cases: [string, OptimizerFactory, number][] = [['adamw', adamwOptimizer, 0.01], ['adam, L2', adamOptimizer, 0.05], ['adam', adamOptimizer, 0]];
  for (const [name, factory, weightDecay] of cases) {
    const fused = await train(factory, weightDecay, true);
    const ops = await train(factory, weightDecay, false);
    setSimdKernelsEnabled(false); // engines without WebAssembly SIMD: the JavaScript loop throughout
    const scalar = await train(factory, weightDecay, true).finally(() => setSimdKernelsEnabled(true));
    assert.equal(fused.length, ops.length);
    fused.forEach((bytes, i) => assert.ok(bytes.equals(ops[i]), `${name}: tensor ${i} differs`));
    scalar.forEach((bytes, i) => assert.ok(bytes.equals(ops[i]), `${name}: tensor ${i} differs without SIMD`));
    assert.ok(!fused[0].equals(Buffer.from(tf.randomNormal([37, 29], 0, 1, 'float32', 7).dataSync().buffer)), `${name}: the weights moved`);
  }
});
