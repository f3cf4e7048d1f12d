// The store seen from the command line: killed runs resume, two processes share a store, sweeps train
// each distinct job once and compute teacher logits once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, countEvents, kdx, parseEvents, readJson, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

test('a run killed with SIGKILL mid-epoch resumes from its last finished epoch', async () => {
  const cwd = scratchDir();
  try {
    // One slow-ish stage: 6 epochs of the teacher on 2048 images.
    const file = writeExperiment(cwd, 'kill.yaml', tinyExperiment({ epochs: 6 }).replace('train: 1024', 'train: 2048'));
    const child = kdx(['run', file, '--json'], { cwd });
    let killedAt = 0;
    await new Promise<void>((resolve) => {
      let text = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const events = text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as KdxEvent);
        const finished = events.filter((e) => e.type === 'epoch-end').length;
        const inSecond = events.some((e) => e.type === 'batch' && e.epoch === finished + 1 && finished >= 2);
        if (!killedAt && inSecond) {
          killedAt = finished;
          child.kill('SIGKILL');
          resolve();
        }
      });
      void child.then(() => resolve());
    });
    await child;
    assert.ok(killedAt >= 2, 'killed in the middle of an epoch after at least two finished');

    const again = await kdx(['run', file, '--json'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    const events = parseEvents(again.stdout);
    const starts = events.filter((e) => e.type === 'job-start') as Extract<KdxEvent, { type: 'job-start' }>[];
    const teacherStart = starts.find((e) => e.label === 'teacher')!;
    assert.ok(teacherStart.startEpoch >= 2, `resumed after epoch ${teacherStart.startEpoch}, not from the start`);
    const teacherEpochs = events.filter((e) => e.type === 'epoch-end' && e.job === teacherStart.job).map((e) => (e as { epoch: number }).epoch);
    assert.equal(teacherEpochs[0], teacherStart.startEpoch + 1);
    assert.equal(teacherEpochs.at(-1), 6);
    const end = events.at(-1) as Extract<KdxEvent, { type: 'run-end' }>;
    assert.equal(end.status, 'ok');
    assert.equal(end.rows[0].stages.teacher.status, 'done');
  } finally {
    cleanup(cwd);
  }
});

test('kdx sweep without a file and without an earlier run says what to do, exit 2', async () => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['sweep', '--grid', 'T=2,4'], { cwd });
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /no experiment file given/);
    const badGrid = await kdx(['sweep', writeExperiment(cwd, 'x.yaml', tinyExperiment()), '--grid', 'T=range(1,1)'], { cwd });
    assert.equal(badGrid.exitCode, 2);
    assert.match(badGrid.stderr, /range\(1,1\): the range is empty/);
    // Each trial is checked like a file: a grid point that breaks a model fails before anything trains.
    const badPoint = await kdx(['sweep', join(cwd, 'x.yaml'), '--grid', 'models.student[3].dense=4,5'], { cwd });
    assert.equal(badPoint.exitCode, 2);
    assert.match(badPoint.stderr, /^--grid models\.student\[3\]\.dense=5  models\.student\[3\]  model "student" outputs \[5\]/m);
    assert.deepEqual(runDirs(cwd), []);
  } finally {
    cleanup(cwd);
  }
});

test('two kdx processes on one store train each job once', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'shared.yaml', tinyExperiment({ epochs: 2 }));
    const [a, b] = await Promise.all([kdx(['run', file, '--json'], { cwd }), kdx(['run', file, '--json'], { cwd })]);
    assert.equal(a.exitCode, 0, a.stderr);
    assert.equal(b.exitCode, 0, b.stderr);
    const starts = [...parseEvents(a.stdout), ...parseEvents(b.stdout)].filter((e) => e.type === 'job-start').map((e) => (e as { label: string }).label);
    assert.deepEqual(starts.sort(), ['kd_student', 'student', 'teacher'], 'each job trained by exactly one process');
    const ends = [a, b].map((r) => parseEvents(r.stdout).at(-1) as Extract<KdxEvent, { type: 'run-end' }>);
    assert.deepEqual(ends[0].rows[0].stages.kd_student.job, ends[1].rows[0].stages.kd_student.job);
  } finally {
    cleanup(cwd);
  }
});

