// Several teachers, per-stage data, repeated seeds and the KD papers' metrics, through the real binary:
// experiments/quick.yaml over 3 seeds (the distilled student beats the plain one on each), the ensemble
// example (two teachers, students on 10% of the data), and a sweep over seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KdxEvent, ResultRow } from '../../src/events.js';
import { cleanup, hasStackTrace, kdx, parseEvents, readJson, repoRoot, runDirs, scratchDir } from './support.js';

const example = (name: string) => join(repoRoot, 'experiments', name);

test('kdx run experiments/quick.yaml --seeds 3: mean ± std per stage, and a positive KD gain on every seed', async () => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['run', example('quick.yaml'), '--seeds', '3', '--quiet'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.match(result.stdout, /^stage +final \(mean ± std\)/m);
    for (const stage of ['student', 'kd_student']) assert.match(result.stdout, new RegExp(`^${stage} +\\d+\\.\\d% ± \\d+\\.\\d`, 'm'));
    // The teacher has its own seed: one job, one sample, no spread.
    assert.match(result.stdout, /^teacher +\d+\.\d% {2}/m);
    assert.match(result.stdout, /^seeds 0, 1, 2: mean ± std \(sample\)$/m);
    assert.match(result.stdout, /^KD gain kd_student: \+\d+\.\dpt ± \d+\.\d \(95% CI [+-]\d+\.\dpt to \+\d+\.\dpt, paired t over 3 seeds\); per seed \+[\d.]+pt, \+[\d.]+pt, \+[\d.]+pt$/m);

    // The README quotes this table, and its per-seed gains in the examples' table: the current code's.
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const quoted = readme.slice(readme.indexOf('      stage       final (mean ± std)'), readme.indexOf('\n\n', readme.indexOf('      KD gain kd_student:')));
    const printed = result.stdout.slice(result.stdout.indexOf('stage       final (mean ± std)'));
    for (const line of quoted.split('\n')) assert.ok(printed.includes(line.slice(6)), `README.md quotes a line kdx no longer prints:\n${line}\nkdx printed:\n${printed}`);
    const perSeed = printed.match(/per seed (\+[\d.]+)pt, (\+[\d.]+)pt, (\+[\d.]+)pt/)!.slice(1);
    assert.ok(readme.includes(`\`--seeds 3\`: ${perSeed[0]}, ${perSeed[1]} and ${perSeed[2]} points`), `README.md's examples table should quote the per-seed gains ${perSeed.join(', ')}`);

    const [runDir] = runDirs(cwd);
    const { rows } = readJson<{ rows: ResultRow[] }>(join(runDir, 'summary.json'));
    assert.deepEqual(rows.map((row) => row.seed), [0, 1, 2]);
    const gains = rows.map((row) => row.kdGains!.kd_student!);
    // A clear margin on each seed (about +10 points in practice), not a coin flip.
    for (const gain of gains) assert.ok(gain >= 0.03, `per-seed KD gains ${gains.map((g) => g.toFixed(3)).join(', ')}`);
    // The teacher has its own seed: one job shared by the three replicas; the students differ per seed.
    const jobs = (stage: string) => new Set(rows.map((row) => row.stages[stage].job));
    assert.equal(jobs('teacher').size, 1);
    assert.equal(jobs('kd_student').size, 3);
    // Each replica's outputs in its own trial directory.
    const metrics = readJson(join(runDir, 'trials', 'seed=1', 'stages', 'kd_student', 'metrics.json'));
    assert.equal(typeof metrics.summary.teacherAgreement, 'number');

    const again = await kdx(['results'], { cwd });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /^KD gain kd_student: \+/m);
    assert.match(again.stdout, /^kd_student +\d+\.\d% ± /m);
  } finally {
    cleanup(cwd);
  }
});

