// The model zoo (experiments/models/*.yaml): every model has exactly the trainable parameter count of
// mdistiller's PyTorch model at 100 classes, as `kdx plan` prints it; every model trains a step on
// synthetic data; and the benchmark pairs of experiments/cifar100/ import the models they name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadExperiment } from '../../src/config/load.js';
import { formatPlan } from '../../src/commands/plan.js';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import { registry } from '../../src/registry/index.js';
import { buildModel } from '../../src/registry/model.js';
import { crossEntropy } from '../../src/plugins/losses.js';
import { kdx, repo } from './support.js';

const zoo = join(repo, 'experiments', 'models');

/** mdistiller's models at 100 classes, trainable parameters as PyTorch counts them, by zoo file. */
const expected: Record<string, Record<string, number>> = {
  'resnet.yaml': { resnet20: 278_324, resnet32: 472_756, resnet56: 861_620, resnet110: 1_736_564, resnet8x4: 1_233_540, resnet32x4: 7_433_860 },
  'wrn.yaml': { wrn_40_2: 2_255_156, wrn_40_1: 569_780, wrn_16_2: 703_284 },
  'vgg.yaml': { vgg8_bn: 3_965_028, vgg13_bn: 9_462_180 },
  'mobilenetv2.yaml': { MobileNetV2: 812_836 },
  'shufflenetv1.yaml': { ShuffleV1: 949_258 },
  'shufflenetv2.yaml': { ShuffleV2: 1_355_528 },
};

const printed = (plan: string) =>
  Object.fromEntries([...plan.matchAll(/^Model (\S+): ([\d,]+) parameters$/gm)].map(([, name, count]) => [name, Number(count.replaceAll(',', ''))]));

for (const [file, models] of Object.entries(expected)) {
  test(`${file}: the plan prints mdistiller's parameter count of each model`, async () => {
    const { experiment } = await loadExperiment(join(zoo, file));
    assert.equal(experiment.data.dataset, 'cifar100');
    assert.deepEqual(printed(formatPlan(experiment, 'wasm', () => false)), models);
  });
}

test('`kdx plan` prints them too', async () => {
  const result = await kdx(['plan', join(zoo, 'resnet.yaml')]);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.deepEqual(printed(result.stdout), expected['resnet.yaml']);
});

test('every zoo model trains on synthetic data (SGD, batchNorm in training mode) and its loss goes down; 16x16 images keep it quick', async () => {
  await selectBackend('wasm');
  const [x, labels] = tf.tidy(() => {
    const images = tf.randomUniform([4, 16, 16, 3], 0, 1, 'float32', 1);
    return [images, tf.tensor1d([0, 1, 2, 3], 'int32')];
  });
  try {
    for (const file of Object.keys(expected)) {
      const { experiment } = await loadExperiment(join(zoo, file));
      for (const name of Object.keys(expected[file])) {
        const { model } = buildModel(name, experiment.models[name], [16, 16, 3], 0);
        const optimizer = registry.optimizers.get('sgd').create({ name: 'sgd', lr: 0.01 });
        const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const losses: number[] = [];
        for (let step = 0; step < 2; step++) {
          const loss = tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => crossEntropy(model.apply(x, { training: true }) as Tensor, labels).mean() as tf.Scalar, trainable);
            optimizer.applyGradients(grads);
            return value;
          });
          losses.push((await loss.data())[0]);
          loss.dispose();
        }
        assert.ok(losses.every(Number.isFinite), `${name}: ${losses}`);
        // One step down the gradient lowers the loss on the same images.
        assert.ok(losses[1] < losses[0], `${name}: the loss does not go down on 4 images: ${losses.map((l) => l.toFixed(3)).join(', ')}`);
        optimizer.dispose();
        model.dispose();
      }
    }
  } finally {
    x.dispose();
    labels.dispose();
  }
});

test('the mdistiller benchmark pairs import the models they name', async () => {
  const pairs: [string, string, string][] = [
    ['resnet56-resnet20.yaml', 'resnet56', 'resnet20'],
    ['resnet32x4-resnet8x4.yaml', 'resnet32x4', 'resnet8x4'],
    ['wrn_40_2-wrn_16_2.yaml', 'wrn_40_2', 'wrn_16_2'],
    ['vgg13-vgg8.yaml', 'vgg13_bn', 'vgg8_bn'],
    ['vgg13-mobilenetv2.yaml', 'vgg13_bn', 'MobileNetV2'],
  ];
  const counts = Object.assign({}, ...Object.values(expected)) as Record<string, number>;
  for (const [file, teacher, student] of pairs) {
    const { experiment } = await loadExperiment(join(repo, 'experiments', 'cifar100', file));
    assert.deepEqual(printed(formatPlan(experiment, 'wasm', () => false)), { teacher: counts[teacher], student: counts[student] }, file);
    assert.deepEqual(Object.keys(experiment.stages), ['teacher', 'student', 'kd']);
    const { kd } = experiment.stages;
    assert.deepEqual([kd.teachers, kd.loss], [[{ stage: 'teacher', weight: 1 }], { type: 'kd', args: { temperature: 4, alpha: 0.9 } }]);
    assert.equal(kd.epochs, 240);
    assert.deepEqual(kd.optimizer.schedule, { type: 'multistep', milestones: [150, 180, 210], gamma: 0.1 });
    assert.equal(kd.optimizer.name, 'sgd');
    assert.equal(kd.optimizer.momentum, 0.9);
    assert.equal(kd.optimizer.weightDecay, 5e-4);
    assert.equal(experiment.data.batchSize, 64);
  }
});