test('a 3 x 3 sweep over T and alpha trains 11 jobs, not 27, and computes teacher logits once', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'sweep.yaml', tinyExperiment({ epochs: 1 }));
    const dry = await kdx(['sweep', file, '--grid', 'T=2,4,8', 'alpha=range(0.5,1,0.2)', '--dry-run'], { cwd });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stdout, /9 trials, 11 distinct jobs \(0 cached, 11 to run\)/);
    assert.deepEqual(runDirs(cwd), [], 'a dry run writes nothing');

    const result = await kdx(['sweep', file, '--grid', 'T=2,4,8', 'alpha=range(0.5,1,0.2)', '--json', '--jobs', '2'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const events = parseEvents(result.stdout);
    assert.equal(countEvents(events, 'job-start'), 11);
    assert.equal(countEvents(events, 'job-end'), 11);
    assert.equal(countEvents(events, 'trial-end'), 9);
    const logitTasks = new Set(events.filter((e) => e.type === 'task' && e.id.startsWith('teacher-logits')).map((e) => (e as { id: string }).id));
    assert.equal(logitTasks.size, 1, 'teacher logits computed for one trial only');
    const plan = events.find((e) => e.type === 'plan') as Extract<KdxEvent, { type: 'plan' }>;
    assert.equal(plan.trials!.length, 9);
    assert.deepEqual(plan.trials!.map((t) => t.params.alpha).slice(0, 3), [0.5, 0.7, 0.9]);

    const [runDir] = runDirs(cwd);
    const csv = readJson(join(runDir, 'summary.json'));
    assert.equal(csv.rows.length, 9);
    for (const row of csv.rows) assert.equal(typeof row.kdGains.kd_student, 'number');

    // Again: nothing to train, and `kdx results` prints the table of the latest run.
    const again = await kdx(['sweep', file, '--grid', 'T=2,4,8', 'alpha=0.5,0.7,0.9', '--json'], { cwd });
    assert.equal(countEvents(parseEvents(again.stdout), 'job-start'), 0);
    // Without a file, `kdx sweep` takes the last run's.
    const implicit = await kdx(['sweep', '--grid', 'T=2,4', '--dry-run'], { cwd });
    assert.equal(implicit.exitCode, 0, implicit.stderr);
    assert.match(implicit.stdout, /2 trials, 4 distinct jobs \(4 cached, 0 to run\)/);
    const table = await kdx(['results'], { cwd });
    assert.equal(table.exitCode, 0, table.stderr);
    assert.match(table.stdout, /KD gain/);
    assert.equal(table.stdout.split('\n').filter((l) => /^\s*\d+\s+[248]\s+0\.[579]\s/.test(l)).length, 9, table.stdout);
  } finally {
    cleanup(cwd);
  }
});

test('kdx cache gc --dry-run lists what it would remove (each entry with its stage and experiment) and removes nothing', async () => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    assert.equal((await kdx(['run', file], { cwd })).exitCode, 0);
    // Another experiment (other epochs) keeps none of tiny.yaml's jobs.
    const other = writeExperiment(cwd, 'other.yaml', tinyExperiment({ name: 'other', epochs: 3 }));
    const dry = await kdx(['cache', 'gc', other, '--dry-run'], { cwd });
    assert.equal(dry.exitCode, 0, dry.stderr);
    const lines = dry.stdout.trim().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('would remove entry ')).map((l) => l.split(/\s{2,}/).slice(1, 3)).sort(), [['kd_student', 'tiny'], ['student', 'tiny'], ['teacher', 'tiny']]);
    assert.equal(lines.filter((l) => /^would remove teacher logits [0-9a-f]+$/.test(l)).length, 1);
    assert.match(lines.at(-1)!, /^would remove 3 entries, 1 stored logits, 0 unfinished jobs and the quarantine/);
    const ls = await kdx(['cache', 'ls'], { cwd });
    assert.match(ls.stdout, /^3 finished entries in /m, 'a dry run removes nothing');
  } finally {
    cleanup(cwd);
  }
});
