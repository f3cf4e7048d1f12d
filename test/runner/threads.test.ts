// Threads per job and jobs at once (runner/threads.ts), how a batch is cut into shards, and what the thread count does to
// the plan: part of the job keys, except where one thread trains anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { planExperiment } from '../../src/runner/plan.js';
import { shardOf } from '../../src/runner/replica-memory.js';
import { shareCores } from '../../src/runner/threads.js';
import { jobRequest } from '../../src/runner/job-request.js';
import { reloadJob } from '../../src/runner/reload-job.js';

const fixture = fileURLToPath(new URL('../fixtures/threads.yaml', import.meta.url));

test('auto is every core, whatever --jobs; tensorflow always trains on one thread', () => {
  const base = { requested: 'auto' as const, source: '--threads', backend: 'wasm' };
  assert.deepEqual(shareCores({ ...base, jobs: 1, cores: 2 }), { threads: 2, jobsAtOnce: 1 });
  assert.deepEqual(shareCores({ ...base, jobs: 1, cores: 8 }), { threads: 8, jobsAtOnce: 1 });
  assert.equal(shareCores({ ...base, jobs: 2, cores: 2 }).threads, 2, 'the same jobs (and keys) as kdx run');
  assert.deepEqual(shareCores({ ...base, jobs: 4, cores: 16, backend: 'tensorflow (no GPU found: CPU)' }), { threads: 1, jobsAtOnce: 4 });
  assert.deepEqual(shareCores({ ...base, requested: 4, jobs: 1, cores: 16, backend: 'tensorflow (GPU)' }), { threads: 1, jobsAtOnce: 1 });
});

test('jobs x threads never exceed the cores: --jobs gives way, with a warning; one thread per job is --jobs as always', () => {
  const base = { source: '--threads', backend: 'wasm' };
  assert.deepEqual(shareCores({ ...base, requested: 'auto', jobs: 2, cores: 2 }), {
    threads: 2,
    jobsAtOnce: 1,
    warning: '--jobs 2 with 2 threads per job would need 4 cores, and this machine has 2: running 1 job at a time (--threads 1 runs 2 jobs of one thread, with other job keys)',
  });
  assert.deepEqual(shareCores({ ...base, requested: 2, jobs: 3, cores: 8 }), { threads: 2, jobsAtOnce: 3 });
  assert.equal(shareCores({ ...base, requested: 2, jobs: 5, cores: 8 }).jobsAtOnce, 4);
  assert.deepEqual(shareCores({ ...base, requested: 1, jobs: 4, cores: 2 }), { threads: 1, jobsAtOnce: 4 });
});

test('an explicit thread count above the cores is refused, not lowered: exit 2, with where it was set', () => {
  assert.throws(() => shareCores({ requested: 3, source: '--threads', backend: 'wasm', jobs: 1, cores: 2 }), (error: Error) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, '--threads 3: more threads than this machine\'s 2 cores: use at most 2, or auto');
    return true;
  });
  assert.throws(() => shareCores({ requested: 3, source: 'runtime.threads in x.yaml', backend: 'cpu', jobs: 1, cores: 2 }), {
    message: 'runtime.threads in x.yaml 3: more threads than this machine\'s 2 cores: use at most 2, or auto',
  });
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
  const two = planExperiment(experiment, 'wasm', 2);
  assert.deepEqual(planExperiment(experiment, 'wasm', 1).jobs.map((j) => j.key), one.jobs.map((j) => j.key));
  assert.deepEqual(two.jobs.map((j) => j.threads), [2, 2, 2]);
  for (const [i, job] of one.jobs.entries()) assert.notEqual(job.key, two.jobs[i].key, `${job.label}: a 2-thread result is not a 1-thread one`);

  const { experiment: dist } = await loadExperiment(fixture, { checkShapes: false, overrides: ['stages.kd_student.loss={dist: {}}'] });
  const kd = planExperiment(dist, 'wasm', 2).jobs.find((j) => j.label === 'kd_student')!;
  assert.equal(kd.threads, 1, 'DIST correlates the whole batch: no replicas');
});

test('a loss list trains on every thread unless a term couples the batch or reads taps', async () => {
  const methods = (name: string) => fileURLToPath(new URL(`../../experiments/methods/${name}.yaml`, import.meta.url));
  const threadsOf = async (name: string, stage: string) => {
    const { experiment } = await loadExperiment(methods(name), { checkShapes: false });
    return planExperiment(experiment, 'wasm', 2).jobs.find((j) => j.label === stage)!.threads;
  };
  assert.equal(await threadsOf('kd', 'kd'), 2, 'crossEntropy + kd: per-row terms');
  assert.equal(await threadsOf('kd', 'teacher'), 2);
  assert.equal(await threadsOf('attention', 'attention'), 1, 'attention reads the student\'s and teacher\'s taps');
  assert.equal(await threadsOf('dist', 'dist'), 1, 'dist as a term couples the batch');
});

test('under Slurm, auto is one thread and a count is not bounded by this machine\'s cores', () => {
  const base = { source: '--threads', backend: 'wasm', executor: 'slurm' as const };
  assert.deepEqual(shareCores({ ...base, requested: 'auto', jobs: 1, cores: 2 }), { threads: 1, jobsAtOnce: 1 });
  assert.deepEqual(shareCores({ ...base, requested: 8, jobs: 1, cores: 2 }), { threads: 8, jobsAtOnce: 1 });
});

test('a job planned again elsewhere (worker, Slurm job, replica) is found under its key, also one that trains on one thread', async () => {
  const { experiment } = await loadExperiment(fixture, { checkShapes: false, overrides: ['stages.kd_student.loss={dist: {}}'] });
  const { jobs } = planExperiment(experiment, 'wasm', 2);
  for (const job of jobs) {
    const request = jobRequest(job, { cacheDir: '/nowhere', backend: { name: 'wasm', label: 'wasm' } });
    const { job: again } = await reloadJob({ ...request, backend: 'wasm' });
    assert.equal(again.key, job.key, job.label);
    assert.equal(again.threads, job.threads);
  }
});
