// Recorded-style event sequences for the reporter and TUI tests. Times advance by fixed steps, so every
// derived number (elapsed, ETA, img/s) is exact.
import type { JobSummary, KdxEvent, PlanJob, ResultRow } from '../../src/events.js';

export const T0 = 1_700_000_000_000;

export function summary(stage: string, model: string, final: number, best: number, extra: Partial<JobSummary> = {}): JobSummary {
  return {
    stage, model, params: model === 'teacher' ? 2_473_610 : 61_706, epochs: 10, finalAccuracy: final, bestAccuracy: best,
    finalLoss: 0.9, seconds: 45.6, imgPerSec: 1234, backend: 'wasm', ...extra,
  };
}

const planJobs: PlanJob[] = [
  { job: 'aaaaaaaaaaa1', label: 'teacher', stage: 'teacher', model: 'teacher', dependsOn: [], epochs: 10, cached: true },
  { job: 'bbbbbbbbbbb2', label: 'student', stage: 'student', model: 'student', dependsOn: [], epochs: 10, cached: false },
  {
    job: 'ccccccccccc3', label: 'kd_student', stage: 'kd_student', model: 'student', teacher: 'teacher',
    dependsOn: ['aaaaaaaaaaa1'], epochs: 10, cached: false,
  },
];

/** Training `job` through `epochs` full epochs (each 10 s, 782 batches, batches reported every 100). */
function epochs(job: string, from: number, to: number, t: { now: number }, accs: number[]): KdxEvent[] {
  const out: KdxEvent[] = [];
  for (let e = from; e <= to; e++) {
    out.push({ type: 'epoch-start', time: t.now, job, epoch: e, epochs: 10, batches: 782 });
    for (let b = 100; b <= 700; b += 100) {
      out.push({ type: 'batch', time: t.now + b * 12.5, job, epoch: e, batch: b, batches: 782, loss: 2 - e * 0.1, imgPerSec: 1000 + e });
    }
    t.now += 10_000;
    out.push({
      type: 'epoch-end', time: t.now, job, epoch: e, epochs: 10, loss: 2 - e * 0.1, testLoss: 1.9 - e * 0.1,
      testAccuracy: accs[e - from], imgPerSec: 1000 + e, seconds: 10,
    });
  }
  return out;
}

/** A run: teacher cached, student waiting, kd_student in epoch 3 at batch 451/782, teacher logits being computed. */
export function runMidEpoch(): KdxEvent[] {
  const t = { now: T0 };
  const events: KdxEvent[] = [
    { type: 'plan', time: t.now, name: 'cifar10-kd', runDir: 'runs/cifar10-kd/2024-01-01T00-00-00', backend: 'wasm', jobs: planJobs },
    { type: 'task', time: t.now, id: 'dl', label: 'downloading cifar10', current: 0, total: 170, unit: 'MB' },
    { type: 'task', time: t.now + 6000, id: 'dl', label: 'downloading cifar10', current: 85, total: 170, unit: 'MB' },
    { type: 'task', time: t.now + 12_000, id: 'dl', label: 'downloading cifar10', current: 170, total: 170, unit: 'MB', done: true },
    { type: 'job-cached', time: t.now + 12_000, job: 'aaaaaaaaaaa1', label: 'teacher', summary: summary('teacher', 'teacher', 0.598, 0.601) },
    { type: 'task', time: t.now + 12_000, id: 'logits', label: 'computing teacher logits', current: 300, total: 782, unit: 'batches' },
  ];
  t.now += 20_000;
  events.push({ type: 'job-start', time: t.now, job: 'ccccccccccc3', label: 'kd_student', epochs: 10, startEpoch: 0, batchesPerEpoch: 782 });
  events.push(...epochs('ccccccccccc3', 1, 2, t, [0.412, 0.487]));
  events.push({ type: 'epoch-start', time: t.now, job: 'ccccccccccc3', epoch: 3, epochs: 10, batches: 782 });
  events.push({ type: 'batch', time: t.now + 4510, job: 'ccccccccccc3', epoch: 3, batch: 451, batches: 782, loss: 1.234, imgPerSec: 1234 });
  return events;
}

export const failedRows: ResultRow[] = [{
  params: { T: 4, alpha: 0.7 },
  stages: {
    teacher: { ...summary('teacher', 'teacher', 0.598, 0.601), job: 'aaaaaaaaaaa1', status: 'cached' },
    student: { ...summary('student', 'student', 0.521, 0.53, { seconds: 30.2 }), job: 'bbbbbbbbbbb2', status: 'done' },
    kd_student: { job: 'ccccccccccc3', status: 'failed', error: 'out of memory' },
  },
}];

/** A run where the teacher is cached, the student trains, and kd_student fails in its first epoch. */
export function runFailed(): KdxEvent[] {
  const t = { now: T0 };
  const events: KdxEvent[] = [
    { type: 'plan', time: t.now, name: 'cifar10-kd', runDir: 'runs/cifar10-kd/1', backend: 'wasm', jobs: planJobs },
    { type: 'job-cached', time: t.now, job: 'aaaaaaaaaaa1', label: 'teacher', summary: summary('teacher', 'teacher', 0.598, 0.601) },
    { type: 'job-start', time: t.now, job: 'bbbbbbbbbbb2', label: 'student', epochs: 10, startEpoch: 0, batchesPerEpoch: 782 },
  ];
  events.push(...epochs('bbbbbbbbbbb2', 1, 1, t, [0.41]));
  events.push(
    { type: 'job-end', time: t.now, job: 'bbbbbbbbbbb2', label: 'student', summary: summary('student', 'student', 0.521, 0.53, { seconds: 30.2 }) },
    { type: 'job-start', time: t.now, job: 'ccccccccccc3', label: 'kd_student', epochs: 10, startEpoch: 0, batchesPerEpoch: 782 },
    { type: 'epoch-start', time: t.now, job: 'ccccccccccc3', epoch: 1, epochs: 10, batches: 782 },
    { type: 'log', time: t.now + 500, level: 'warn', message: 'wasm heap above 3 GB' },
    { type: 'job-failed', time: t.now + 1000, job: 'ccccccccccc3', label: 'kd_student', error: 'out of memory' },
    { type: 'run-end', time: t.now + 1000, status: 'failed', runDir: 'runs/cifar10-kd/1', rows: failedRows, seconds: 11 },
  );
  return events;
}

