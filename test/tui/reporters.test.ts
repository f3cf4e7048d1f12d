import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { KdxEvent } from '../../src/events.js';
import { createJsonReporter } from '../../src/reporters/json.js';
import { createPlainReporter } from '../../src/reporters/plain.js';
import { colorAllowed, createReporter, isCI, resolveMode, type Reporter } from '../../src/reporters/index.js';
import { T0, paperRows, runFailed, runMidEpoch, sweepHalf } from './fixtures.js';
import { reduceAll } from '../../src/tui/store.js';
import { renderResults } from '../../src/report/table.js';

class Sink extends EventEmitter {
  chunks: string[] = [];
  constructor(public isTTY = false, public columns = 80, public rows = 40) {
    super();
  }
  write(chunk: string, callback?: (error?: Error | null) => void): boolean {
    this.chunks.push(chunk);
    callback?.();
    return true;
  }
  get text() {
    return this.chunks.join('');
  }
  get lines() {
    return this.text.split('\n').slice(0, -1);
  }
}

async function feed(reporter: Reporter, events: KdxEvent[]) {
  for (const e of events) reporter.onEvent(e);
  await reporter.close();
}

const ESC = /\u001b|\u009b/;

test('plain: a line per job start and end and per epoch, no batch lines, no escape codes', async () => {
  const stdout = new Sink();
  const stderr = new Sink();
  await feed(createPlainReporter({ stdout, stderr }), runMidEpoch());
  assert.deepEqual(stdout.lines, [
    'kdx cifar10-kd: 3 jobs (1 cached), backend wasm, run dir runs/cifar10-kd/2024-01-01T00-00-00',
    '… downloading cifar10 (170 MB)',
    '  downloading cifar10  50%  85/170 MB',
    '✓ downloading cifar10  12.0s',
    '● teacher  cached  final 59.8%',
    '… computing teacher logits (782 batches)',
    '▶ kd_student  started (10 epochs)',
    '  kd_student  epoch 1/10  loss 1.900  test acc 41.2%  1001 img/s  10.0s',
    '  kd_student  epoch 2/10  loss 1.800  test acc 48.7%  1002 img/s  10.0s',
  ]);
  assert.equal(stderr.text, '');
  assert.doesNotMatch(stdout.text, ESC);
});

test('plain: failures and warnings go to stderr; the final table and run dir to stdout', async () => {
  const stdout = new Sink();
  const stderr = new Sink();
  await feed(createPlainReporter({ stdout, stderr }), runFailed());
  assert.deepEqual(stderr.lines, ['warning: wasm heap above 3 GB', '✗ kd_student  failed: out of memory']);
  assert.deepEqual(stdout.lines.slice(0, 7), [
    'kdx cifar10-kd: 3 jobs (1 cached), backend wasm, run dir runs/cifar10-kd/1',
    '● teacher  cached  final 59.8%',
    '▶ student  started (10 epochs)',
    '  student  epoch 1/10  loss 1.900  test acc 41.0%  1001 img/s  10.0s',
    '✓ student  done  best 53.0%  final 52.1%  30.2s',
    '▶ kd_student  started (10 epochs)',
    '',
  ]);
  assert.equal(stdout.lines[7], 'stage       status  model    params   best  final   time  img/s  backend');
  assert.deepEqual(stdout.lines.slice(-2), ['run dir runs/cifar10-kd/1', 'failed after 11.0s']);
  assert.doesNotMatch(stdout.text + stderr.text, ESC);
});

test('plain: the final table of one seed shows top-5, ECE, agreement and KL on a wide terminal; a narrow one, or a pipe (80 columns), drops them', async () => {
  const end: KdxEvent = { type: 'run-end', time: T0, status: 'ok', runDir: 'r', rows: paperRows, seconds: 1 };
  const header = async (stdout: Sink) => {
    await feed(createPlainReporter({ stdout, stderr: new Sink() }), [end]);
    return stdout.lines.find((line) => line.startsWith('stage'))!;
  };
  assert.match(await header(new Sink(true, 220)), /final {2}top-5 {4}ECE {2}agree {2}KL\(t\|\|s\) {3}time/);
  assert.doesNotMatch(await header(new Sink(true, 80)), /top-5/);
  assert.doesNotMatch(await header(new Sink(false, 220)), /top-5/, 'a pipe is 80 columns, whatever the terminal behind it');
});

