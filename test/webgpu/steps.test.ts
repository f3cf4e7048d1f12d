// One training step of every layer kind, loss and optimizer (test/fixtures/webgpu.yaml) gives on webgpu
// the weights the cpu backend gives, through the real stage executor (runner/train.ts): data stream,
// transforms, taps, live teacher, loss terms, regularization, optimizer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parseExperiment } from '../../src/config/load.js';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { registry } from '../../src/registry/index.js';
import { buildModel } from '../../src/registry/model.js';
import type { ImageShape, LoadedDataset } from '../../src/registry/types.js';
import { planExperiment, type Job } from '../../src/runner/plan.js';
import { teacherTapModel } from '../../src/runner/taps.js';
import { trainJob } from '../../src/runner/train.js';
import { assertClose, noAdapter, useWebgpu } from './support.js';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'webgpu.yaml');
const inputShape: ImageShape = [8, 8, 3];
const skip = await noAdapter();

interface Trained { weights: { name: string; values: Float32Array }[]; loss: number; testAccuracy: number }

async function trainOn(backend: 'cpu' | 'webgpu', job: Job, dataset: LoadedDataset): Promise<Trained> {
  if (backend === 'webgpu') await useWebgpu();
  else await selectBackend('cpu');
  const { experiment, stage } = job;
  const before = tf.memory().numTensors;
  const teacherModel = job.teachers ? buildModel('teacher', experiment.models.teacher!, inputShape, 3).model : undefined;
  const teacher = teacherModel ? { kind: 'live' as const, model: teacherTapModel(teacherModel, experiment, stage, inputShape) } : undefined;
  const result = await trainJob({ job, dataset, inputShape, backend, emit: () => {}, teacher });
  // Read asynchronously: webgpu's synchronous read needs a browser's OffscreenCanvas.
  const weights = await Promise.all(result.model.weights.map(async (w) => ({ name: w.name, values: Float32Array.from((await w.read().data()) as Float32Array) })));
  result.model.dispose();
  teacher?.model.dispose(); // and the teacher model, which teacherTapModel took
  assert.equal(tf.memory().numTensors, before, `${backend}: the job left no tensors behind`);
  const last = result.history.at(-1)!;
  return { weights, loss: last.loss, testAccuracy: last.testAccuracy };
}

describe('one training step on webgpu equals the cpu backend\'s', { skip }, () => {
  let jobs: Job[];
  let dataset: LoadedDataset;
  before(async () => {
    const { experiment } = await parseExperiment(fixture, readFileSync(fixture, 'utf8'));
    jobs = planExperiment(experiment, 'cpu').jobs;
    dataset = await registry.datasets.get('synthetic').load({ seed: 0, options: experiment.data.options, emit: () => {} });
  });

  const stages = ['teacher', 'layers_sgd', 'layers_adam', 'layers_adamw', 'kd', 'dkd', 'dist', 'features'];
  for (const name of stages) {
    test(name, async () => {
      const job = jobs.find((j) => j.stage.name === name)!;
      const cpu = await trainOn('cpu', job, dataset);
      const gpu = await trainOn('webgpu', job, dataset);
      assertClose([gpu.loss], [cpu.loss], 'training loss');
      // tfjs numbers a name again in each model it builds: `conv2d/kernel_3`.
      const names = (weights: Trained['weights']) => weights.map((w) => w.name.replace(/_\d+$/, ''));
      assert.deepEqual(names(gpu.weights), names(cpu.weights));
      cpu.weights.forEach((w, i) => assertClose(gpu.weights[i]!.values, w.values, w.name));
    });
  }
});
