// Threads per job and jobs at once (runner/threads.ts), how a batch is cut into shards, and what the thread count does to
// the plan: part of the job keys, except where one thread trains anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { planExperiment } from '../../src/runner/plan.js';
import { shardOf } from '../../src/runner/replica-memory.js';
import { batchMacs } from '../../src/runner/batch-cost.js';
import { possibleThreadCounts, resolveThreads } from '../../src/runner/threads.js';
import { planTrials } from '../../src/runner/run.js';
import { formatPlan } from '../../src/commands/plan.js';
import { reachableKeys } from '../../src/commands/cache.js';
import { schedule } from '../../src/runner/scheduler.js';
import type { Job } from '../../src/runner/plan.js';
import type { JobOutcome } from '../../src/runner/job.js';
import { jobRequest } from '../../src/runner/job-request.js';
import { reloadJob } from '../../src/runner/reload-job.js';

const fixture = fileURLToPath(new URL('../fixtures/threads.yaml', import.meta.url));

test('auto is every core, whatever --jobs; tensorflow always trains on one thread', () => {
  const base = { requested: 'auto' as const, source: '--threads', backend: 'wasm' };
  assert.deepEqual(resolveThreads({ ...base, cores: 2 }), { count: 2, auto: true });
  assert.deepEqual(resolveThreads({ ...base, cores: 8 }), { count: 8, auto: true });
  assert.deepEqual(resolveThreads({ ...base, cores: 1 }), { count: 1, auto: false });
  assert.deepEqual(resolveThreads({ ...base, cores: 16, backend: 'tensorflow (no GPU found: CPU)' }), { count: 1, auto: false });
  assert.deepEqual(resolveThreads({ ...base, requested: 4, cores: 16, backend: 'tensorflow (GPU)' }), { count: 1, auto: false });
  assert.deepEqual(resolveThreads({ ...base, requested: 2, cores: 2 }), { count: 2, auto: false });
});

test('an explicit thread count above the cores is refused, not lowered: exit 2, with where it was set', () => {
  assert.throws(() => resolveThreads({ requested: 3, source: '--threads', backend: 'wasm', cores: 2 }), (error: Error) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, '--threads 3: more threads than this machine\'s 2 cores: use at most 2, or auto');
    return true;
  });
  assert.throws(() => resolveThreads({ requested: 3, source: 'runtime.threads in x.yaml', backend: 'cpu', cores: 2 }), {
    message: 'runtime.threads in x.yaml 3: more threads than this machine\'s 2 cores: use at most 2, or auto',
  });
});

test('the scheduler shares the cores: a job takes its threads, --jobs caps the jobs, one job always runs', async () => {
  // Five independent jobs: two of 2 threads, three of 1, on 2 cores with --jobs 2.
  const jobs = [2, 1, 1, 2, 1].map((threads, i) => ({ id: `j${i}`, label: `j${i}`, threads, dependsOn: [] }) as unknown as Job);
  let running = 0;
  let threadsRunning = 0;
  const seen: { jobs: number; threads: number }[] = [];
  await schedule(jobs, {
    concurrency: 2,
    slots: { capacity: 2, of: (job) => job.threads }, // 2 cores
    emit: () => {},
    describeError: (error) => ({ message: String(error), interrupted: false }),
    run: async (job) => {
      running++;
      threadsRunning += job.threads;
      seen.push({ jobs: running, threads: threadsRunning });
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      threadsRunning -= job.threads;
      return { status: 'done' } as JobOutcome;
    },
  });
  assert.equal(seen.length, 5);
  assert.ok(seen.every((s) => s.threads <= 2 && s.jobs <= 2), JSON.stringify(seen));
  assert.ok(seen.some((s) => s.jobs === 2), 'two one-thread jobs ran at once');
});

test('shards are contiguous rows in replica order, the first ones a row larger', () => {
  assert.deepEqual([0, 1].map((i) => shardOf(64, 2, i)), [{ offset: 0, rows: 32 }, { offset: 32, rows: 32 }]);
  assert.deepEqual([0, 1, 2].map((i) => shardOf(8, 3, i)), [{ offset: 0, rows: 3 }, { offset: 3, rows: 3 }, { offset: 6, rows: 2 }]);
  for (const [batch, replicas] of [[1, 1], [17, 2], [64, 3], [5, 4]]) {
    let next = 0;
    for (let i = 0; i < replicas; i++) {
      const { offset, rows } = shardOf(batch, replicas, i);
      assert.equal(offset, next);
      next += rows;
    }
    assert.equal(next, batch, `${batch} rows over ${replicas} replicas`);
  }
});

test('the thread count is part of the job keys; one thread keeps the keys of before, and dist trains on one', async () => {
  const { experiment } = await loadExperiment(fixture, { checkShapes: false });
  const one = planExperiment(experiment, 'wasm');
  const two = planExperiment(experiment, 'wasm', { count: 2, auto: false });
  assert.deepEqual(planExperiment(experiment, 'wasm', { count: 1, auto: false }).jobs.map((j) => j.key), one.jobs.map((j) => j.key));
  assert.deepEqual(two.jobs.map((j) => j.threads), [2, 2, 2]);
  for (const [i, job] of one.jobs.entries()) assert.notEqual(job.key, two.jobs[i].key, `${job.label}: a 2-thread result is not a 1-thread one`);

  const { experiment: dist } = await loadExperiment(fixture, { checkShapes: false, overrides: ['stages.kd_student.loss={dist: {}}'] });
  const kd = planExperiment(dist, 'wasm', { count: 2, auto: false }).jobs.find((j) => j.label === 'kd_student')!;
  assert.equal(kd.threads, 1, 'DIST correlates the whole batch: no replicas');
});

