// The block vocabulary of a model: residual, concat, split, repeat, reusable blocks, list splicing and
// `x-` keys; grouped convolution and channel shuffle; `extends` and model imports between files. Shapes,
// parameter counts, numerics against plain tfjs, saved models that load again, and located errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExperiment, parseExperiment } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/diagnostics.js';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import { buildModel, describeModel } from '../../src/registry/model.js';
import { loadModelDir, modelToFiles } from '../../src/runner/model-io.js';
import { BatchNorm, ChannelShuffle, GroupedConv2D } from '../../src/plugins/channel-layers.js';

/** An experiment on 8x8x4 synthetic images in 3 classes, with these models and blocks. */
const experiment = (models: string, extra = '') => `
data:
  dataset: synthetic
  options: {shape: [8, 8, 4], classes: 3, train: 8, test: 4}
${extra}
models:
${models}
stages:
  a: {model: m, epochs: 1}
`;

const load = async (text: string, file = 'blocks.yaml') => (await parseExperiment(file, text)).experiment;

async function firstError(text: string, file = 'blocks.yaml'): Promise<string> {
  try {
    await parseExperiment(file, text);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n')[0];
    throw error;
  }
  return assert.fail('accepted');
}

const head = '    - globalAvgPool2d\n    - dense: 3';

test('ResNet-style basic block: auto shortcut is the identity when the shape is kept, a strided 1x1 conv + batchNorm otherwise', async () => {
  const blocks = `blocks:
  basic:
    params: {filters: ~, strides: 1}
    layers:
      - residual:
          body:
            - conv2d: {filters: "\${filters}", strides: "\${strides}", padding: same, bias: false}
            - batchNorm
          after: relu`;
  const e = await load(experiment(`  m:\n    - basic: {filters: 4}\n    - basic: {filters: 8, strides: 2}\n${head}`, blocks));
  const { rows, params } = describeModel('m', e.models.m, [8, 8, 4]);
  assert.deepEqual(
    rows.map((r) => [r.type, r.outputShape.join('x'), r.params]),
    [
      ['basic(filters=4, strides=1)', '8x8x4', 9 * 4 * 4 + 8],
      ['basic(filters=8, strides=2)', '4x4x8', 9 * 4 * 8 + 16 + (4 * 8 + 16)], // + the projection
      ['globalAvgPool2d', '8', 0],
      ['dense', '3', 27],
    ],
  );
  assert.equal(params, rows.reduce((s, r) => s + r.params, 0));
});

test('a nested list is spliced in place, x- keys are ignored, and repeat unrolls with separate weights', async () => {
  const e = await load(experiment(`  m:\n    - *stem\n    - repeat: {times: 3, layers: {conv2d: {filters: 4, kernel: 1}}}\n${head}`, 'x-stem: &stem [{conv2d: {filters: 4, kernel: 1}}, relu]'));
  assert.deepEqual(e.models.m.slice(0, 2), [
    { type: 'conv2d', args: { filters: 4, kernel: 1, strides: 1, padding: 'valid', bias: true } },
    { type: 'relu', args: {} },
  ]);
  const { params, rows } = describeModel('m', e.models.m, [8, 8, 4]);
  assert.equal(rows[2].type, 'repeat 3 x conv2d');
  assert.equal(rows[2].params, 3 * (16 + 4));
  assert.equal(params, 4 * 20 + 15);
});

test('concat of branches, split into channel parts, grouped conv as depthwise, channel shuffle', async () => {
  const e = await load(
    experiment(`  m:
    - concat:
        - []
        - [{conv2d: {filters: 2, kernel: 1}}]
    - split: [[], [{conv2d: {filters: 3, kernel: 3, padding: same, groups: 3}}]]
    - channelShuffle: 2
    - conv2d: {filters: 6, kernel: 1, groups: 2, bias: false}
${head}`),
  );
  const { rows } = describeModel('m', e.models.m, [8, 8, 4]);
  assert.deepEqual(
    rows.map((r) => [r.type, r.outputShape.join('x'), r.params]),
    [
      ['concat', '8x8x6', 4 * 2 + 2],
      ['split', '8x8x6', 9 * 3 + 3], // the second half: groups = channels, a depthwise conv
      ['channelShuffle', '8x8x6', 0],
      ['conv2d', '8x8x6', 6 * 3], // two groups of 3 -> 3
      ['globalAvgPool2d', '6', 0],
      ['dense', '3', 21],
    ],
  );
});

