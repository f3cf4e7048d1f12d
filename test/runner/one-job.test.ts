// A job run for a kdx elsewhere (a --jobs worker, a Slurm job) stores its result under the key the
// controller computed, which holds the controller's backend: a process that would train on another
// backend (a GPU node under a CPU login node) refuses before training anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../src/errors.js';
import { runRequestedJob } from '../../src/runner/one-job.js';

const quick = fileURLToPath(new URL('../../experiments/quick.yaml', import.meta.url));

test('a job planned for another backend than this process trains on is refused, and nothing is written', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'kdx-one-job-'));
  try {
    const request = { file: quick, overrides: [], jobId: 'any', label: 'teacher', cacheDir, backend: { name: 'cpu', label: 'tensorflow (GPU)' }, threads: { count: 1, auto: false } };
    await assert.rejects(runRequestedJob(request, () => {}, new AbortController().signal), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.match(error.message, /^this node trains on cpu, but the run was planned for tensorflow \(GPU\): .*--backend/);
      return true;
    });
    assert.deepEqual(readdirSync(cacheDir), []);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