test('plain: an interrupted run ends "resumable" only when a stopped job has a finished epoch to go on from', async () => {
  const last = async (resumable: number) => {
    const stdout = new Sink();
    await feed(createPlainReporter({ stdout, stderr: new Sink() }), [{ type: 'run-end', time: T0, status: 'interrupted', runDir: 'r', rows: [], seconds: 2, resumable }]);
    return stdout.lines.at(-1);
  };
  assert.equal(await last(1), 'interrupted after 2.0s (resumable: run the same command again)');
  assert.equal(await last(0), 'interrupted after 2.0s (nothing to resume: run the same command again to train the stopped jobs from the start)');
});

test('plain: inside a long epoch, a progress line every 30 s of it (none for a short epoch, none at its last batch)', async () => {
  const stdout = new Sink();
  const events: KdxEvent[] = [
    { type: 'job-start', time: T0, job: 'j', label: 'teacher', epochs: 4, startEpoch: 0, batchesPerEpoch: 1000 },
    { type: 'epoch-start', time: T0, job: 'j', epoch: 1, epochs: 4, batches: 1000 },
    // 4 minutes of batches, one event every 10 s.
    ...Array.from({ length: 24 }, (_, i): KdxEvent => ({ type: 'batch', time: T0 + (i + 1) * 10_000, job: 'j', epoch: 1, batch: Math.round(((i + 1) * 1000) / 24), batches: 1000, loss: 2.5 - i * 0.01, imgPerSec: 266 })),
  ];
  await feed(createPlainReporter({ stdout, stderr: new Sink() }), events);
  assert.deepEqual(stdout.lines, [
    '▶ teacher  started (4 epochs)',
    '  teacher  epoch 1/4  batch 125/1000 (13%)  loss 2.480  266 img/s',
    '  teacher  epoch 1/4  batch 250/1000 (25%)  loss 2.450  266 img/s',
    ...['375', '500', '625', '750', '875'].map((b, i) => `  teacher  epoch 1/4  batch ${b}/1000 (${Math.round(Number(b) / 10)}%)  loss ${(2.42 - i * 0.03).toFixed(3)}  266 img/s`),
  ]);
});

test('plain: a sweep reports each finished trial', async () => {
  const stdout = new Sink();
  await feed(createPlainReporter({ stdout, stderr: new Sink() }), sweepHalf());
  assert.ok(stdout.lines.includes('◆ trial 2/4  T=2 alpha=0.9  kd_student 57.1%  KD gain +5.0pt'));
  assert.ok(stdout.lines.includes('▶ kd_student[T=4,alpha=0.5]  resumed at epoch 5/10'));
  assert.equal(stdout.lines[0], 'kdx cifar10-kd: 6 jobs, 4 trials, backend wasm, run dir runs/cifar10-kd/sweep-1');
});

test('plain: skipped jobs, task progress at most every 5 s, escape codes in messages removed', async () => {
  const stdout = new Sink();
  const stderr = new Sink();
  const events: KdxEvent[] = [
    { type: 'job-skipped', time: T0, job: 'b', label: 'student', reason: 'needs teacher, which failed' },
    ...Array.from({ length: 30 }, (_, i): KdxEvent => ({ type: 'task', time: T0 + i * 1000, id: 'u', label: 'unpacking', current: i, unit: 'files' })),
    { type: 'task', time: T0 + 31_000, id: 'u', label: 'unpacking', current: 30, unit: 'files', done: true },
    { type: 'log', time: T0, level: 'error', message: '\u001b[31mdisk full\u001b[39m' },
    { type: 'log', time: T0, level: 'info', message: 'using wasm' },
  ];
  await feed(createPlainReporter({ stdout, stderr }), events);
  assert.deepEqual(stdout.lines, [
    '- student skipped: needs teacher, which failed',
    '… unpacking',
    '  unpacking  5 files', '  unpacking  10 files', '  unpacking  15 files', '  unpacking  20 files', '  unpacking  25 files',
    '✓ unpacking  31.0s',
    'using wasm',
  ]);
  assert.deepEqual(stderr.lines, ['error: disk full']);
});

test('quiet: only errors, then the final table, the run directory and the status', async () => {
  const stdout = new Sink();
  const stderr = new Sink();
  await feed(createPlainReporter({ stdout, stderr, quiet: true }), runFailed());
  assert.deepEqual(stderr.lines, ['✗ kd_student  failed: out of memory']);
  assert.equal(stdout.lines[0], 'stage       status  model    params   best  final   time  img/s  backend');
  assert.deepEqual(stdout.lines.slice(-2), ['run dir runs/cifar10-kd/1', 'failed after 11.0s']);
  assert.ok(!stdout.text.includes('started'));
});

test('json: every event as one parseable line on stdout, nothing else', async () => {
  const stdout = new Sink();
  const events = [...runMidEpoch(), ...runFailed()];
  await feed(createJsonReporter({ stdout }), events);
  const lines = stdout.text.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, events.length);
  assert.deepEqual(lines.map((l) => JSON.parse(l)), events);
});

