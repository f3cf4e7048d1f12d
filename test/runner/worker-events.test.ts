import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KdxEvent } from '../../src/events.js';
import { fromWorker } from '../../src/runner/worker.js';

test('a worker\'s tasks get ids of their own; its other events pass unchanged', () => {
  const task: KdxEvent = { type: 'task', time: 1, id: 'load:synthetic', label: 'generating synthetic data', current: 0, total: 1 };
  const a = fromWorker(task, 'job-a');
  const b = fromWorker(task, 'job-b');
  assert.ok(a.type === 'task' && b.type === 'task');
  assert.notEqual(a.id, b.id, 'two workers loading the same data are two tasks');
  assert.equal(a.label, task.label);
  const batch: KdxEvent = { type: 'batch', time: 1, job: 'job-a', epoch: 1, batch: 1, batches: 2, loss: 1, imgPerSec: 1 };
  assert.equal(fromWorker(batch, 'job-a'), batch);
});