test('experiments/ensemble.yaml: two teachers averaged into a student on 10% of the data; metrics.json holds top-5, agreement, KL and ECE', async () => {
  const cwd = scratchDir();
  try {
    const small = ['--set', 'teacherEpochs=1', '--set', 'epochs=2', '--set', 'fraction=0.1'];
    const result = await kdx(['run', example('ensemble.yaml'), ...small, '--json'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const events = parseEvents(result.stdout);
    const plan = events.find((e): e is Extract<KdxEvent, { type: 'plan' }> => e.type === 'plan')!;
    const job = (stage: string) => plan.jobs.find((j) => j.stage === stage)!;
    assert.deepEqual(job('kd_ensemble').dependsOn, [job('teacher').job, job('teacher_b').job]);
    // The students train on 10% of the 2048 images (205) in batches of 16: 13 steps an epoch.
    const start = (stage: string) => events.find((e): e is Extract<KdxEvent, { type: 'job-start' }> => e.type === 'job-start' && e.job === job(stage).job)!;
    assert.equal(start('kd_ensemble').batchesPerEpoch, 13);
    assert.equal(start('teacher').batchesPerEpoch, 32);
    // Each teacher's logits on the students' stream, computed once and shared by both students.
    assert.equal(events.filter((e) => e.type === 'task' && e.id.startsWith('teacher-logits') && e.done).length, 2);

    const [runDir] = runDirs(cwd);
    const stageDir = (stage: string) => join(runDir, 'stages', stage);
    const ensemble = readJson(join(stageDir('kd_ensemble'), 'metrics.json')).summary;
    for (const key of ['top5Accuracy', 'ece', 'teacherAgreement', 'teacherKL']) {
      assert.equal(typeof ensemble[key], 'number', `${key} in ${JSON.stringify(ensemble)}`);
    }
    assert.ok(ensemble.top5Accuracy >= ensemble.finalAccuracy && ensemble.top5Accuracy <= 1);
    assert.ok(ensemble.teacherAgreement >= 0 && ensemble.teacherAgreement <= 1 && ensemble.teacherKL >= 0 && ensemble.ece >= 0 && ensemble.ece <= 1);
    const student = readJson(join(stageDir('student'), 'metrics.json')).summary;
    assert.equal(typeof student.top5Accuracy, 'number');
    assert.equal(student.teacherAgreement, undefined, 'a plain student has no teacher to agree with');
    assert.deepEqual(readJson(join(stageDir('kd_ensemble'), 'config.json')).stage.teachers, [{ stage: 'teacher', weight: 0.5 }, { stage: 'teacher_b', weight: 0.5 }]);
  } finally {
    cleanup(cwd);
  }
});

test('kdx sweep --seeds 2: one line per grid point with mean ± std and the KD gain with its interval', async () => {
  const cwd = scratchDir();
  try {
    const small = ['--set', 'teacherEpochs=1', '--set', 'epochs=2'];
    const result = await kdx(['sweep', example('quick.yaml'), '--grid', 'alpha=0.5,0.9', '--seeds', '2', ...small, '--quiet'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const [runDir] = runDirs(cwd);
    const { rows } = readJson<{ rows: ResultRow[] }>(join(runDir, 'summary.json'));
    assert.deepEqual(rows.map((row) => [row.params.alpha, row.seed]), [[0.5, 0], [0.5, 1], [0.9, 0], [0.9, 1]]);
    // The plain student does not read alpha: one job per seed, shared by both grid points.
    assert.equal(new Set(rows.map((row) => row.stages.student.job)).size, 2);
    const csv = (await kdx(['results', '--format', 'csv'], { cwd })).stdout.trim().split('\n');
    assert.equal(csv.length, 3, csv.join('\n'));
    assert.match(csv[0], /^rank,alpha,seeds,teacher\.final_accuracy,teacher\.final_accuracy_std,.*kd_student\.kd_gain,kd_student\.kd_gain_low,kd_student\.kd_gain_high$/);
    assert.match(csv[1], /^1,0\.[59],2,/);
  } finally {
    cleanup(cwd);
  }
});