export const okRows: ResultRow[] = [{
  params: { T: 4, alpha: 0.7 },
  stages: {
    teacher: { ...summary('teacher', 'teacher', 0.598, 0.601), job: 'aaaaaaaaaaa1', status: 'cached' },
    student: { ...summary('student', 'student', 0.521, 0.53, { seconds: 30.2, imgPerSec: 3456.7 }), job: 'bbbbbbbbbbb2', status: 'done' },
    kd_student: { ...summary('kd_student', 'student', 0.563, 0.57, { seconds: 125, imgPerSec: 987.6 }), job: 'ccccccccccc3', status: 'done' },
  },
  kdGains: { kd_student: 0.042 },
}];

/** okRows with the test metrics KD papers report, as a run measures them. */
export const paperRows: ResultRow[] = okRows.map((row) => ({
  ...row,
  stages: Object.fromEntries(Object.entries(row.stages).map(([stage, entry]) => [
    stage,
    { ...entry, top5Accuracy: 0.95, ece: 0.041, ...(stage === 'kd_student' ? { teacherAgreement: 0.81, teacherKL: 0.213 } : {}) },
  ])),
}));

/** A sweep of T x alpha (4 trials): teacher and student once, two KD trials done, a third running. */
export const sweepTrials = [
  { trial: 'tr-2-05', params: { T: 2, alpha: 0.5 }, kd: 'kd00000000t1', acc: 0.55 },
  { trial: 'tr-2-09', params: { T: 2, alpha: 0.9 }, kd: 'kd00000000t2', acc: 0.571 },
  { trial: 'tr-4-05', params: { T: 4, alpha: 0.5 }, kd: 'kd00000000t3', acc: 0 },
  { trial: 'tr-4-09', params: { T: 4, alpha: 0.9 }, kd: 'kd00000000t4', acc: 0 },
];

export function sweepRow(i: number): ResultRow {
  const tr = sweepTrials[i];
  return {
    trial: tr.trial, params: tr.params,
    stages: {
      teacher: { ...summary('teacher', 'teacher', 0.598, 0.601), job: 'aaaaaaaaaaa1', status: 'done' },
      student: { ...summary('student', 'student', 0.521, 0.53), job: 'bbbbbbbbbbb2', status: 'done' },
      kd_student: { ...summary('kd_student', 'student', tr.acc, tr.acc + 0.004), job: tr.kd, status: 'done' },
    },
    kdGains: { kd_student: tr.acc - 0.521 },
  };
}

export function sweepHalf(): KdxEvent[] {
  const t = { now: T0 };
  const jobs: PlanJob[] = [
    { ...planJobs[0], cached: false },
    planJobs[1],
    ...sweepTrials.map((tr): PlanJob => ({
      job: tr.kd, label: `kd_student[T=${tr.params.T},alpha=${tr.params.alpha}]`, stage: 'kd_student', model: 'student',
      teacher: 'teacher', dependsOn: ['aaaaaaaaaaa1'], epochs: 10, cached: false,
    })),
  ];
  const events: KdxEvent[] = [{
    type: 'plan', time: t.now, name: 'cifar10-kd', runDir: 'runs/cifar10-kd/sweep-1', backend: 'wasm', jobs,
    trials: sweepTrials.map((tr) => ({ trial: tr.trial, params: tr.params, jobs: { teacher: 'aaaaaaaaaaa1', student: 'bbbbbbbbbbb2', kd_student: tr.kd } })),
  }];
  for (const [id, label, acc] of [['aaaaaaaaaaa1', 'teacher', 0.598], ['bbbbbbbbbbb2', 'student', 0.521]] as const) {
    events.push({ type: 'job-start', time: t.now, job: id, label, epochs: 10, startEpoch: 0, batchesPerEpoch: 782 });
    t.now += 45_600;
    events.push({ type: 'job-end', time: t.now, job: id, label, summary: summary(label, label === 'teacher' ? 'teacher' : 'student', acc, acc + 0.003) });
  }
  for (const i of [0, 1]) {
    const tr = sweepTrials[i];
    const label = jobs[2 + i].label;
    events.push({ type: 'job-start', time: t.now, job: tr.kd, label, epochs: 10, startEpoch: 0, batchesPerEpoch: 782 });
    t.now += 45_600;
    events.push({ type: 'job-end', time: t.now, job: tr.kd, label, summary: summary('kd_student', 'student', tr.acc, tr.acc + 0.004) });
    events.push({ type: 'trial-end', time: t.now, trial: tr.trial, params: tr.params, row: sweepRow(i) });
  }
  events.push({ type: 'job-start', time: t.now, job: 'kd00000000t3', label: jobs[4].label, epochs: 10, startEpoch: 4, batchesPerEpoch: 782 });
  events.push(...epochs('kd00000000t3', 5, 5, t, [0.5]));
  events.push({ type: 'epoch-start', time: t.now, job: 'kd00000000t3', epoch: 6, epochs: 10, batches: 782 });
  events.push({ type: 'batch', time: t.now + 2000, job: 'kd00000000t3', epoch: 6, batch: 200, batches: 782, loss: 1.5, imgPerSec: 1100 });
  return events;
}
