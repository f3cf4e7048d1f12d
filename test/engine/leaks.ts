// Shared by the wasm kernel tests: train a model for some steps and check that nothing kdx's kernels
// allocate is left behind (tensors, wasm data ids, heap size).
import assert from 'node:assert/strict';
import { tf } from '../../src/engine/tf.js';

/** Adam steps of softmax cross-entropy on (x, y): 3 to warm up (optimizer slots, XNNPACK operators),
 * then `steps` that must leave tensors, the backend's data ids and the wasm heap as they were. */
export function assertTrainingLeaksNothing(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, steps: number): void {
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = (): void => {
    const { value, grads } = tf.variableGrads(
      () => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar), vars);
    opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
    value.dataSync();
    tf.dispose([value, grads]);
  };
  for (let i = 0; i < 3; i++) step();
  const backend = tf.findBackend('wasm') as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
  const tensors0 = tf.memory().numTensors;
  const ids0 = backend.numDataIds();
  const heap0 = backend.wasm.HEAPU8.byteLength;
  for (let i = 0; i < steps; i++) step();
  assert.equal(tf.memory().numTensors, tensors0, 'tensors');
  assert.equal(backend.numDataIds(), ids0, 'wasm data ids');
  assert.equal(backend.wasm.HEAPU8.byteLength, heap0, 'wasm heap grew');
  opt.dispose();
}