test('grouped convolution equals separate convolutions of each group; channel shuffle interleaves the groups', async () => {
  await selectBackend('wasm');
  const layer = new GroupedConv2D({ filters: 6, kernelSize: [3, 3], strides: [2, 2], padding: 'same', groups: 3, useBias: true, seed: 1 });
  tf.tidy(() => {
    const x = tf.randomNormal([2, 5, 5, 9], 0, 1, 'float32', 3);
    const y = layer.apply(x) as Tensor;
    const [kernel, bias] = layer.getWeights();
    const expected = tf.concat(
      [0, 1, 2].map((g) => tf.conv2d(x.slice([0, 0, 0, 3 * g], [-1, -1, -1, 3]) as tf.Tensor4D, kernel.slice([0, 0, 0, 2 * g], [-1, -1, -1, 2]) as tf.Tensor4D, 2, 'same')),
      3,
    ).add(bias);
    assert.deepEqual(y.shape, [2, 3, 3, 6]);
    assert.ok(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0] < 1e-5);
    const shuffled = new ChannelShuffle({ groups: 2 }).apply(tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 1, 1, 6])) as Tensor;
    assert.deepEqual(Array.from(shuffled.dataSync()), [0, 3, 1, 4, 2, 5]);
  });
  layer.dispose();
});