test('a loss list trains on every thread unless a term couples the batch or reads taps', async () => {
  const methods = (name: string) => fileURLToPath(new URL(`../../experiments/methods/${name}.yaml`, import.meta.url));
  const threadsOf = async (name: string, stage: string) => {
    const { experiment } = await loadExperiment(methods(name), { checkShapes: false });
    return planExperiment(experiment, 'wasm', { count: 2, auto: false }).jobs.find((j) => j.label === stage)!.threads;
  };
  assert.equal(await threadsOf('kd', 'kd'), 2, 'crossEntropy + kd: per-row terms');
  assert.equal(await threadsOf('kd', 'teacher'), 2);
  assert.equal(await threadsOf('attention', 'attention'), 1, 'attention reads the student\'s and teacher\'s taps');
  assert.equal(await threadsOf('dist', 'dist'), 1, 'dist as a term couples the batch');
});

test('under Slurm, auto is one thread and a count is not bounded by this machine\'s cores', () => {
  const base = { source: '--threads', backend: 'wasm', executor: 'slurm' as const };
  assert.deepEqual(resolveThreads({ ...base, requested: 'auto', cores: 2 }), { count: 1, auto: false });
  assert.deepEqual(resolveThreads({ ...base, requested: 8, cores: 2 }), { count: 8, auto: false });
});

test('auto: a job whose batches are too small to share trains on one thread; an explicit count is kept', async () => {
  const quick = fileURLToPath(new URL('../../experiments/quick.yaml', import.meta.url));
  const reference = fileURLToPath(new URL('../../experiments/cifar10-kd.yaml', import.meta.url));
  const threadsBy = async (file: string, threads: { count: number; auto: boolean }) => {
    const { experiment } = await loadExperiment(file, { checkShapes: false });
    return Object.fromEntries(planExperiment(experiment, 'wasm', threads).jobs.map((j) => [j.stage.name, j.threads]));
  };
  assert.deepEqual(await threadsBy(quick, { count: 2, auto: true }), { teacher: 1, student: 1, kd_student: 1 });
  assert.deepEqual(await threadsBy(quick, { count: 2, auto: false }), { teacher: 2, student: 2, kd_student: 2 });
  assert.deepEqual(await threadsBy(reference, { count: 2, auto: true }), { teacher: 2, student: 2, kd_student: 2 });
  const { experiment } = await loadExperiment(quick, { checkShapes: false });
  const [teacher, student] = ['teacher', 'student'].map((name) => batchMacs(experiment, name, 64));
  assert.ok(teacher > 5 * student && student > 0, `${teacher} vs ${student}: the cost follows the model`);
  assert.equal(batchMacs(experiment, 'student', 32), batchMacs(experiment, 'student', 64) / 2);
});

test('a job planned again elsewhere (worker, Slurm job, replica) is found under its key, also one that trains on one thread', async () => {
  const { experiment } = await loadExperiment(fixture, { checkShapes: false, overrides: ['stages.kd_student.loss={dist: {}}'] });
  const { jobs } = planExperiment(experiment, 'wasm', { count: 2, auto: false });
  for (const job of jobs) {
    const request = jobRequest(job, { cacheDir: '/nowhere', backend: { name: 'wasm', label: 'wasm' } });
    const { job: again } = await reloadJob({ ...request, backend: 'wasm' });
    assert.equal(again.key, job.key, job.label);
    assert.equal(again.threads, job.threads);
  }
});

test('kdx cache gc keeps what auto planned (a large teacher on every core, a small student on one) and counts above the cores', async () => {
  const reference = fileURLToPath(new URL('../../experiments/cifar10-kd.yaml', import.meta.url));
  const { experiment } = await loadExperiment(reference, { checkShapes: false, overrides: ['stages.kd_student.data.batchSize=4'] });
  const trials = [{ id: '', params: {}, experiment }];
  const auto = planTrials(trials, 'wasm', { count: 2, auto: true }).jobs;
  assert.deepEqual(auto.map((j) => j.threads), [2, 2, 1], 'the mixed plan this is about');
  const kept = new Set(reachableKeys(trials, possibleThreadCounts(2)));
  for (const job of auto) assert.ok(kept.has(job.key), `${job.label} is kept`);
  const slurm = planTrials(trials, 'wasm', { count: 8, auto: false }).jobs;
  const keptUpTo8 = new Set(reachableKeys(trials, possibleThreadCounts(8)));
  for (const job of slurm) assert.ok(keptUpTo8.has(job.key) && !kept.has(job.key), `${job.label} on 8 threads: kept once 8 is among the counts`);
});

test('kdx plan\'s threads line agrees with its threads column: 1 when auto shares no job, which jobs share when some do', async () => {
  const quick = fileURLToPath(new URL('../../experiments/quick.yaml', import.meta.url));
  const reference = fileURLToPath(new URL('../../experiments/cifar10-kd.yaml', import.meta.url));
  const line = async (file: string, overrides: string[] = []) => {
    const { experiment } = await loadExperiment(file, { checkShapes: false, overrides });
    return formatPlan(experiment, 'wasm', () => false, { count: 2, auto: true }).split('\n').find((l) => l.startsWith('Threads per job'));
  };
  assert.equal(await line(quick), 'Threads per job: 1 (auto on 2 cores: no job is large enough to share its batches); part of the job keys');
  assert.equal(await line(reference, ['stages.kd_student.data.batchSize=4']), 'Threads per job: 2 for 2 of the 3 jobs, 1 for the others (the threads column); part of the job keys');
  assert.equal(await line(reference), 'Threads per job: 2; part of the job keys');
});
