// What the report computes from run data: seeds averaged, the trial it shows, heatmap cells, teacher
// agreement; and the page it builds for grids a heatmap cannot show. No training: the data is made here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreement, evaluationOf } from '../../src/report/evaluation.js';
import { runLabels, shownGroup, stageStats, stat, sweepCells, trialGroups } from '../../src/report/html/analysis.js';
import { buildReport } from '../../src/report/html/report.js';
import { readRunData, type RunData, type StageData, type TrialData } from '../../src/report/run-data.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSummary, ResultRow } from '../../src/events.js';

function stage(name: string, finalAccuracy: number, extra: Partial<StageData> = {}): StageData {
  const summary: JobSummary = { stage: name, model: 'm', params: 100, epochs: 2, finalAccuracy, bestAccuracy: finalAccuracy, finalLoss: 1, seconds: 1, imgPerSec: 10, backend: 'cpu' };
  const history = [1, 2].map((epoch) => ({ epoch, loss: 1 / epoch, testLoss: 1 / epoch, testAccuracy: finalAccuracy / (3 - epoch), imgPerSec: 10, seconds: 0.5, lr: 0.01 }));
  return { name, model: 'm', job: `${name}-job`, status: 'done', summary, history, ...extra };
}

/** A trial of a student, a distilled student and a teacher: the teacher's job is shared by every trial
 * (a teacher with its own seed), the students' are the trial's own. */
function trial(params: Record<string, unknown>, student: number, kd: number): TrialData {
  const id = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(',');
  const stages = [stage('student', student, { job: `student-${id}` }), stage('kd', kd, { teacher: 'teacher', job: `kd-${id}` }), stage('teacher', 0.9)];
  const row: ResultRow = { trial: id, params, stages: Object.fromEntries(stages.map((s) => [s.name, { ...s.summary!, job: s.job, status: s.status }])), kdGains: { kd: kd - student } };
  return { id, params, stages, kdGains: { kd: kd - student }, kdGain: kd - student, row };
}

function sweep(trials: TrialData[], name = 'x'): RunData {
  return { dir: `runs/${name}`, kind: 'sweep', name, status: 'ok', gridKeys: [...new Set(trials.flatMap((t) => Object.keys(t.params)))], trials, missing: [] };
}

test('mean and sample standard deviation; one value has no spread', () => {
  assert.deepEqual(stat([1, undefined, 3]), { mean: 2, std: Math.SQRT2, n: 2 });
  assert.deepEqual(stat([0.5]), { mean: 0.5, n: 1 });
  assert.equal(stat([undefined]), undefined);
});

test('trials differing only in their seed are averaged, and the best group is shown', () => {
  const run = sweep([
    trial({ T: 2, seed: 0 }, 0.5, 0.52),
    trial({ T: 2, seed: 1 }, 0.5, 0.56),
    trial({ T: 4, seed: 0 }, 0.5, 0.5),
    trial({ T: 4, seed: 1 }, 0.5, 0.51),
  ]);
  assert.equal(trialGroups(run).length, 2);
  const best = shownGroup(run);
  assert.deepEqual(best.params, { T: 2 });
  const kd = stageStats(best).find((s) => s.stage === 'kd')!;
  assert.equal(kd.finalAccuracy!.n, 2);
  assert.ok(Math.abs(kd.finalAccuracy!.mean - 0.54) < 1e-12);
  assert.ok(Math.abs(kd.kdGain!.mean - 0.04) < 1e-12);
  assert.ok(kd.kdGain!.std! > 0);
  assert.equal(stageStats(best).find((s) => s.stage === 'student')!.kdGain, undefined, 'a plain stage has no KD gain');
  assert.deepEqual(stageStats(best).find((s) => s.stage === 'teacher')!.finalAccuracy, { mean: 0.9, n: 1 }, 'the shared teacher is one job, without a spread');

  const { keys, cells, orders } = sweepCells(run, 'kd');
  assert.deepEqual(keys, ['T']);
  assert.deepEqual(orders, [['2', '4']]);
  assert.deepEqual(cells.map((c) => c.trials), [2, 2]);
});

test('a confusion matrix counts true x predicted; agreement compares predictions', () => {
  const a = evaluationOf([0, 1, 1, 2], Int32Array.from([0, 1, 2, 2]), 3);
  assert.deepEqual(a.confusion, [[1, 0, 0], [0, 1, 1], [0, 0, 1]]);
  const b = evaluationOf([0, 1, 1, 2], [0, 2, 2, 2], 3);
  assert.equal(agreement(a, b), 0.75);
  assert.equal(agreement(a, evaluationOf([0], [0], 3)), undefined, 'different test sets do not compare');
});

test('runs with the same name are numbered', () => {
  assert.deepEqual(runLabels([sweep([], 'a'), sweep([], 'b'), sweep([], 'a')]), ['a#1', 'b', 'a#3']);
});

