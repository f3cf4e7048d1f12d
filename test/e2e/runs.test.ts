// Run directories: cheap when jobs are cached (weights are links), `kdx results` on a wrong argument is a
// usage error and tells an interrupted run apart, and `kdx prune` removes old runs only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, hasStackTrace, kdx, parseEvents, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

test('a cached rerun links the weights, results rejects what is not a run directory, prune keeps the newest', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    assert.equal((await kdx(['run', file], { cwd })).exitCode, 0);
    const again = await kdx(['run', file], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const [first, second] = runDirs(cwd).sort();
    assert.ok(first && second && first !== second);
    for (const stage of ['teacher', 'student', 'kd_student']) {
      const weights = statSync(join(second, 'stages', stage, 'weights.bin'));
      assert.ok(weights.nlink >= 3, `${stage}/weights.bin is shared with the store and the first run (links: ${weights.nlink})`);
      assert.equal(statSync(join(second, 'stages', stage, 'model.json')).nlink, 1, 'small text files are copies');
    }

    for (const [args, message] of [
      [['results', 'runs/nope'], /runs\/nope: no such run directory/],
      [['results', file], /is a file, not a run directory/],
      [['results', cwd], /is not a kdx run directory/],
      [['prune', '--keep', 'x'], /--keep must be a whole number/],
    ] as const) {
      const result = await kdx([...args], { cwd });
      assert.equal(result.exitCode, 2, `kdx ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
    }

    // Not kdx's: prune must never touch it.
    mkdirSync(join(cwd, 'runs', 'my-notes'));
    const dry = await kdx(['prune', '--keep', '1', '--dry-run'], { cwd });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would remove ${first.slice(cwd.length + 1)}`));
    assert.ok(existsSync(first), 'a dry run deletes nothing');
    const pruned = await kdx(['prune', '--keep', '1'], { cwd });
    assert.equal(pruned.exitCode, 0, pruned.stderr);
    assert.match(pruned.stdout, /1 run directory, freed [\d.]+ [kM]?B; kept the newest 1/);
    assert.ok(!existsSync(first) && existsSync(second) && existsSync(join(cwd, 'runs', 'my-notes')));
    const results = await kdx(['results'], { cwd });
    assert.equal(results.exitCode, 0, results.stderr);
    assert.match(results.stdout, /kd_student/);
  } finally {
    cleanup(cwd);
  }
});

test('prune keeps the newest runs with results: failed runs do not crowd them out, the latest run stays whatever it is', async () => {
  const cwd = scratchDir();
  try {
    // Oldest first: two runs with results, then three that failed (the newest among them).
    const runs = ['a-ok', 'b-interrupted', 'c-failed', 'd-failed', 'e-failed'].map((name, i) => {
      const dir = join(cwd, 'runs', name);
      mkdirSync(dir, { recursive: true });
      for (const file of ['experiment.json', 'events.jsonl']) writeFileSync(join(dir, file), '');
      utimesSync(join(dir, 'experiment.json'), 1_700_000_000 + i, 1_700_000_000 + i);
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ kind: 'run', status: name.split('-')[1], rows: [] }));
      return `runs/${name}`;
    });
    const dry = await kdx(['prune', '--keep', '3', '--dry-run'], { cwd });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.deepEqual(dry.stdout.trim().split('\n'), [
      `would remove ${runs[2]} (failed)`,
      `would remove ${runs[3]} (failed)`,
      '2 run directories, would free 2 B; kept the newest 2 with results and the latest run (failed)',
    ].map((line) => line.replace('2 B', dry.stdout.match(/would free (\S+ \S+);/)![1])));
    assert.ok(runs.every((run) => existsSync(join(cwd, run))), 'a dry run deletes nothing');
  } finally {
    cleanup(cwd);
  }
});

test('kdx results says when a run was interrupted', async () => {
  const cwd = scratchDir();
  try {
    const dir = join(cwd, 'runs', '20250101-000000-tiny');
    mkdirSync(dir, { recursive: true });
    for (const name of ['experiment.json', 'events.jsonl']) writeFileSync(join(dir, name), '');
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({
      kind: 'run', status: 'interrupted',
      rows: [{ params: {}, stages: { teacher: { job: 'a', status: 'skipped', error: 'interrupted after epoch 2 of 4 (resumable)' } } }],
    }));
    const result = await kdx(['results'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /interrupted after epoch 2 of 4/);
    assert.match(result.stdout, /run the same command again to resume/);
  } finally {
    cleanup(cwd);
  }
});

test('Ctrl-C stops at once: the run writes its results but no report (kdx report writes it), exit 130', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'stop.yaml', tinyExperiment({ epochs: 6 }).replace('train: 1024', 'train: 2048'));
    const child = kdx(['run', file, '--json'], { cwd });
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('"type":"epoch-end"') && !child.killed) child.kill('SIGINT');
    });
    const result = await child;
    assert.equal(result.exitCode, 130, result.stderr);
    const end = parseEvents(String(result.stdout)).at(-1) as Extract<KdxEvent, { type: 'run-end' }>;
    assert.equal(end.type, 'run-end');
    assert.equal(end.status, 'interrupted');
    assert.equal(end.report, undefined);
    const [runDir] = runDirs(cwd);
    assert.ok(existsSync(join(runDir, 'summary.json')) && !existsSync(join(runDir, 'report.html')));
    const report = await kdx(['report'], { cwd });
    assert.equal(report.exitCode, 0, report.stderr);
    assert.ok(existsSync(join(runDir, 'report.html')));
  } finally {
    cleanup(cwd);
  }
});

test('a run whose data fails to load (a truncated file) writes no report: no stage has anything to show', async () => {
  const cwd = scratchDir();
  try {
    const data = join(cwd, 'data');
    mkdirSync(data);
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) writeFileSync(join(data, name), 'abc');
    const file = writeExperiment(cwd, 'mnist.yaml', 'data: {dataset: mnist, root: data}\nmodels:\n  m: [flatten, {dense: 10}]\nstages:\n  a: {model: m, epochs: 1}\n');
    const result = await kdx(['run', file], { cwd });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /too short for an IDX file; it is truncated/);
    assert.doesNotMatch(result.stdout, /^report /m);
    const [runDir] = runDirs(cwd);
    assert.ok(existsSync(join(runDir, 'summary.json')) && !existsSync(join(runDir, 'report.html')));
  } finally {
    cleanup(cwd);
  }
});
