import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KdxEvent } from '../../src/events.js';
import {
  currentEpoch, etaSeconds, initialState, jobCounts, jobTree, reduce, reduceAll, trialProgress, type RunView,
} from '../../src/tui/store.js';
import { T0, okRows, runFailed, runMidEpoch, summary, sweepHalf, sweepRow } from './fixtures.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Reduces with every intermediate state frozen: any mutation throws. */
function reduceFrozen(events: KdxEvent[]): RunView {
  let s = deepFreeze(initialState());
  for (const e of events) s = deepFreeze(reduce(s, deepFreeze(structuredClone(e))));
  return s;
}

test('the plan announces every job as waiting, in plan order, with its edges', () => {
  const [plan] = runMidEpoch();
  const s = reduce(initialState(), plan);
  assert.deepEqual(s.order, ['aaaaaaaaaaa1', 'bbbbbbbbbbb2', 'ccccccccccc3']);
  assert.equal(s.name, 'cifar10-kd');
  assert.equal(s.backend, 'wasm');
  assert.equal(s.startedAt, T0);
  assert.deepEqual(Object.values(s.jobs).map((j) => j.state), ['waiting', 'waiting', 'waiting']);
  assert.equal(s.jobs.ccccccccccc3.teacher, 'teacher');
  assert.deepEqual(s.jobs.ccccccccccc3.dependsOn, ['aaaaaaaaaaa1']);
});

test('reduce is pure: it never mutates the state or the event', () => {
  assert.doesNotThrow(() => reduceFrozen([...runMidEpoch(), ...runFailed(), ...sweepHalf()]));
  const before = reduceAll(runMidEpoch());
  const copy = structuredClone(before);
  reduce(before, { type: 'batch', time: T0 + 1e6, job: 'ccccccccccc3', epoch: 3, batch: 500, batches: 782, loss: 1, imgPerSec: 1 });
  assert.deepEqual(before, copy);
});

test('a running job mid-epoch: epoch, batch, loss, rate, history and ETA', () => {
  const s = reduceFrozen(runMidEpoch());
  const kd = s.jobs.ccccccccccc3;
  assert.equal(kd.state, 'running');
  assert.equal(kd.epoch, 3);
  assert.equal(currentEpoch(kd), 3);
  assert.equal(kd.batch, 451);
  assert.equal(kd.batches, 782);
  assert.equal(kd.loss, 1.234);
  assert.equal(kd.imgPerSec, 1234);
  assert.deepEqual(kd.history.map((h) => h.testAccuracy), [0.412, 0.487]);
  // 451 batches took 4.51 s: 331 left at 10 ms, then 7 epochs at the 10 s they have taken so far.
  assert.ok(Math.abs(etaSeconds(kd)! - (3.31 + 70)) < 1e-9);
  assert.equal(s.jobs.aaaaaaaaaaa1.state, 'cached');
  assert.equal(s.jobs.aaaaaaaaaaa1.summary?.finalAccuracy, 0.598);
  assert.equal(s.jobs.bbbbbbbbbbb2.state, 'waiting');
  assert.deepEqual(jobCounts(s), { waiting: 1, running: 1, cached: 1, done: 0, failed: 0, skipped: 0 });
});

test('between epochs the ETA counts only whole epochs', () => {
  const events = runMidEpoch();
  const s = reduceAll(events.slice(0, events.length - 2)); // right after epoch 2 ended
  const kd = s.jobs.ccccccccccc3;
  assert.equal(currentEpoch(kd), 3);
  assert.equal(etaSeconds(kd), 80);
  assert.equal(etaSeconds(s.jobs.aaaaaaaaaaa1), undefined);
});

test('tasks: progress, then a notice when done', () => {
  const s = reduceAll(runMidEpoch());
  assert.equal(s.tasks.dl.done, true);
  assert.equal(s.tasks.logits.done, false);
  assert.equal(s.tasks.logits.current, 300);
  assert.equal(s.tasks.logits.total, 782);
  assert.deepEqual(s.notices.map((n) => n.text), ['✓ downloading cifar10  12.0s']);
});