test('a grid of three keys gets a table instead of a heatmap; a page is whole and escaped', async () => {
  const trials = [trial({ T: 2, alpha: 0.5, lr: 1 }, 0.5, 0.6), trial({ T: 4, alpha: 0.5, lr: 1 }, 0.5, 0.4)];
  const html = await buildReport([sweep(trials, 'three<keys>')]);
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /data-chart="heatmap-/);
  assert.match(html, /3 grid keys: a table instead of a heatmap/);
  assert.match(html, /three&lt;keys&gt;/);
  assert.doesNotMatch(html, /three<keys>/);
  assert.doesNotMatch(html, /<!--chart:\d+-->/, 'every chart placeholder is filled');
});

test('many classes get a table of the top confusions instead of a matrix; few get a matrix with teacher agreement', async () => {
  const labels = Array.from({ length: 400 }, (_, i) => i % 40);
  const many = trial({}, 0.5, 0.6);
  many.stages[0].evaluation = evaluationOf(labels, labels.map((y) => (y === 3 ? 4 : y)), 40);
  const manyHtml = await buildReport([{ ...sweep([many]), kind: 'run', gridKeys: [] }]);
  assert.doesNotMatch(manyHtml, /data-chart="confusion"/);
  assert.match(manyHtml, /40 classes, the 12 most frequent confusions/);
  assert.match(manyHtml, /<td class="left" data-sort="3">3<\/td><td class="left" data-sort="4">4<\/td><td class="right" data-sort="10">10<\/td>/);

  const few = trial({}, 0.5, 0.6);
  const [student, kd, teacher] = few.stages;
  student.evaluation = evaluationOf([0, 1, 2, 0], [0, 1, 2, 0], 3);
  kd.evaluation = evaluationOf([0, 1, 2, 0], [0, 1, 1, 0], 3);
  teacher.evaluation = evaluationOf([0, 1, 2, 0], [0, 1, 2, 2], 3);
  const fewHtml = await buildReport([{ ...sweep([few]), kind: 'run', gridKeys: [] }]);
  assert.equal(fewHtml.match(/data-chart="confusion"/g)?.length, 3);
  assert.match(fewHtml, /75\.0% of 4 test images right; agrees with its teacher \(teacher\) on 50\.0%/);
});

test('over seeds, the comparison shows a teacher every seed shares as one job: its accuracy without a spread, "1 (shared)" seeds', async () => {
  const html = await buildReport([sweep([trial({ seed: 0 }, 0.5, 0.52), trial({ seed: 1 }, 0.5, 0.56), trial({ seed: 2 }, 0.5, 0.55)])]);
  const row = /<tr>(?:(?!<\/tr>).)*?>teacher<\/td>(?:(?!<\/tr>).)*<\/tr>/s.exec(html.slice(html.indexOf('id="comparison-table"')))![0];
  assert.match(row, />90\.0%<\/td>/);
  assert.doesNotMatch(row, /±/);
  assert.match(row, />1 \(shared\)<\/td>/);
});

test('the training loss of plain stages (cross-entropy) and of distilled ones (their objective) are on separate charts', async () => {
  const html = await buildReport([{ ...sweep([trial({}, 0.5, 0.6)]), kind: 'run', gridKeys: [] }]);
  /** The series a chart's legend names. */
  const legend = (chart: string) => {
    const start = html.indexOf(`data-chart="${chart}"`);
    assert.ok(start >= 0, `a ${chart} chart`);
    const figure = html.slice(start, html.indexOf('</figure>', start));
    return [...figure.matchAll(/role-legend-label[^]*?>([^<]+)<\/text>/g)].map((m) => m[1]);
  };
  assert.deepEqual(legend('curve-train-loss'), ['student', 'teacher']);
  assert.deepEqual(legend('curve-train-objective'), ['kd']);
  assert.deepEqual(legend('curve-test-loss'), ['student', 'kd', 'teacher'], 'test losses are all cross-entropy');
});

test('a failed run\'s directory says what it lacks: the results of the stages that did not finish', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdx-failed-run-'));
  try {
    writeFileSync(join(dir, 'experiment.json'), '{}');
    writeFileSync(join(dir, 'events.jsonl'), `${JSON.stringify({ type: 'log', time: 1, level: 'info', message: 'x' })}\n`);
    const stages = { teacher: { job: 'a', status: 'failed', error: 'no such dataset' }, kd: { job: 'b', status: 'skipped', error: 'needs teacher, which failed' } };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ kind: 'run', status: 'failed', rows: [{ params: {}, stages }] }));
    assert.deepEqual(readRunData(dir).missing, [
      'results of teacher (failed), kd (skipped): they did not finish, so there are no curves, metrics or confusion matrix (the comparison says why)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