test('createReporter: json and quiet modes; errors to stderr, never to stdout in json', async () => {
  const stdout = new Sink(true);
  const stderr = new Sink();
  await feed(createReporter({ mode: 'json', stdout, stderr, env: {} }), runFailed());
  assert.equal(stderr.text, '');
  for (const line of stdout.lines) assert.doesNotThrow(() => JSON.parse(line));
});

test('auto picks plain lines when stdout is not a TTY, or under CI, or on a dumb terminal', async () => {
  assert.equal(resolveMode('auto', new Sink(false), {}), 'plain');
  assert.equal(resolveMode('auto', new Sink(true), { CI: 'true' }), 'plain');
  assert.equal(resolveMode('auto', new Sink(true), { GITHUB_ACTIONS: 'true' }), 'plain');
  assert.equal(resolveMode('auto', new Sink(true), { TERM: 'dumb' }), 'plain');
  assert.equal(resolveMode('auto', new Sink(true), { CI: 'false' }), 'tui');
  assert.equal(resolveMode('auto', new Sink(true), {}), 'tui');
  assert.equal(resolveMode('quiet', new Sink(true), {}), 'quiet');
  assert.equal(isCI({ CI: '0' }), false);
  assert.equal(colorAllowed({ NO_COLOR: '1' }), false);
  assert.equal(colorAllowed({ NO_COLOR: '' }), true);
  assert.equal(colorAllowed({}), true);

  const stdout = new Sink(false);
  await feed(createReporter({ mode: 'auto', stdout, stderr: new Sink(), env: {} }), runMidEpoch());
  assert.equal(stdout.lines[0], 'kdx cifar10-kd: 3 jobs (1 cached), backend wasm, run dir runs/cifar10-kd/2024-01-01T00-00-00');
  assert.doesNotMatch(stdout.text, ESC);
});

test('auto on a TTY starts the Ink UI and leaves the summary on screen when closed', async () => {
  const stdout = new Sink(true, 100);
  const stdin = Object.assign(new EventEmitter(), { isTTY: false }) as unknown as NodeJS.ReadStream;
  await feed(createReporter({ mode: 'auto', stdout, stderr: new Sink(), stdin, env: { NO_COLOR: '1' } }), runFailed());
  const text = stdout.text;
  assert.match(text, ESC); // Ink redraws in place
  assert.match(text, /kd_student {2}failed: out of memory/);
  assert.match(text, /run dir runs\/cifar10-kd\/1/);
  // NO_COLOR: no SGR colour sequences (cursor and erase sequences are not colour).
  assert.doesNotMatch(text, /\u001b\[(3\d|9\d|1|2)m/);
});

test('an error shared by several jobs (a missing dataset) is printed in full once', async () => {
  const help = 'cifar10 not found in ~/.cache/kdx/datasets/cifar10\nput the files there, or set KDX_DATA\n(13 lines of help)';
  const jobs = ['teacher', 'student'].map((label, i): KdxEvent => ({ type: 'job-failed', time: T0 + i, job: `j${i}`, label, error: help }));
  const stderr = new Sink();
  await feed(createPlainReporter({ stdout: new Sink(), stderr }), jobs);
  assert.equal(stderr.text.split('put the files there').length - 1, 1, stderr.text);
  assert.match(stderr.text, /✗ student {2}failed: the same error as teacher/);
  const state = reduceAll(jobs);
  assert.deepEqual(state.notices.map((n) => n.text.split('\n')[0]), [`✗ teacher  failed: ${help.split('\n')[0]}`, '✗ student  failed: the same error as teacher']);
  const rows = [{ params: {}, stages: { teacher: { job: 'j0', status: 'failed' as const, error: help }, student: { job: 'j1', status: 'failed' as const, error: help } } }];
  const table = renderResults(rows, 'text', { kind: 'run' });
  assert.equal(table.split('put the files there').length - 1, 1, table);
  assert.match(table, /^teacher, student failed: cifar10 not found/m);
});

test('plain: a loss of several terms shows each, weighted as it entered the sum, next to the loss', async () => {
  const stdout = new Sink();
  const withTerms = runMidEpoch().map((e) => (e.type === 'epoch-end' ? { ...e, terms: { crossEntropy: 0.1391, kd: 0.003086, attention: 1.5 } } : e));
  await feed(createPlainReporter({ stdout, stderr: new Sink() }), withTerms);
  assert.ok(stdout.lines.includes('  kd_student  epoch 1/10  loss 1.900 (crossEntropy 0.1391  kd 0.003086  attention 1.500)  test acc 41.2%  1001 img/s  10.0s'), stdout.text);
});
