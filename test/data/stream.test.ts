import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitDataset, limitSplit } from '../../src/data/split.js';
import { batchesPerEpoch, epochBatches, type StreamBatch, type StreamOptions } from '../../src/data/stream.js';
import { horizontalFlip, normalize, randomCrop } from '../../src/plugins/transforms.js';
import type { DataSplit, ImageShape } from '../../src/registry/types.js';

const SHAPE: ImageShape = [8, 8, 3];
const SIZE = 8 * 8 * 3;

function makeSplit(count: number): DataSplit {
  const images = new Uint8Array(count * SIZE);
  for (let i = 0; i < images.length; i++) images[i] = (i * 31 + (i >> 7)) & 255;
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count };
}

function trainTransforms() {
  return [
    randomCrop.create({ size: 8, padding: 2 }, SHAPE),
    horizontalFlip.create({}, SHAPE),
    normalize.create({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, SHAPE),
  ];
}

function collect(split: DataSplit, options: Partial<StreamOptions> & { epoch: number }): StreamBatch[] {
  return [...epochBatches(split, { batchSize: 16, shape: SHAPE, seed: 7, shuffle: true, transforms: trainTransforms(), ...options })];
}

test('without transforms a batch holds the pixels / 255 in order, labels as int32', () => {
  const split = makeSplit(10);
  const batches = [...epochBatches(split, { batchSize: 4, shape: SHAPE, seed: 0, epoch: 0, shuffle: false })];
  assert.deepEqual(batches.map((b) => b.n), [4, 4, 2]);
  assert.ok(batches[0].y instanceof Int32Array);
  assert.deepEqual([...batches[1].y], [4, 5, 6, 7]);
  assert.deepEqual([...batches[2].indices], [8, 9]);
  const b = batches[1];
  for (let k = 0; k < SIZE * 4; k += 37) assert.equal(b.x[k], Math.fround(split.images[4 * SIZE + k] / 255));
  assert.deepEqual(b.shape, SHAPE);
});

test('the same (seed, epoch) gives the same stream; another epoch or seed differs', () => {
  const split = makeSplit(100);
  const a = collect(split, { epoch: 3 });
  const b = collect(split, { epoch: 3 });
  assert.equal(a.length, 7);
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(a[i].x, b[i].x);
    assert.deepEqual(a[i].y, b[i].y);
  }
  const c = collect(split, { epoch: 4 });
  assert.notDeepEqual(a[0].indices, c[0].indices, 'different epochs shuffle differently');
  assert.notDeepEqual(a[0].x, c[0].x);
  const d = collect(split, { epoch: 3, seed: 8 });
  assert.notDeepEqual(a[0].indices, d[0].indices, 'different seeds shuffle differently');
  // every example is seen exactly once per epoch
  const seen = a.flatMap((batch) => [...batch.indices]).sort((x, y) => x - y);
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
});

test('epoch k is the same whether or not earlier epochs ran; startBatch resumes inside an epoch', () => {
  const split = makeSplit(100);
  for (let e = 0; e < 3; e++) collect(split, { epoch: e });
  const afterOthers = collect(split, { epoch: 3 });
  const fresh = collect(split, { epoch: 3 });
  assert.deepEqual(afterOthers.map((b) => b.x), fresh.map((b) => b.x));
  const tail = collect(split, { epoch: 3, startBatch: 4 });
  assert.deepEqual(tail.map((b) => b.index), [4, 5, 6]);
  assert.deepEqual(tail.map((b) => b.x), fresh.slice(4).map((b) => b.x));
});

test('augmentation varies between batches and epochs but the test stream is unshuffled and fixed', () => {
  const split = makeSplit(64);
  const test1 = [...epochBatches(split, { batchSize: 32, shape: SHAPE, seed: 1, epoch: 0, shuffle: false, transforms: [normalize.create({ mean: [0, 0, 0], std: [1, 1, 1] }, SHAPE)] })];
  const test2 = [...epochBatches(split, { batchSize: 32, shape: SHAPE, seed: 1, epoch: 5, shuffle: false, transforms: [normalize.create({ mean: [0, 0, 0], std: [1, 1, 1] }, SHAPE)] })];
  assert.deepEqual(test1.map((b) => b.x), test2.map((b) => b.x));
  assert.deepEqual([...test1[0].indices], Array.from({ length: 32 }, (_, i) => i));
});

test('dropLast and batchesPerEpoch', () => {
  assert.equal(batchesPerEpoch(50_000, 64), 782);
  assert.equal(batchesPerEpoch(50_000, 64, true), 781);
  assert.equal(batchesPerEpoch(64, 64, true), 1);
  assert.equal(batchesPerEpoch(0, 64), 0);
  assert.throws(() => batchesPerEpoch(10, 0), /batch size/);
  const split = makeSplit(50);
  const kept = collect(split, { epoch: 0, dropLast: true });
  assert.deepEqual(kept.map((b) => b.n), [16, 16, 16]);
  assert.deepEqual(collect(split, { epoch: 0 }).map((b) => b.n), [16, 16, 16, 2]);
});

test('a transform that changes the shape is reflected in the batch', () => {
  const split = makeSplit(5);
  const [b] = [...epochBatches(split, { batchSize: 5, shape: SHAPE, seed: 0, epoch: 0, shuffle: true, transforms: [randomCrop.create({ size: 6 }, SHAPE)] })];
  assert.deepEqual(b.shape, [6, 6, 3]);
  assert.equal(b.x.length, 5 * 6 * 6 * 3);
});

test('float32 images in [0, 1] are used as they are', () => {
  const images = Float32Array.from({ length: 3 * SIZE }, (_, i) => (i % 10) / 10);
  const split: DataSplit = { images, labels: Uint8Array.from([0, 1, 2]), count: 3 };
  const [b] = [...epochBatches(split, { batchSize: 3, shape: SHAPE, seed: 0, epoch: 0, shuffle: false })];
  assert.deepEqual(b.x, images);
  assert.notEqual(b.x, images, 'a copy, not the dataset itself');
});

test('a split whose size does not match the shape is refused', () => {
  assert.throws(() => [...epochBatches({ images: new Uint8Array(10), labels: new Uint8Array(1), count: 1 }, { batchSize: 1, shape: SHAPE, seed: 0, epoch: 0, shuffle: false })], /needs 192 values/);
});

test('limitSplit keeps the first n examples without copying', () => {
  const split = makeSplit(20);
  const small = limitSplit(split, 5);
  assert.equal(small.count, 5);
  assert.equal(small.images.length, 5 * SIZE);
  assert.equal(small.images.buffer, split.images.buffer);
  assert.deepEqual([...small.labels], [0, 1, 2, 3, 4]);
  assert.equal(limitSplit(split, 100), split);
  assert.equal(limitSplit(split, undefined), split);
  assert.equal(limitSplit(split, 0).count, 0);
  assert.throws(() => limitSplit(split, -1), /whole number/);
  const ds = limitDataset({ name: 'x', train: split, test: makeSplit(10) }, { test: 3 });
  assert.equal(ds.train.count, 20);
  assert.equal(ds.test.count, 3);
  const batches = [...epochBatches(small, { batchSize: 4, shape: SHAPE, seed: 0, epoch: 0, shuffle: true })];
  assert.deepEqual(batches.flatMap((b) => [...b.indices]).sort(), [0, 1, 2, 3, 4]);
});
