// Training on webgpu allocates nothing new after its first steps: over 200 steps through the stage
// executor (batchNorm, dropout, Adam), neither tfjs's tensors nor the GPU buffers grow. And a batch over the GPU's limit for one buffer stops before training, in one line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { tf } from '../../src/engine/tf.js';
import { registry } from '../../src/registry/index.js';
import type { ImageShape } from '../../src/registry/types.js';
import { planExperiment } from '../../src/runner/plan.js';
import { trainJob, TrainingError } from '../../src/runner/train.js';
import { noAdapter, useWebgpu } from './support.js';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'webgpu.yaml');
const inputShape: ImageShape = [8, 8, 3];
const skip = await noAdapter();

interface GpuMemory { tensors: number; bytesInGpu: number; bytesAllocated: number; buffers: number }

function gpuMemory(): GpuMemory {
  const backend = tf.findBackend('webgpu') as unknown as { bufferManager: { numBytesAllocated: number; getNumUsedBuffers(): number; getNumFreeBuffers(): number } };
  const memory = tf.memory() as { numTensors: number; numBytesInGPU?: number };
  const { bufferManager } = backend;
  return { tensors: memory.numTensors, bytesInGpu: memory.numBytesInGPU ?? 0, bytesAllocated: bufferManager.numBytesAllocated, buffers: bufferManager.getNumUsedBuffers() + bufferManager.getNumFreeBuffers() };
}

async function jobOf(stage: string, options: { train?: number; batchSize?: number }) {
  let text = readFileSync(fixture, 'utf8');
  if (options.train) text = text.replace('train: 8,', `train: ${options.train},`);
  if (options.batchSize) text = text.replace('batchSize: 8', `batchSize: ${options.batchSize}`);
  const { experiment } = await parseExperiment(fixture, text);
  const job = planExperiment(experiment, 'webgpu').jobs.find((j) => j.stage.name === stage)!;
  const dataset = await registry.datasets.get('synthetic').load({ seed: 0, options: experiment.data.options, emit: () => {} });
  return { job, dataset };
}

describe('webgpu memory', { skip }, () => {
  test('200 training steps grow no tensor and no GPU buffer', async () => {
    await useWebgpu();
    // One epoch of 200 batches of 8; the state at each batch event (one per step).
    const { job, dataset } = await jobOf('layers_adam', { train: 1600 });
    const seen: GpuMemory[] = [];
    const result = await trainJob({
      job, dataset, inputShape, backend: 'webgpu', batchEventInterval: 0,
      emit: (event) => void (event.type === 'batch' && seen.push(gpuMemory())),
    });
    result.model.dispose();
    assert.ok(seen.length >= 199, `${seen.length} batch events`);
    // Once the first steps have compiled their kernels and filled the buffer pool.
    const [warm, last] = [seen[4]!, seen.at(-1)!];
    assert.deepEqual(last, warm, `after step 5 ${JSON.stringify(warm)}, after step ${seen.length} ${JSON.stringify(last)}`);
  });

  test('a batch over the GPU\'s limit for one buffer is one line that says what to lower', async () => {
    await useWebgpu();
    // 8x8x8 floats per image after the first conv2d: 2 KiB; 600,000 images are over SwiftShader's 1 GiB.
    const { job, dataset } = await jobOf('layers_sgd', { batchSize: 600_000 });
    await assert.rejects(trainJob({ job, dataset, inputShape, backend: 'webgpu', emit: () => {} }), (error: Error) => {
      assert.ok(error instanceof TrainingError, String(error));
      assert.match(error.message, /^layers_sgd: a batch of 600000 needs \d+ MiB for the output of layer \S+ \(8x8x8 per image\), over this GPU's \d+ MiB per buffer: lower data.batchSize to at most \d+$/);
      return true;
    });
  });
});
