// Several teachers, per-stage data, repeated seeds and the test metrics KD papers report: the pieces
// in isolation (subsets, keys, statistics, ECE), and an ensemble trained for real on tiny synthetic data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExperiment } from '../../src/config/load.js';
import { subsetProblem, subsetSplit } from '../../src/data/subset.js';
import { planExperiment } from '../../src/runner/plan.js';
import { execute } from '../../src/runner/run.js';
import { expectedCalibrationError, testMetrics } from '../../src/runner/test-metrics.js';
import { modelLogits } from '../../src/runner/evaluate.js';
import { pairedGain, seedGroups, stat, tCritical95 } from '../../src/report/seeds.js';
import { renderResults } from '../../src/report/table.js';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { Store } from '../../src/store/store.js';
import type { KdxEvent, ResultRow } from '../../src/events.js';
import { tinyExperiment } from '../e2e/support.js';

const split = (labels: number[]) => ({
  images: Uint8Array.from(labels.flatMap((label, i) => [i, label])), // two values per image: its index and label
  labels: Uint8Array.from(labels),
  count: labels.length,
});

test('subsets: the first N, a seeded fraction in file order, chosen classes; the label space is kept', () => {
  const data = split([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
  const first = subsetSplit(data, { first: 4 });
  assert.deepEqual([...first.labels], [0, 1, 2, 0]);
  assert.deepEqual([...first.images], [0, 0, 1, 1, 2, 2, 3, 0]);

  const a = subsetSplit(data, { fraction: 0.3, seed: 7 });
  assert.equal(a.count, 3);
  const indices = [...a.images].filter((_, i) => i % 2 === 0);
  assert.deepEqual(indices, [...indices].sort((x, y) => x - y), 'kept in the split\'s order');
  assert.deepEqual([...a.labels], indices.map((i) => data.labels[i]), 'each image keeps its label');
  assert.deepEqual(subsetSplit(data, { fraction: 0.3, seed: 7 }), a, 'the same seed draws the same images');
  const draws = new Set([1, 2, 3, 4, 5, 6].map((seed) => [...subsetSplit(data, { fraction: 0.3, seed }).images].join()));
  assert.ok(draws.size > 1, 'another seed draws other images');

  const classes = subsetSplit(data, { classes: [2, 0] });
  assert.deepEqual([...classes.labels], [0, 2, 0, 2, 0, 2, 0]);
  assert.deepEqual([...classes.images].filter((_, i) => i % 2 === 0), [0, 2, 3, 5, 6, 8, 9]);
});

test('subset problems: larger than the split, a fraction that keeps nothing, a class that does not exist', () => {
  assert.equal(subsetProblem({ first: 10 }, 10, 3), undefined);
  assert.deepEqual(subsetProblem({ first: 11 }, 10, 3), { at: ['first'], message: 'the subset takes the first 11 images, but the training split has 10' });
  assert.deepEqual(subsetProblem({ fraction: 0.01, seed: 0 }, 10, 3)?.at, ['fraction']);
  assert.deepEqual(subsetProblem({ classes: [0, 3] }, 10, 3), { at: ['classes', 1], message: 'class 3 does not exist: the dataset\'s classes are 0 to 2' });
});

const STAGES = `
  t2: {model: teacher, epochs: "\${epochs}", seed: 1}
  ensemble: {model: student, epochs: "\${epochs}", teacher: [teacher, {stage: t2, weight: 3}]}
  few: {model: student, epochs: "\${epochs}", data: {subset: {fraction: 0.1}, batchSize: 8}}
`;

async function plan(extra: string, overrides: string[] = []) {
  const { experiment } = await parseExperiment('x.yaml', tinyExperiment({ extra }), { overrides, checkShapes: false });
  return { experiment, jobs: Object.fromEntries(planExperiment(experiment, 'wasm').jobs.map((job) => [job.stage.name, job])) };
}

test('several teachers: weights normalised, every teacher a dependency; the weights and the subset are part of the keys', async () => {
  const { experiment, jobs } = await plan(STAGES);
  assert.deepEqual(experiment.stages.ensemble.teachers, [{ stage: 'teacher', weight: 0.25 }, { stage: 't2', weight: 0.75 }]);
  assert.deepEqual(jobs.ensemble.dependsOn, [jobs.teacher.id, jobs.t2.id]);
  assert.deepEqual(jobs.ensemble.teachers, [{ id: jobs.teacher.id, weight: 0.25 }, { id: jobs.t2.id, weight: 0.75 }]);
  assert.deepEqual(experiment.stages.few.data, { batchSize: 8, subset: { fraction: 0.1, seed: 0 } }, 'the draw\'s seed defaults to the stage\'s');
  assert.deepEqual(experiment.stages.student.data, { batchSize: 32 });

  const reweighted = await plan(STAGES.replace('weight: 3', 'weight: 1'));
  assert.notEqual(reweighted.jobs.ensemble.key, jobs.ensemble.key);
  assert.equal(reweighted.jobs.few.key, jobs.few.key);
  const moreData = await plan(STAGES.replace('fraction: 0.1', 'fraction: 0.2'));
  assert.notEqual(moreData.jobs.few.key, jobs.few.key);
  assert.equal(moreData.jobs.student.key, jobs.student.key, 'a stage without a subset is untouched');
  // A stage without `data` hashes as before stages had one: the subset enters only where it is written.
  const plain = await plan('');
  assert.equal(plain.jobs.kd_student.key, jobs.kd_student.key);
});

test('a repeated-seeds replica: stages without their own seed take it, the dataset keeps the file\'s', async () => {
  const { experiment } = await parseExperiment('x.yaml', tinyExperiment({ extra: STAGES }), { checkShapes: false, trainingSeed: 5 });
  assert.equal(experiment.seed, 0);
  assert.deepEqual(Object.values(experiment.stages).map((s) => [s.name, s.seed]), [['teacher', 5], ['student', 5], ['kd_student', 5], ['t2', 1], ['ensemble', 5], ['few', 5]]);
  const base = await plan(STAGES);
  const replica = Object.fromEntries(planExperiment(experiment, 'wasm').jobs.map((job) => [job.stage.name, job.key]));
  assert.equal(replica.t2, base.jobs.t2.key, 'a stage with its own seed is shared by every replica');
  assert.notEqual(replica.teacher, base.jobs.teacher.key);
});

test('statistics: sample std, the paired t interval (95%, n - 1 degrees of freedom)', () => {
  assert.deepEqual(stat([0.01, 0.02, 0.03].map((x) => x * 100)), { mean: 2, std: 1, n: 3 });
  assert.equal(tCritical95(2), 4.303);
  assert.equal(tCritical95(1), 12.706);
  const gain = pairedGain([1, 2, 3])!;
  assert.equal(gain.mean, 2);
  assert.ok(Math.abs(gain.low! - (2 - 4.303 / Math.sqrt(3))) < 1e-12);
  assert.ok(Math.abs(gain.high! - (2 + 4.303 / Math.sqrt(3))) < 1e-12);
  assert.deepEqual(pairedGain([0.5]), { mean: 0.5, n: 1, perSeed: [0.5] }, 'one seed: no interval');
});

test('seed rows: grouped by grid point, mean ± std per stage and the paired gain, in the table', () => {
  const summary = (stage: string, finalAccuracy: number, job: string) => ({ stage, model: 'm', params: 1, epochs: 1, finalAccuracy, bestAccuracy: finalAccuracy, finalLoss: 1, seconds: 1, imgPerSec: 1, backend: 'cpu', job, status: 'done' as const });
  const rows: ResultRow[] = [[0, 0.6, 0.65], [1, 0.62, 0.66], [2, 0.58, 0.66]].map(([seed, plain, kd]) => ({
    trial: `seed=${seed}`, params: {}, seed,
    // The teacher has its own seed: one job shared by the three rows.
    stages: { teacher: summary('teacher', 0.9, 'teacher-job'), student: summary('student', plain, `student-${seed}`), kd: summary('kd', kd, `kd-${seed}`) },
    kdGains: { kd: kd - plain },
  }));
  const [group] = seedGroups(rows);
  assert.deepEqual(group.seeds, [0, 1, 2]);
  assert.ok(Math.abs(group.stages.student.finalAccuracy!.mean - 0.6) < 1e-12);
  assert.ok(Math.abs(group.stages.student.finalAccuracy!.std! - 0.02) < 1e-12);
  assert.ok(Math.abs(group.kdGains.kd.mean - 0.0566666) < 1e-6);
  assert.deepEqual(group.stages.teacher.finalAccuracy, { mean: 0.9, n: 1 }, 'a job shared by every seed is one sample');
  // Both students with their own seeds: the same two jobs in every row are one difference, no interval.
  const shared = rows.map((row) => ({ ...row, stages: { ...row.stages, student: summary('student', 0.6, 'student-job'), kd: summary('kd', 0.65, 'kd-job') }, kdGains: { kd: 0.65 - 0.6 } }));
  const [one] = seedGroups(shared);
  assert.equal(one.kdGains.kd.n, 1);
  assert.equal(one.kdGains.kd.low, undefined);
  const text = renderResults(rows, 'text', { kind: 'run', width: 200 });
  assert.match(text, /^student +3 +60\.0% ± 2\.0/m);
  assert.match(text, /^kd +3 +65\.7% ± 0\.6 .* \+5\.7pt \[\+/m);
  assert.match(text, /KD gain kd: \+5\.7pt ± 2\.1 \(95% CI \+[\d.]+pt to \+[\d.]+pt, paired t over 3 seeds\); per seed \+5\.0pt, \+4\.0pt, \+8\.0pt/);
});

test('expected calibration error: 15 equal bins, weighted by their share of the images', () => {
  assert.equal(expectedCalibrationError([1, 1], [1, 1]), 0, 'confident and right');
  // Two images at confidence 0.95 (bin 15), one right: |0.5 - 0.95| weighted 2/4; two at 0.5 (bin 8), both right: |1 - 0.5| weighted 2/4.
  assert.ok(Math.abs(expectedCalibrationError([0.95, 0.95, 0.5, 0.5], [1, 0, 1, 1]) - (0.5 * 0.45 + 0.5 * 0.5)) < 1e-12);
});

test('test metrics: top-5 and agreement of a model with itself, on real tensors', async () => {
  await selectBackend('wasm');
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 2, 1] }), tf.layers.dense({ units: 7, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' })] });
  const classes = [0, 1, 2, 3, 4, 5, 6, 0];
  const labels = Uint8Array.from(classes);
  const data = { images: Uint8Array.from(classes.flatMap((l, i) => [l * 30, i * 20])), labels, count: labels.length };
  const logits = model.predict(tf.tensor4d(Float32Array.from(data.images, (v) => v / 255), [8, 1, 2, 1])) as tf.Tensor;
  const rows = (await logits.array()) as number[][];
  logits.dispose();
  const top5 = rows.filter((row, i) => row.filter((v) => v > row[labels[i]]).length < 5).length / 8;
  // The model's logits as its final evaluation leaves them; the same model, run live, as the teacher.
  const metrics = await testMetrics(Float32Array.from(rows.flat()), [{ logitsOf: modelLogits(model), weight: 1 }], data, [1, 2, 1], [], 3);
  assert.ok(Math.abs(metrics.top5Accuracy - top5) < 1e-12, `${metrics.top5Accuracy} vs ${top5}`);
  assert.equal(metrics.teacherAgreement, 1);
  assert.ok(Math.abs(metrics.teacherKL!) < 1e-6);
  model.dispose();
});

test('an ensemble of two identical teachers with equal weights trains exactly as the one teacher', async () => {
  await selectBackend('wasm');
  // t2 is the teacher under another name: the same key, so the same logits; their average is those logits.
  const extra = `
  t2: {model: teacher, epochs: "\${epochs}"}
  ensemble:
    model: student
    epochs: \${epochs}
    teacher: [teacher, t2]
    loss: {kd: {temperature: "\${T}", alpha: "\${alpha}"}}
`;
  const { experiment } = await parseExperiment('tiny.yaml', tinyExperiment({ extra, epochs: 1 }));
  const dir = mkdtempSync(join(tmpdir(), 'kdx-ensemble-'));
  try {
    const events: KdxEvent[] = [];
    const result = await execute({
      name: 'tiny', kind: 'run', trials: [{ id: '', params: {}, experiment }], store: new Store(join(dir, 'cache')), runDir: dir,
      backend: { name: 'wasm', label: 'wasm' }, jobs: 1, emit: (e) => events.push(e),
    });
    assert.equal(result.status, 'ok');
    const metrics = (stage: string) => JSON.parse(readFileSync(join(dir, 'stages', stage, 'metrics.json'), 'utf8'));
    const single = metrics('kd_student');
    const ensemble = metrics('ensemble');
    assert.deepEqual(ensemble.history, single.history);
    assert.equal(ensemble.summary.teacherAgreement, single.summary.teacherAgreement);
    for (const key of ['top5Accuracy', 'ece', 'teacherAgreement', 'teacherKL']) assert.equal(typeof ensemble.summary[key], 'number', key);
    const logitTasks = events.filter((e) => e.type === 'task' && e.id.startsWith('teacher-logits') && e.done);
    // Both teachers have one key and both students one stream: the logits are computed once, read thrice.
    assert.equal(logitTasks.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
