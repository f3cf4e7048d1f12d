// A teacher trained elsewhere: a stage that loads a model (a previous run's stage directory, or a
// model.json) instead of training it; its files' hash in the keys; a model that does not fit is a
// located error before anything trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cleanup, countEvents, kdx, parseEvents, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

test('a stage loads a previous run\'s teacher; KD trains from it; a teacher that does not fit is an error at `load`', async () => {
  const cwd = scratchDir();
  try {
    const first = await kdx(['run', writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 })), '--json'], { cwd });
    assert.equal(first.exitCode, 0, first.stderr);
    const teacherDir = join(runDirs(cwd)[0], 'stages', 'teacher');

    const loading = tinyExperiment({ epochs: 1 }).replace('teacher: {model: teacher, epochs: "${epochs}"}', `teacher: {model: teacher, load: ${JSON.stringify(teacherDir)}}`);
    const file = writeExperiment(cwd, 'loading.yaml', loading);
    const plan = await kdx(['plan', file], { cwd });
    assert.match(plan.stdout, /\n  1  teacher\s+teacher\s+0  /, plan.stdout);
    const second = await kdx(['run', file, '--json'], { cwd });
    assert.equal(second.exitCode, 0, second.stderr);
    const events = parseEvents(second.stdout);
    assert.equal(countEvents(events, 'job-end'), 2); // the loaded teacher and the KD student
    assert.equal(countEvents(events, 'job-cached'), 1); // the student alone, as in the first run
    const summaries = Object.fromEntries(events.flatMap((e) => (e.type === 'job-end' ? [[e.label, e.summary]] : [])));
    // The loaded teacher is the first run's: the same test accuracy, and no epoch trained.
    const firstEnds = parseEvents(first.stdout).flatMap((e) => (e.type === 'job-end' ? [[e.label, e.summary]] : []));
    assert.equal(summaries.teacher.finalAccuracy, Object.fromEntries(firstEnds).teacher.finalAccuracy);
    const teacherJob = events.find((e) => e.type === 'job-start' && e.label === 'teacher');
    assert.ok(teacherJob?.type === 'job-start');
    assert.equal(events.filter((e) => e.type === 'epoch-end' && e.job === teacherJob.job).length, 0);

    const wider = loading.replace('teacher: [{conv2d: {filters: 8,', 'teacher: [{conv2d: {filters: 6,');
    const misfit = await kdx(['validate', writeExperiment(cwd, 'misfit.yaml', wider)], { cwd });
    assert.equal(misfit.exitCode, 2);
    assert.match(misfit.stderr.split('\n')[0], /misfit\.yaml:\d+:\d+  stages\.teacher\.load  the loaded weights do not fit model "teacher": weight 1 is 3x3x3x8 in the file, 3x3x3x6 in the model$/);

    const fiveClasses = loading.replace('classes: 4', 'classes: 5').replaceAll('{dense: 4}', '{dense: 5}');
    const classes = await kdx(['validate', writeExperiment(cwd, 'classes.yaml', fiveClasses)], { cwd });
    assert.equal(classes.exitCode, 2);
    assert.match(classes.stderr.split('\n')[0], /classes\.yaml:\d+:\d+  stages\.teacher\.load  the loaded model outputs \[4\] per image, but synthetic has 5 classes$/);

    const missing = await kdx(['validate', writeExperiment(cwd, 'missing.yaml', loading.replace(teacherDir, join(cwd, 'nowhere')))], { cwd });
    assert.equal(missing.exitCode, 2);
    assert.match(missing.stderr.split('\n')[0], /stages\.teacher\.load  cannot load a model: no such file or directory: .*nowhere$/);
  } finally {
    cleanup(cwd);
  }
});
