// libtensorflow's pool sizes: each process of a `--jobs J` run gets its share of the cores through
// TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS (read once, when tfjs-node starts), unless the user set them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { INTER_OP, INTRA_OP, limitTensorflowThreads, threadsPerJob } from '../../src/engine/tensorflow-threads.js';
import { cleanup, kdx, scratchDir, tinyExperiment, writeExperiment } from '../e2e/support.js';

test('the cores are shared evenly between concurrent jobs, at least one thread each', () => {
  assert.equal(threadsPerJob(1, 8), 8);
  assert.equal(threadsPerJob(2, 8), 4);
  assert.equal(threadsPerJob(3, 8), 2);
  assert.equal(threadsPerJob(4, 2), 1);
  assert.equal(threadsPerJob(0, 2), 2);
});

test('the pool sizes go into the environment, and a size the user chose wins', () => {
  const env: NodeJS.ProcessEnv = {};
  limitTensorflowThreads(3, env);
  assert.deepEqual(env, { [INTRA_OP]: '3', [INTER_OP]: '1' });
  const mine: NodeJS.ProcessEnv = { [INTRA_OP]: '6' };
  limitTensorflowThreads(2, mine);
  assert.deepEqual(mine, { [INTRA_OP]: '6', [INTER_OP]: '1' });
  assert.throws(() => limitTensorflowThreads(0, {}), RangeError);
});

// A plugin runs in every process that loads the experiment: in a worker it records what the worker's
// libtensorflow would read.
const RECORDER = `import { appendFileSync } from 'node:fs';
export default function () {
  if (process.argv.includes('__worker')) appendFileSync(new URL('./seen.txt', import.meta.url), \`\${process.env.${INTRA_OP}} \${process.env.${INTER_OP}}\\n\`);
}
`;

test('kdx run --jobs 2: every worker process inherits its share of the cores; the user\'s own setting wins', async () => {
  const cwd = scratchDir();
  try {
    writeFileSync(join(cwd, 'recorder.mjs'), RECORDER);
    const file = writeExperiment(cwd, 'tiny.yaml', `plugins: [./recorder.mjs]\n${tinyExperiment({ epochs: 1 })}`);
    const shared = await kdx(['run', file, '--jobs', '2', '--quiet', '--cache-dir', join(cwd, 'a')], { cwd });
    assert.equal(shared.exitCode, 0, shared.stderr);
    const lines = readFileSync(join(cwd, 'seen.txt'), 'utf8').trim().split('\n');
    assert.ok(lines.length >= 1, 'a worker ran');
    for (const line of lines) assert.equal(line, `${threadsPerJob(2, availableParallelism())} 1`);

    writeFileSync(join(cwd, 'seen.txt'), '');
    const own = await kdx(['run', file, '--jobs', '2', '--quiet', '--cache-dir', join(cwd, 'b')], { cwd, env: { [INTRA_OP]: '5' } });
    assert.equal(own.exitCode, 0, own.stderr);
    for (const line of readFileSync(join(cwd, 'seen.txt'), 'utf8').trim().split('\n')) assert.equal(line, '5 1');
  } finally {
    cleanup(cwd);
  }
});
