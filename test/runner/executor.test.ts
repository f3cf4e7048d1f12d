// The stage executor in-process: tensor counts stay flat, and stored teacher logits train exactly like
// a live teacher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { selectBackend } from '../../src/engine/backend.js';
import { parseExperiment, datasetShape } from '../../src/config/load.js';
import { planExperiment } from '../../src/runner/plan.js';
import { registry } from '../../src/registry/index.js';
import { trainJob } from '../../src/runner/train.js';
import { evaluate, modelLogits } from '../../src/runner/evaluate.js';
import { execute } from '../../src/runner/run.js';
import { Store } from '../../src/store/store.js';
import type { KdxEvent } from '../../src/events.js';
import { tinyExperiment } from '../e2e/support.js';

test('a training loop keeps the tensor count flat: the same after epoch 1 and epoch 3', async () => {
  await selectBackend('wasm');
  const { experiment } = await parseExperiment('tiny.yaml', tinyExperiment({ epochs: 3 }));
  const [teacherJob] = planExperiment(experiment, 'wasm').jobs;
  const dataset = await registry.datasets.get('synthetic').load({ seed: 0, options: experiment.data.options, emit: () => {} });
  const counts: number[] = [];
  const result = await trainJob({
    job: teacherJob,
    dataset,
    inputShape: datasetShape(experiment).inputShape,
    backend: 'wasm',
    emit: () => {},
    onEpochEnd: async () => {
      counts.push(tf.memory().numTensors);
    },
  });
  result.model.dispose();
  assert.equal(counts.length, 3);
  assert.equal(counts[2], counts[0], `tensors after each epoch: ${counts.join(', ')}`);
});

test('stored teacher logits give the same training as computing them live', async () => {
  await selectBackend('wasm');
  const { experiment } = await parseExperiment('tiny.yaml', tinyExperiment({ epochs: 2 }));
  const histories: unknown[] = [];
  for (const liveTeacher of [true, false]) {
    const dir = mkdtempSync(join(tmpdir(), 'kdx-logits-'));
    try {
      const events: KdxEvent[] = [];
      const result = await execute({
        name: 'tiny',
        kind: 'run',
        trials: [{ id: '', params: {}, experiment }],
        store: new Store(join(dir, 'cache')),
        runDir: dir,
        backend: { name: 'wasm', label: 'wasm' },
        jobs: 1,
        emit: (e) => events.push(e),
        liveTeacher,
      });
      assert.equal(result.status, 'ok');
      const computedLogits = events.some((e) => e.type === 'task' && e.id.startsWith('teacher-logits'));
      assert.equal(computedLogits, !liveTeacher);
      const kdJob = (events.find((e) => e.type === 'job-start' && e.label === 'kd_student') as { job: string }).job;
      histories.push(events.filter((e) => e.type === 'epoch-end' && e.job === kdJob).map((e) => {
        const { loss, testLoss, testAccuracy } = e as Extract<KdxEvent, { type: 'epoch-end' }>;
        return { loss, testLoss, testAccuracy };
      }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.deepEqual(histories[1], histories[0]);
});

test('evaluation: mean cross-entropy and top-1 accuracy over the split', async () => {
  await selectBackend('wasm');
  // Zero weights: every logit 0, so the loss is ln(classes) for every image and argmax picks class 0.
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 4, kernelInitializer: 'zeros' })] });
  const labels = Uint8Array.from([0, 1, 2, 3, 0, 0, 1, 2, 3, 0]);
  const split = { images: new Uint8Array(labels.length * 4).fill(100), labels, count: labels.length };
  const progress: number[] = [];
  const { loss, accuracy } = await evaluate(modelLogits(model), split, [2, 2, 1], [], { batchSize: 3, onProgress: (batch, batches) => progress.push(batch, batches) });
  assert.ok(Math.abs(loss - Math.log(4)) < 1e-5, `loss ${loss}`);
  assert.equal(accuracy, 0.4);
  assert.deepEqual(progress, [1, 4, 2, 4, 3, 4, 4, 4], 'one progress call per batch of 3');
  model.dispose();
});

test('evaluation stops before the next batch once the signal aborts', async () => {
  await selectBackend('wasm');
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 4 })] });
  const labels = Uint8Array.from([0, 1, 2, 3, 0, 0, 1, 2, 3, 0]);
  const split = { images: new Uint8Array(labels.length * 4).fill(100), labels, count: labels.length };
  const controller = new AbortController();
  let seen = 0;
  class Stopped extends Error {}
  await assert.rejects(
    evaluate(modelLogits(model), split, [2, 2, 1], [], {
      batchSize: 2, signal: controller.signal, onAbort: () => new Stopped(),
      onProgress: (batch) => { seen = batch; if (batch === 2) controller.abort(); },
    }),
    Stopped,
  );
  assert.equal(seen, 2, 'no batch after the stop');
});