test('failures, warnings and the end of a run', () => {
  const s = reduceFrozen(runFailed());
  assert.equal(s.jobs.ccccccccccc3.state, 'failed');
  assert.equal(s.jobs.ccccccccccc3.error, 'out of memory');
  assert.equal(s.jobs.bbbbbbbbbbb2.state, 'done');
  assert.deepEqual(s.notices.map((n) => [n.level, n.text]), [
    ['warn', 'warning: wasm heap above 3 GB'],
    ['error', '✗ kd_student  failed: out of memory'],
  ]);
  assert.equal(s.end?.status, 'failed');
  assert.equal(s.end?.noticeCount, 2);
  assert.equal(s.end?.rows.length, 1);
});

test('skipped jobs keep their reason; events for unannounced jobs create them', () => {
  let s = reduceAll(runMidEpoch());
  s = reduce(s, { type: 'job-skipped', time: T0 + 1, job: 'bbbbbbbbbbb2', label: 'student', reason: 'teacher failed' });
  assert.equal(s.jobs.bbbbbbbbbbb2.state, 'skipped');
  assert.equal(s.jobs.bbbbbbbbbbb2.reason, 'teacher failed');
  s = reduce(s, { type: 'job-end', time: T0 + 2, job: 'zzz', label: 'extra', summary: summary('extra', 'student', 0.5, 0.5) });
  assert.equal(s.order.at(-1), 'zzz');
  assert.equal(s.jobs.zzz.state, 'done');
});

test('a sweep: trial rows accumulate (a repeated trial replaces its row)', () => {
  let s = reduceAll(sweepHalf());
  assert.deepEqual(trialProgress(s), { done: 2, total: 4 });
  assert.deepEqual(s.trialRows.map((r) => r.trial), ['tr-2-05', 'tr-2-09']);
  s = reduce(s, { type: 'trial-end', time: T0 + 1e7, trial: 'tr-2-05', params: { T: 2, alpha: 0.5 }, row: sweepRow(0) });
  assert.equal(s.trialRows.length, 2);
  assert.equal(trialProgress(reduceAll(runMidEpoch())), undefined);
  const resumed = s.jobs.kd00000000t3;
  assert.equal(resumed.startEpoch, 4);
  assert.equal(currentEpoch(resumed), 6);
});

test('the job tree hangs each KD job under its teacher', () => {
  const lines = jobTree(reduceAll(sweepHalf()));
  assert.deepEqual(lines.map((l) => [l.job.label, l.depth, l.last]), [
    ['teacher', 0, false],
    ['kd_student[T=2,alpha=0.5]', 1, false],
    ['kd_student[T=2,alpha=0.9]', 1, false],
    ['kd_student[T=4,alpha=0.5]', 1, false],
    ['kd_student[T=4,alpha=0.9]', 1, true],
    ['student', 0, true],
  ]);
});

test('a job with a teacher and another need lists the other one', () => {
  const s = reduce(initialState(), {
    type: 'plan', time: T0, name: 'x', runDir: 'r', backend: 'cpu', jobs: [
      { job: 't', label: 'teacher', stage: 'teacher', model: 'm', dependsOn: [], epochs: 1, cached: false },
      { job: 's', label: 'student', stage: 'student', model: 'm', dependsOn: [], epochs: 1, cached: false },
      { job: 'k', label: 'kd', stage: 'kd', model: 'm', teacher: 'teacher', dependsOn: ['s', 't'], epochs: 1, cached: false },
    ],
  });
  const kd = jobTree(s).find((l) => l.job.id === 'k')!;
  assert.equal(kd.depth, 1);
  assert.deepEqual(kd.alsoNeeds, ['student']);
});

test('run-end keeps the rows and the run directory', () => {
  let s = reduceAll(runMidEpoch());
  s = reduce(s, { type: 'run-end', time: T0 + 1e6, status: 'ok', runDir: 'runs/x', rows: okRows, seconds: 200 });
  assert.equal(s.end?.runDir, 'runs/x');
  assert.equal(s.runDir, 'runs/x');
  assert.equal(s.end?.seconds, 200);
});