test('a model with grouped convs, shuffles, splits and batchNorm is saved and loads again with the same outputs', async () => {
  await selectBackend('wasm');
  const e = await load(experiment(`  m:
    - split: [[], [{conv2d: {filters: 2, kernel: 1, groups: 2}}]]
    - channelShuffle: 2
    - batchNorm
${head}`));
  const { model } = buildModel('m', e.models.m, [8, 8, 4], 0);
  const loaded = await (async () => {
    const files = await modelToFiles(model);
    const dir = mkdtempSync(join(tmpdir(), 'kdx-blocks-'));
    try {
      writeFileSync(join(dir, 'model.json'), files['model.json']);
      writeFileSync(join(dir, 'weights.bin'), files['weights.bin']);
      return await loadModelDir(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  tf.tidy(() => {
    const x = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 5);
    assert.deepEqual(Array.from((loaded.predict(x) as Tensor).dataSync()), Array.from((model.predict(x) as Tensor).dataSync()));
  });
  model.dispose();
  loaded.dispose();
});

test('MobileNetV2-style: expand is a multiple of the input channels, ifSameShape adds the input only when the shape is kept', async () => {
  const inverted = `blocks:
  inverted:
    params: {filters: ~, strides: 1}
    layers:
      - residual:
          shortcut: ifSameShape
          body: [{conv2d: {expand: 2, kernel: 1, bias: false}}, {depthwiseConv2d: {strides: "\${strides}", padding: same, bias: false}}, {conv2d: {filters: "\${filters}", kernel: 1, bias: false}}]`;
  const e = await load(experiment(`  m:\n    - inverted: {filters: 4}\n    - inverted: {filters: 6, strides: 2}\n${head}`, inverted));
  const { rows } = describeModel('m', e.models.m, [8, 8, 4]);
  assert.deepEqual(rows.slice(0, 2).map((r) => [r.outputShape.join('x'), r.params]), [
    ['8x8x4', 4 * 8 + 9 * 8 + 8 * 4],
    ['4x4x6', 4 * 8 + 9 * 8 + 8 * 6], // no projection
  ]);
});

test('block mistakes are located: a missing parameter, a block that uses itself, a name taken by a layer, a bad shortcut, a bad value inside a block', async () => {
  const block = (layers: string, params = '{filters: ~}') => `blocks:\n  b:\n    params: ${params}\n    layers: ${layers}`;
  assert.equal(
    await firstError(experiment(`  m:\n    - b: {}\n${head}`, block('[{conv2d: {filters: "${filters}", kernel: 1}}]'))),
    'blocks.yaml:11:7  models.m[0]  block "b" needs its parameter "filters"',
  );
  assert.equal(
    await firstError(experiment(`  m:\n    - b: {filters: 2}\n${head}`, block('[{b: {filters: 2}}]'))),
    'blocks.yaml:11:7  models.m[0]  block "b" uses itself: b -> b (in block "b", at blocks.b.layers[0])',
  );
  assert.equal(
    await firstError(experiment(`  m:\n${head}`, 'blocks:\n  relu: {layers: [relu]}')),
    'blocks.yaml:6:3  blocks.relu  block "relu" has the name of a layer: give it another',
  );
  assert.equal(
    await firstError(experiment(`  m:\n    - residual: {body: [relu], shortcut: identty}\n${head}`)),
    'blocks.yaml:8:42  models.m[0].residual.shortcut  must be one of auto, identity, ifSameShape, or layers (got "identty") (did you mean "identity"?)',
  );
  // A value a use puts into the block's layers is checked there, where the block reads it.
  assert.equal(
    await firstError(experiment(`  m:\n    - b: {filters: many}\n${head}`, block('\n      - conv2d: {filters: "${filters}", kernel: 1}'))),
    'blocks.yaml:9:27  blocks.b.layers[0].conv2d.filters  must be an integer (got "many")',
  );
  // A shape mistake inside a block is reported where the block is used, and says where in the block.
  assert.equal(
    await firstError(experiment(`  m:\n    - b: {filters: 4}\n${head}`, block('\n      - residual: {body: [{conv2d: {filters: "${filters}", kernel: 3}}], shortcut: identity}'))),
    'blocks.yaml:12:7  models.m[0]  the body gives [6, 6, 4], the shortcut gives [8, 8, 4]: they must be equal to be added (in block "b", at blocks.b.layers[0])',
  );
});

test('extends merges mappings key by key and replaces lists; a mistake in the base file is located there; a cycle of two files, in the file given', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdx-extends-'));
  try {
    writeFileSync(join(dir, 'base.yaml'), experiment(`  m:\n${head}`).replace('train: 8', 'train: 8, extra: 1') + 'optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n');
    writeFileSync(join(dir, 'child.yaml'), 'extends: base.yaml\noptimizer: {lr: 0.01}\nstages:\n  a: {model: m, epochs: 2}\n');
    await assert.rejects(loadExperiment(join(dir, 'child.yaml')), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message.split('\n')[0], /base\.yaml:4:12  data\.options  data\.options\.extra is not an option of the synthetic dataset/);
      return true;
    });
    writeFileSync(join(dir, 'base.yaml'), experiment(`  m:\n${head}`) + 'optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n');
    const { experiment: e } = await loadExperiment(join(dir, 'child.yaml'));
    assert.deepEqual([e.optimizer.name, e.optimizer.lr, e.optimizer.momentum], ['sgd', 0.01, 0.9]);
    assert.deepEqual(e.stages.a.epochs, 2);
    assert.equal(e.name, 'child');
    writeFileSync(join(dir, 'base.yaml'), 'extends: child.yaml\n');
    // In the file given, which is where the user looks (the other file's line is the same mistake).
    await assert.rejects(loadExperiment(join(dir, 'child.yaml')), /\/child\.yaml:1:10  extends  the files extend each other in a cycle: \S*child\.yaml -> \S*base\.yaml -> \S*child\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model imported from another file brings that file\'s blocks; a mistake in it is located in that file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdx-import-'));
  try {
    writeFileSync(join(dir, 'zoo.yaml'), `blocks:\n  b:\n    params: {filters: ~}\n    layers: [{conv2d: {filters: "\${filters}", kernel: 1}}]\nmodels:\n  good: [{b: {filters: 2}}, globalAvgPool2d, {dense: 3}]\n  bad: [{b: {filters: 2}}, {conv2d: {filters: 2, kernel: 9}}, globalAvgPool2d, {dense: 3}]\n`);
    writeFileSync(join(dir, 'exp.yaml'), experiment('  m: {from: zoo.yaml, model: good}'));
    const { experiment: e } = await loadExperiment(join(dir, 'exp.yaml'));
    assert.equal(describeModel('m', e.models.m, [8, 8, 4]).params, 4 * 2 + 2 + 9);
    writeFileSync(join(dir, 'exp.yaml'), experiment('  m: {from: zoo.yaml, model: bad}'));
    await assert.rejects(loadExperiment(join(dir, 'exp.yaml')), (error: Error) => {
      assert.match(error.message.split('\n')[0], /zoo\.yaml:7:28  models\.bad\[1\]  conv2d turns an input of shape \[8, 8, 2\] into \[0, 0, 2\]: the input is too small for it$/);
      return true;
    });
    writeFileSync(join(dir, 'exp.yaml'), experiment('  m: {from: zooo.yaml, model: good}'));
    await assert.rejects(loadExperiment(join(dir, 'exp.yaml')), /exp\.yaml:7:13  models\.m\.from  cannot import from zooo\.yaml: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batchNorm: the forward pass and gradients of tfjs\' own, PyTorch\'s running statistics (unbiased variance); saved and loaded', async () => {
  await selectBackend('wasm');
  const ours = new BatchNorm({ momentum: 0.1, epsilon: 1e-5 });
  const theirs = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
  for (const layer of [ours, theirs]) {
    layer.apply(tf.input({ shape: [5, 5, 3] }));
    layer.setWeights([tf.tensor1d([0.5, 2, -1]), tf.tensor1d([0.1, 0.2, 0.3]), tf.zeros([3]), tf.ones([3])]);
  }
  const x = tf.randomNormal([4, 5, 5, 3], 1, 2, 'float32', 1);
  const w = tf.randomNormal([4, 5, 5, 3], 0, 1, 'float32', 2);
  const run = (layer: typeof ours | typeof theirs) => {
    const f = (input: Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as Tensor, w));
    const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, layer.trainableWeights.map((v) => v.read() as tf.Variable));
    const dx = tf.grad(f)(x);
    return [value, ...Object.values(grads), dx].map((t) => Array.from(t.dataSync()));
  };
  const [a, b] = [run(ours), run(theirs)];
  a.forEach((values, i) => values.forEach((v, j) => assert.ok(Math.abs(v - b[i][j]) < 1e-4 * Math.max(1, Math.abs(b[i][j])), `output ${i}[${j}]: ${v} vs ${b[i][j]}`)));
  // Running variance after the steps above (two training calls): PyTorch's update with the unbiased variance.
  const [, , movingMean, movingVariance] = ours.getWeights().map((t) => Array.from(t.dataSync()));
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const n = 4 * 5 * 5;
  const expectMean = Array.from(mean.dataSync()).map((m) => 0.1 * m + 0.9 * 0.1 * m);
  const expectVar = Array.from(variance.dataSync()).map((v) => {
    const unbiased = (v * n) / (n - 1);
    return 0.9 * (0.9 + 0.1 * unbiased) + 0.1 * unbiased;
  });
  movingMean.forEach((m, i) => assert.ok(Math.abs(m - expectMean[i]) < 1e-4));
  movingVariance.forEach((v, i) => assert.ok(Math.abs(v - expectVar[i]) < 1e-4));
  for (const t of [x, w, mean, variance]) t.dispose();
  ours.dispose();
  theirs.dispose();
});
