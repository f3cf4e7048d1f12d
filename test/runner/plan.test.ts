// Job keys hash exactly what determines a job's result (DESIGN.md, "Plan, hashes, cache").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExperiment } from '../../src/config/load.js';
import { planExperiment } from '../../src/runner/plan.js';
import { planTrials } from '../../src/runner/run.js';
import { tinyExperiment } from '../e2e/support.js';

async function keys(text: string, overrides: string[] = []): Promise<Record<string, string>> {
  const { experiment } = await parseExperiment('x.yaml', text, { overrides, checkShapes: false });
  return Object.fromEntries(planExperiment(experiment, 'wasm').jobs.map((job) => [job.stage.name, job.key]));
}

test('a job key ignores the run name, the stage name and parameters the stage does not read', async () => {
  const base = await keys(tinyExperiment());
  assert.deepEqual(await keys(tinyExperiment({ name: 'other' })), base);
  assert.deepEqual(await keys(tinyExperiment().replace('params: {', 'params: {unused: 1, ')), base);
  const renamed = await keys(tinyExperiment().replace('  student: {model: student', '  plain: {model: student'));
  assert.equal(renamed.plain, base.student);
});

test('changing alpha changes only the KD job; changing the teacher changes the KD job too', async () => {
  const base = await keys(tinyExperiment());
  const alpha = await keys(tinyExperiment(), ['alpha=0.5']);
  assert.equal(alpha.teacher, base.teacher);
  assert.equal(alpha.student, base.student);
  assert.notEqual(alpha.kd_student, base.kd_student);
  const wider = await keys(tinyExperiment(), ['models.teacher[0].conv2d.filters=16']);
  assert.notEqual(wider.teacher, base.teacher);
  assert.equal(wider.student, base.student);
  assert.notEqual(wider.kd_student, base.kd_student, 'a KD job depends on its teacher');
  for (const override of ['seed=1', 'data.batchSize=16', 'optimizer.lr=0.01', 'data.limit.train=100']) {
    const changed = await keys(tinyExperiment(), [override]);
    assert.notEqual(changed.student, base.student, override);
  }
});

test('a sweep plan merges the trials: shared jobs once, labelled without trial values', async () => {
  const trials = await Promise.all(
    [2, 4, 8].map(async (T) => ({ id: `T${T}`, params: { T }, experiment: (await parseExperiment('x.yaml', tinyExperiment(), { overrides: [`T=${T}`], checkShapes: false })).experiment })),
  );
  const { jobs, planned } = planTrials(trials, 'wasm');
  assert.equal(jobs.length, 5);
  assert.deepEqual(jobs.map((j) => j.label).sort(), ['kd_student[T=2]', 'kd_student[T=4]', 'kd_student[T=8]', 'student', 'teacher']);
  assert.equal(planned[0].jobs.find((j) => j.stage.name === 'teacher'), planned[2].jobs.find((j) => j.stage.name === 'teacher'));
});
