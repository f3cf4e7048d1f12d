// Legal but wrong for kdx: a model that ends in softmax (it outputs probabilities, the losses expect
// logits), a cosine warm-up as long as the training. validate and plan accept the file and warn, at its line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, hasStackTrace, kdx, scratchDir, writeExperiment } from '../e2e/support.js';

const experiment = (teacherTail: string) => `name: sm
data:
  dataset: synthetic
  options: {shape: [8, 8, 1], classes: 4, train: 64, test: 32}
models:
  teacher: [flatten, ${teacherTail}]
  student: [flatten, {dense: 4}]
stages:
  teacher: {model: teacher, epochs: 1}
  kd: {model: student, teacher: teacher, epochs: 1}
`;

test('validate and plan warn about a teacher whose last layer is softmax, and still succeed', async () => {
  const cwd = scratchDir();
  try {
    for (const tail of ['{dense: 4}, softmax', '{dense: {units: 4, activation: softmax}}']) {
      const file = writeExperiment(cwd, 'sm.yaml', experiment(tail));
      for (const command of ['validate', 'plan']) {
        const result = await kdx([command, file], { cwd });
        assert.equal(result.exitCode, 0, result.stderr);
        assert.match(result.stderr, /sm\.yaml:6:\d+ {2}models\.teacher\[\d\] {2}warning: teacher ends in softmax, so it outputs probabilities, not logits; a teacher must output logits/, `${command} with ${tail}`);
        assert.ok(!hasStackTrace(result.stderr));
      }
    }
    const clean = await kdx(['validate', writeExperiment(cwd, 'ok.yaml', experiment('{dense: 4}'))], { cwd });
    assert.equal(clean.exitCode, 0);
    assert.equal(clean.stderr, '', 'no warning without a softmax');
  } finally {
    cleanup(cwd);
  }
});

test('validate and plan warn about a cosine warm-up as long as a stage\'s training, also when --set shortens the training', async () => {
  const cwd = scratchDir();
  try {
    const text = experiment('{dense: 4}').replace('models:', 'optimizer:\n  name: sgd\n  lr: 0.1\n  schedule: {type: cosine, warmupEpochs: 2}\nmodels:');
    const file = writeExperiment(cwd, 'cos.yaml', text.replace('teacher: {model: teacher, epochs: 1}', 'teacher: {model: teacher, epochs: 5}').replace('kd: {model: student, teacher: teacher, epochs: 1}', 'kd: {model: student, teacher: teacher, epochs: 5}'));
    const clean = await kdx(['validate', file], { cwd });
    assert.equal(clean.exitCode, 0, clean.stderr);
    assert.equal(clean.stderr, '', 'a warm-up shorter than the training');
    for (const command of ['validate', 'plan']) {
      const result = await kdx([command, file, '--set', 'stages.kd.epochs=2'], { cwd });
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stderr, /^\S*cos\.yaml:8:42 {2}optimizer\.schedule\.warmupEpochs {2}warning: a cosine warm-up of 2 epochs is not shorter than the training of kd \(2 epochs\): the learning rate never reaches its base value nor decays/, command);
      assert.ok(!hasStackTrace(result.stderr));
    }
  } finally {
    cleanup(cwd);
  }
});
