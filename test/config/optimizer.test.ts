// A stage's optimizer merges key by key over the experiment's; defaults apply once, after the merge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExperiment } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/diagnostics.js';
import { tinyExperiment } from '../e2e/support.js';

const withOptimizers = (top: string, stage: string) =>
  tinyExperiment()
    .replace('optimizer: {name: adamw, lr: 3.0e-3}', `optimizer: ${top}`)
    .replace('  student: {model: student, epochs: "${epochs}"}', `  student: {model: student, epochs: "\${epochs}", optimizer: ${stage}}`);

async function optimizers(top: string, stage: string) {
  const { experiment } = await parseExperiment('x.yaml', withOptimizers(top, stage), { checkShapes: false });
  return { teacher: experiment.stages.teacher.optimizer, student: experiment.stages.student.optimizer };
}

test('a stage that sets momentum keeps the experiment\'s sgd, lr and nesterov', async () => {
  const { student, teacher } = await optimizers('{name: sgd, lr: 0.1, momentum: 0.9, nesterov: true}', '{momentum: 0.5}');
  assert.deepEqual(student, { name: 'sgd', lr: 0.1, momentum: 0.5, nesterov: true, dampening: 0, weightDecay: 0, schedule: { type: 'constant' } });
  assert.deepEqual(teacher, { ...student, momentum: 0.9 });
});

test('a stage that sets only a schedule keeps the experiment\'s lr', async () => {
  const { student } = await optimizers('{name: sgd, lr: 0.1, momentum: 0.9}', '{schedule: {type: step, stepSize: 2, gamma: 0.5}}');
  assert.equal(student.name, 'sgd');
  assert.equal(student.lr, 0.1);
  assert.equal(student.momentum, 0.9);
  assert.deepEqual(student.schedule, { type: 'step', stepSize: 2, gamma: 0.5 });
});

test('a stage that names another optimizer starts from its defaults plus the experiment\'s lr and schedule', async () => {
  const { student } = await optimizers('{name: sgd, lr: 0.1, momentum: 0.9, schedule: {type: cosine}}', '{name: adamw}');
  assert.equal(student.name, 'adamw');
  assert.equal(student.lr, 0.1);
  assert.equal(student.momentum, undefined, 'sgd\'s momentum means nothing to adamw');
  assert.deepEqual(student.betas, [0.9, 0.999]);
  assert.equal(student.weightDecay, 0.01);
  assert.equal((student.schedule as { type: string }).type, 'cosine');
});

test('without any optimizer: adamw at lr 1e-3 with torch.optim.AdamW\'s defaults', async () => {
  const text = tinyExperiment().replace('optimizer: {name: adamw, lr: 3.0e-3}\n', '');
  const { experiment } = await parseExperiment('x.yaml', text, { checkShapes: false });
  assert.deepEqual(experiment.stages.teacher.optimizer, { name: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, schedule: { type: 'constant' } });
});

test('a combination the optimizer refuses is a located error before training', async () => {
  await assert.rejects(
    parseExperiment('x.yaml', withOptimizers('{name: sgd, lr: 0.1}', '{nesterov: true}'), { checkShapes: false }),
    (error: unknown) => error instanceof ConfigError && /^x\.yaml:\d+:\d+  stages\.student\.optimizer  optimizer sgd: nesterov needs momentum > 0/.test(error.report()),
  );
});
