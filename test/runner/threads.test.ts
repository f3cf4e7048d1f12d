// Threads per job (runner/threads.ts), how a batch is cut into shards, and what the thread count does to
// the plan: part of the job keys, except where one thread trains anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { planExperiment } from '../../src/runner/plan.js';
import { shardOf } from '../../src/runner/replica-memory.js';
import { resolveThreads } from '../../src/runner/threads.js';

const fixture = fileURLToPath(new URL('../fixtures/threads.yaml', import.meta.url));

test('auto shares the cores among the jobs at once; tensorflow always trains on one thread', () => {
  const base = { requested: 'auto' as const, source: '--threads', backend: 'wasm' };
  assert.equal(resolveThreads({ ...base, jobs: 1, cores: 2 }), 2);
  assert.equal(resolveThreads({ ...base, jobs: 2, cores: 2 }), 1);
  assert.equal(resolveThreads({ ...base, jobs: 3, cores: 8 }), 2);
  assert.equal(resolveThreads({ ...base, jobs: 4, cores: 2 }), 1);
  assert.equal(resolveThreads({ ...base, jobs: 1, cores: 16, backend: 'tensorflow (no GPU found: CPU)' }), 1);
  assert.equal(resolveThreads({ ...base, requested: 4, jobs: 1, cores: 16, backend: 'tensorflow (GPU)' }), 1);
});

test('an explicit thread count is kept, and refused when jobs x threads exceed the cores', () => {
  const base = { source: '--threads', backend: 'wasm' };
  assert.equal(resolveThreads({ ...base, requested: 2, jobs: 1, cores: 2 }), 2);
  assert.equal(resolveThreads({ ...base, requested: 1, jobs: 4, cores: 2 }), 1, 'one thread is what --jobs always did');
  assert.throws(() => resolveThreads({ ...base, requested: 2, jobs: 2, cores: 2 }), (error: Error) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, '--jobs 2 x --threads 2 = 4 threads, more than this machine\'s 2 cores: lower --jobs or the threads, or use threads auto (1 here)');
    return true;
  });
  assert.throws(() => resolveThreads({ requested: 3, source: 'runtime.threads in x.yaml', backend: 'cpu', jobs: 1, cores: 2 }), {
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
