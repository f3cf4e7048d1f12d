import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Batch, ImageShape, Random } from '../../src/registry/types.js';
import { buildTransforms, cropBatch, horizontalFlip, normalize, randomCrop } from '../../src/plugins/transforms.js';
import { createRandom } from '../../src/util/random.js';

/** A Random that returns scripted integers (for known crop offsets) and floats. */
function scripted(ints: number[], floats: number[] = []): Random {
  let i = 0;
  let f = 0;
  return {
    int: (n) => {
      const v = ints[i++];
      assert.ok(v !== undefined && v < n, `scripted int ${v} out of range ${n}`);
      return v;
    },
    next: () => floats[f++] ?? 0,
  };
}

function batchOf(n: number, shape: ImageShape, fill: (i: number) => number = (i) => i + 1): Batch {
  const x = new Float32Array(n * shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < x.length; i++) x[i] = fill(i);
  return { x, n, shape };
}

/** Straightforward reference: pad with zeros, then cut the window at (top, left). */
function referenceCrop(batch: Batch, size: number, padding: number, offsets: [number, number][]): Float32Array {
  const [h, w, c] = batch.shape;
  const out = new Float32Array(batch.n * size * size * c);
  for (let i = 0; i < batch.n; i++) {
    const [top, left] = offsets[i];
    for (let r = 0; r < size; r++)
      for (let q = 0; q < size; q++)
        for (let k = 0; k < c; k++) {
          const y = top + r - padding;
          const x = left + q - padding;
          out[((i * size + r) * size + q) * c + k] = y >= 0 && y < h && x >= 0 && x < w ? batch.x[((i * h + y) * w + x) * c + k] : 0;
        }
  }
  return out;
}

test('randomCrop with padding puts zeros at the borders for a known offset', () => {
  // one 4x4x1 image with values 1..16; crop 4 with padding 2 at top=0, left=0: shifted down-right by 2
  const batch = batchOf(1, [4, 4, 1]);
  const out = cropBatch(batch, 4, 2, scripted([0, 0]));
  assert.deepEqual(out.shape, [4, 4, 1]);
  assert.deepEqual([...out.x], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 5, 6]);
  // top=4, left=3 (the far corner): shifted up by 2, left by 1
  const out2 = cropBatch(batchOf(1, [4, 4, 1]), 4, 2, scripted([4, 3]));
  assert.deepEqual([...out2.x], [10, 11, 12, 0, 14, 15, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // the centre (top = left = padding) is the identity
  assert.deepEqual([...cropBatch(batchOf(1, [4, 4, 1]), 4, 2, scripted([2, 2])).x], [...batchOf(1, [4, 4, 1]).x]);
});

test('randomCrop matches a pad-then-cut reference, in place and to a smaller size, multi-channel', () => {
  for (const [size, padding] of [[8, 4], [8, 0], [5, 1], [6, 3]] as const) {
    const shape: ImageShape = [8, 8, 3];
    const n = 20;
    const rng = createRandom(size * 10 + padding);
    const ints: number[] = [];
    const offsets: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const top = rng.int(8 + 2 * padding - size + 1);
      const left = rng.int(8 + 2 * padding - size + 1);
      ints.push(top, left);
      offsets.push([top, left]);
    }
    const input = batchOf(n, shape, (i) => (i % 97) + 1);
    const expected = referenceCrop(input, size, padding, offsets);
    const out = cropBatch(batchOf(n, shape, (i) => (i % 97) + 1), size, padding, scripted(ints));
    assert.deepEqual(out.shape, [size, size, 3]);
    assert.deepEqual(out.x, expected, `size ${size} padding ${padding}`);
  }
});

