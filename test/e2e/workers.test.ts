// --jobs 2: jobs run in worker processes; a worker that dies fails its job, not the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, hasStackTrace, kdx, parseEvents, readJson, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

// A loss that kills its own process the first time it runs: a worker crash, as a segfault or OOM would be.
const CRASHING_LOSS = `export default function (kdx) {
  kdx.registerLoss('crash', { description: 'kills the process', needsTeacher: false, create: () => () => process.kill(process.pid, 'SIGKILL') });
}
`;

test('a crashing worker fails its job only: independent jobs finish, dependants are skipped, exit 1', async () => {
  const cwd = scratchDir();
  try {
    writeFileSync(join(cwd, 'crash.mjs'), CRASHING_LOSS);
    const text = `plugins: [./crash.mjs]\n${tinyExperiment({ epochs: 1 })}
  doomed: {model: student, loss: crash, epochs: 1}
  after_doomed: {model: student, needs: [doomed], epochs: 1}
`;
    const file = writeExperiment(cwd, 'crash.yaml', text);
    const result = await kdx(['run', file, '--jobs', '2', '--json'], { cwd });
    assert.equal(result.exitCode, 1, result.stderr);
    const events = parseEvents(result.stdout);
    const failed = events.find((e) => e.type === 'job-failed') as Extract<KdxEvent, { type: 'job-failed' }>;
    assert.equal(failed.label, 'doomed');
    assert.match(failed.error, /worker process for doomed was killed by SIGKILL/);
    const skipped = events.find((e) => e.type === 'job-skipped') as Extract<KdxEvent, { type: 'job-skipped' }>;
    assert.equal(skipped.label, 'after_doomed');
    assert.match(skipped.reason, /doomed failed/);
    // The failure is reported when it happens, before the run ends.
    assert.ok(events.indexOf(failed) < events.findIndex((e) => e.type === 'run-end'));
    const summary = readJson(join(runDirs(cwd)[0], 'summary.json'));
    assert.equal(summary.status, 'failed');
    for (const stage of ['teacher', 'student', 'kd_student']) assert.equal(summary.rows[0].stages[stage].status, 'done', stage);
    assert.equal(summary.rows[0].stages.doomed.status, 'failed');
    assert.equal(summary.rows[0].stages.after_doomed.status, 'skipped');

    // Plain output says the same in words, with no stack trace.
    const plain = await kdx(['run', file, '--jobs', '2'], { cwd });
    assert.equal(plain.exitCode, 1);
    assert.match(plain.stderr, /doomed.*failed/);
    assert.ok(!hasStackTrace(plain.stderr), plain.stderr);
  } finally {
    cleanup(cwd);
  }
});

test('--jobs 2 produces the same results as --jobs 1', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    const one = await kdx(['run', file, '--json', '--cache-dir', 'one'], { cwd });
    const two = await kdx(['run', file, '--json', '--cache-dir', 'two', '--jobs', '2'], { cwd });
    assert.equal(one.exitCode, 0, one.stderr);
    assert.equal(two.exitCode, 0, two.stderr);
    const shape = (stdout: string) =>
      parseEvents(stdout)
        .filter((e) => e.type === 'job-end' || e.type === 'epoch-end' || e.type === 'job-start')
        .map((e) => `${e.type}:${'label' in e ? e.label : e.job}`)
        .sort();
    assert.deepEqual(shape(two.stdout), shape(one.stdout));
    const final = (stdout: string) => (parseEvents(stdout).at(-1) as Extract<KdxEvent, { type: 'run-end' }>).rows[0].stages.teacher;
    assert.equal((final(two.stdout) as { params: number }).params, (final(one.stdout) as { params: number }).params);
  } finally {
    cleanup(cwd);
  }
});
