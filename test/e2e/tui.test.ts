// The real binary in a pseudo-terminal (util-linux `script`): the Ink UI, `q` to stop, and the same run
// piped (plain lines) and with --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { KdxEvent } from '../../src/events.js';
import { stripAnsi } from '../../src/report/format.js';
import { cleanup, kdx, kdxBin, parseEvents, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

const ESC = '\u001b';

/** `kdx ARGS` with a terminal of 80 x 30 as its stdout and stdin; the transcript comes back on stdout. */
function kdxInTerminal(args: string[], cwd: string) {
  const command = `stty cols 80 rows 30; exec '${process.execPath}' '${kdxBin}' ${args.map((a) => `'${a}'`).join(' ')}`;
  return execa('script', ['-qfec', command, '/dev/null'], {
    cwd,
    reject: false,
    stdin: 'pipe',
    // Not CI (CI runs this test with CI=true), a real terminal type, no colour: what a user at a terminal
    // without colour gets.
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', NO_COLOR: '1', KDX_DATA: join(cwd, 'no-data') },
  });
}

test('on a terminal kdx run draws the live UI and leaves the final table in the scrollback', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 3 }));
    const result = await kdxInTerminal(['run', file], cwd);
    assert.equal(result.exitCode, 0, result.stdout);
    assert.ok(result.stdout.includes(`${ESC}[`), 'the UI redraws with escape sequences');
    const screen = stripAnsi(result.stdout);
    assert.match(screen, /q to stop/);
    assert.match(screen, /kd_student/);
    assert.match(screen, /run dir|runs\//);
    assert.match(screen, /final/);
  } finally {
    cleanup(cwd);
  }
});

test('the same run piped prints plain lines only, and --json prints one event per line', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    const plain = await kdx(['run', file], { cwd });
    assert.equal(plain.exitCode, 0, plain.stderr);
    assert.ok(!plain.stdout.includes(ESC), 'no escape codes when piped');
    assert.match(plain.stdout, /teacher\s+epoch 1\/1/);
    const json = await kdx(['run', file, '--json', '--cache-dir', 'other-cache'], { cwd });
    const events = parseEvents(json.stdout); // throws if a line is not JSON
    assert.equal(events[0].type, 'plan');
    assert.equal(events.at(-1)!.type, 'run-end');
    const quiet = await kdx(['run', file, '--quiet'], { cwd });
    assert.ok(!/epoch 1\/1/.test(quiet.stdout), 'quiet prints no progress lines');
    assert.match(quiet.stdout, /kd_student/);
  } finally {
    cleanup(cwd);
  }
});

test('pressing q mid-run checkpoints, exits 130, and the next run resumes', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'long.yaml', tinyExperiment({ epochs: 8 }).replace('train: 1024', 'train: 2048'));
    const child = kdxInTerminal(['run', file], cwd);
    // Wait (by the run's own event log) for one finished epoch, then press q.
    const deadline = Date.now() + 120_000;
    let pressed = false;
    while (Date.now() < deadline && !pressed) {
      await new Promise((r) => setTimeout(r, 200));
      const [runDir] = runDirs(cwd);
      const log = runDir && existsSync(join(runDir, 'events.jsonl')) ? readFileSync(join(runDir, 'events.jsonl'), 'utf8') : '';
      if (log.includes('"type":"epoch-end"')) {
        child.stdin!.write('q');
        pressed = true;
      }
    }
    const result = await child;
    assert.ok(pressed, 'an epoch finished');
    assert.equal(result.exitCode, 130, stripAnsi(result.stdout));
    assert.match(stripAnsi(result.stdout), /again to resume/);

    const again = await kdx(['run', file, '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const start = parseEvents(again.stdout).find((e) => e.type === 'job-start') as Extract<KdxEvent, { type: 'job-start' }>;
    assert.equal(start.label, 'teacher');
    assert.ok(start.startEpoch >= 1, `resumed after epoch ${start.startEpoch}`);
  } finally {
    cleanup(cwd);
  }
});