test('randomCrop factory: output shape, defaults and argument errors', () => {
  assert.deepEqual(randomCrop.outputShape!({ size: 28 }, [32, 32, 3]), [28, 28, 3]);
  const t = randomCrop.create({ size: 32, padding: 4 }, [32, 32, 3]);
  const out = t(batchOf(2, [32, 32, 3]), createRandom(0));
  assert.equal(out.x.length, 2 * 32 * 32 * 3);
  assert.throws(() => randomCrop.create({ size: 40, padding: 2 }, [32, 32, 3]), /larger than the padded image/);
  assert.throws(() => randomCrop.create({ padding: 2 }, [32, 32, 3]), /randomCrop.size/);
  assert.throws(() => randomCrop.create({ size: 32, padding: -1 }, [32, 32, 3]), /randomCrop.padding/);
});

test('horizontalFlip with p=1 mirrors every image, p=0 none', () => {
  const flip = horizontalFlip.create({ p: 1 }, [2, 3, 2]);
  // one image 2 rows x 3 cols x 2 channels: pixel (r, q) = [10r+q, 100+10r+q]
  const x = Float32Array.from([0, 100, 1, 101, 2, 102, 10, 110, 11, 111, 12, 112]);
  const out = flip({ x, n: 1, shape: [2, 3, 2] }, createRandom(0));
  assert.deepEqual([...out.x], [2, 102, 1, 101, 0, 100, 12, 112, 11, 111, 10, 110]);
  const none = horizontalFlip.create({ p: 0 }, [2, 3, 2]);
  const y = Float32Array.from([0, 100, 1, 101, 2, 102, 10, 110, 11, 111, 12, 112]);
  assert.deepEqual([...none({ x: y, n: 1, shape: [2, 3, 2] }, createRandom(0)).x], [0, 100, 1, 101, 2, 102, 10, 110, 11, 111, 12, 112]);
  // default p = 0.5: the images whose draw is below 0.5 are flipped
  const half = horizontalFlip.create({}, [1, 2, 1]);
  const out3 = half({ x: Float32Array.from([1, 2, 1, 2]), n: 2, shape: [1, 2, 1] }, scripted([], [0.2, 0.7]));
  assert.deepEqual([...out3.x], [2, 1, 1, 2]);
  assert.throws(() => horizontalFlip.create({ p: 2 }, [1, 2, 1]), /horizontalFlip.p/);
});

test('normalize applies (x - mean) / std per channel and checks its lengths', () => {
  const t = normalize.create({ mean: [0.5, 0.25], std: [0.5, 0.25] }, [1, 2, 2]);
  const out = t({ x: Float32Array.from([1, 0.5, 0, 0]), n: 1, shape: [1, 2, 2] }, createRandom(0));
  assert.deepEqual([...out.x], [1, 1, -1, -1]);
  const rgb = normalize.create({ mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] }, [1, 1, 3]);
  const v = rgb({ x: Float32Array.from([0.5, 0.5, 0.5]), n: 1, shape: [1, 1, 3] }, createRandom(0)).x;
  assert.ok(Math.abs(v[0] - (0.5 - 0.4914) / 0.247) < 1e-6);
  assert.ok(Math.abs(v[2] - (0.5 - 0.4465) / 0.261) < 1e-6);
  assert.throws(() => normalize.create({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5] }, [32, 32, 3]), /mean has 3 values but std has 2/);
  assert.throws(() => normalize.create({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, [28, 28, 1]), /images have 1 channel/);
  assert.throws(() => normalize.create({ mean: [0.5], std: [0] }, [28, 28, 1]), /must be > 0/);
});

test('buildTransforms threads shapes through a chain', () => {
  const { transforms, outputShape } = buildTransforms(
    [
      { factory: randomCrop, args: { size: 24, padding: 0 } },
      { factory: horizontalFlip, args: {} },
      { factory: normalize, args: { mean: [0, 0, 0], std: [1, 1, 1] } },
    ],
    [32, 32, 3],
  );
  assert.equal(transforms.length, 3);
  assert.deepEqual(outputShape, [24, 24, 3]);
});
