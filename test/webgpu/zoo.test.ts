// Every model of experiments/models/ builds on webgpu, runs forward and takes one SGD step to the logits,
// loss and weights the cpu backend gives, to 1e-4. The step runs batchNorm on its running statistics:
// with 16x16 images and batches of 2 (few shaders for SwiftShader to compile) the deep layers would
// normalise 1 to 8 values per channel, whose variance is so near zero that any two float32 backends
// disagree (wasm against cpu: up to 7e-3 of resnet32x4's first kernel; MobileNetV2's weights explode).
// The forward pass in training mode (batch statistics) is compared too, its loss to 1e-3 (wasm: 2.5e-4
// on MobileNetV2); batchNorm on batch statistics is held to 1e-4 on well-conditioned shapes in
// steps.test.ts.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadExperiment } from '../../src/config/load.js';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import { crossEntropy } from '../../src/plugins/losses.js';
import { registry } from '../../src/registry/index.js';
import { buildModel } from '../../src/registry/model.js';
import type { ModelNode } from '../../src/registry/types.js';
import { assertClose, noAdapter, useWebgpu } from './support.js';

const zoo = join(import.meta.dirname, '..', '..', 'experiments', 'models');
const skip = await noAdapter();

interface Stepped { logits: Float32Array; trainingLoss: number; loss: number; weights: Float32Array[] }

async function step(backend: 'cpu' | 'webgpu', name: string, layers: ModelNode[]): Promise<Stepped> {
  if (backend === 'webgpu') await useWebgpu();
  else await selectBackend('cpu');
  const before = tf.memory().numTensors;
  const { model } = buildModel(name, layers, [16, 16, 3], 0);
  const optimizer = registry.optimizers.get('sgd').create({ name: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1);
  const labels = tf.tensor1d([3, 7], 'int32');
  const logits = model.predict(x) as Tensor;
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.apply(x, { training: false }) as Tensor, labels).mean() as tf.Scalar, trainable);
    optimizer.applyGradients(grads);
    return value;
  });
  const weights = await Promise.all(model.weights.map(async (w) => Float32Array.from((await w.read().data()) as Float32Array)));
  // Last: it moves batchNorm's running statistics by the batch's (ill-conditioned) ones.
  const trainingLoss = tf.tidy(() => crossEntropy(model.apply(x, { training: true }) as Tensor, labels).mean());
  const result = {
    logits: Float32Array.from((await logits.data()) as Float32Array),
    trainingLoss: (await trainingLoss.data())[0]!,
    loss: (await loss.data())[0]!,
    weights,
  };
  tf.dispose([x, labels, logits, trainingLoss, loss]);
  optimizer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: ${name} left no tensors behind`);
  return result;
}

describe('every zoo model on webgpu matches the cpu backend: forward and one training step', { skip }, async () => {
  for (const file of readdirSync(zoo).filter((f) => f.endsWith('.yaml')).sort()) {
    const { experiment } = await loadExperiment(join(zoo, file));
    for (const [name, layers] of Object.entries(experiment.models)) {
      test(`${file}: ${name}`, async () => {
        const cpu = await step('cpu', name, layers);
        const gpu = await step('webgpu', name, layers);
        assertClose(gpu.logits, cpu.logits, 'logits');
        assertClose([gpu.trainingLoss], [cpu.trainingLoss], 'loss in training mode', 1e-3);
        assertClose([gpu.loss], [cpu.loss], 'loss');
        cpu.weights.forEach((w, i) => assertClose(gpu.weights[i]!, w, `weight ${i} of ${cpu.weights.length}`));
      });
    }
  }
});
