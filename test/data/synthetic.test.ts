import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatasetError } from '../../src/data/errors.js';
import { generateSynthetic, synthetic } from '../../src/plugins/datasets/synthetic.js';

const ctx = (seed: number, options: Record<string, unknown> = {}) => ({ seed, options, emit: () => {} });

test('inputShape and classes work without loading, with defaults', () => {
  assert.deepEqual(synthetic.inputShape({}), [32, 32, 3]);
  assert.equal(synthetic.classes({}), 10);
  assert.deepEqual(synthetic.inputShape({ shape: [28, 28, 1] }), [28, 28, 1]);
  assert.equal(synthetic.classes({ classes: 4 }), 4);
  assert.throws(() => synthetic.inputShape({ shape: [28, 28] }), DatasetError);
  assert.throws(() => synthetic.classes({ classes: 1 }), /classes must be a whole number from 2/);
  assert.throws(() => synthetic.classes({ clases: 3 }), /clases is not an option/);
});

test('the same seed gives the same bytes; another seed different ones', async () => {
  const a = await synthetic.load(ctx(1, { train: 64, test: 32 }));
  const b = await synthetic.load(ctx(1, { train: 64, test: 32 }));
  const c = await synthetic.load(ctx(2, { train: 64, test: 32 }));
  assert.ok(a.train.images instanceof Uint8Array);
  assert.deepEqual(a.train.images, b.train.images);
  assert.deepEqual(a.test.images, b.test.images);
  assert.deepEqual(a.train.labels, b.train.labels);
  assert.notDeepEqual(a.train.images, c.train.images);
  assert.equal(a.train.count, 64);
  assert.equal(a.train.images.length, 64 * 32 * 32 * 3);
  assert.deepEqual(a.shape, [32, 32, 3]);
  // the test set does not depend on the size of the training set
  const d = await synthetic.load(ctx(1, { train: 100, test: 32 }));
  assert.deepEqual(d.test.images, a.test.images);
});

test('it is learnable: nearest class mean beats chance by far', () => {
  const ds = generateSynthetic(0, { shape: [16, 16, 3], classes: 10, train: 500, test: 200 });
  const size = 16 * 16 * 3;
  const means = Array.from({ length: 10 }, () => new Float64Array(size));
  const counts = new Array(10).fill(0);
  for (let i = 0; i < ds.train.count; i++) {
    const k = ds.train.labels[i];
    counts[k]++;
    for (let j = 0; j < size; j++) means[k][j] += ds.train.images[i * size + j];
  }
  means.forEach((m, k) => m.forEach((_, j) => (m[j] /= counts[k])));
  let correct = 0;
  for (let i = 0; i < ds.test.count; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let k = 0; k < 10; k++) {
      let d = 0;
      for (let j = 0; j < size; j++) d += (ds.test.images[i * size + j] - means[k][j]) ** 2;
      if (d < bestD) [bestD, best] = [d, k];
    }
    if (best === ds.test.labels[i]) correct++;
  }
  assert.ok(correct / ds.test.count > 0.6, `accuracy ${correct / ds.test.count}`);
});

test('classes are balanced and the options shape the data', async () => {
  const ds = await synthetic.load(ctx(0, { shape: [8, 6, 1], classes: 4, train: 40, test: 8 }));
  assert.deepEqual(ds.shape, [8, 6, 1]);
  assert.equal(ds.classes, 4);
  assert.equal(ds.train.images.length, 40 * 48);
  const counts = [0, 0, 0, 0];
  for (const l of ds.train.labels) counts[l]++;
  assert.deepEqual(counts, [10, 10, 10, 10]);
});
