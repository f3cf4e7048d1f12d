// The batch stream a training loop consumes: examples gathered in a (seeded) shuffled order, pixels
// scaled to [0, 1] like torchvision's ToTensor, then the split's transforms applied to the whole batch.
//
// Determinism: the shuffle order is drawn from deriveSeed(seed, 'data/shuffle', epoch) and batch b's
// augmentation from deriveSeed(seed, 'data/augment', epoch, b). Nothing else feeds them, so two stages
// with the same seed see exactly the same stream, epoch k can be produced without replaying epochs
// 0..k-1, and a run resumed inside an epoch (startBatch) gets the same batches as an uninterrupted one.
import type { Batch, BatchTransform, DataSplit, ImageShape } from '../registry/types.js';
import { createRandom, deriveSeed, permutation } from '../util/random.js';

export interface StreamOptions {
  batchSize: number;
  /** Shape of one stored example (the dataset's shape). */
  shape: ImageShape;
  transforms?: BatchTransform[];
  seed: number;
  epoch: number;
  /** Shuffle the examples (training); false keeps file order (test). */
  shuffle: boolean;
  /** Leave out a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Start at this batch of the epoch (resuming); earlier batches are not built. Default 0. */
  startBatch?: number;
}

export interface StreamBatch {
  /** n * h * w * c floats, NHWC, after the transforms. A fresh buffer per batch: the consumer owns it. */
  x: Float32Array;
  /** n class indices. */
  y: Int32Array;
  n: number;
  /** Shape of one example after the transforms. */
  shape: ImageShape;
  /** Position of the batch in the epoch. */
  index: number;
  /** Indices into the split of the batch's examples. */
  indices: Uint32Array;
}

/** Number of batches in an epoch of `count` examples. */
export function batchesPerEpoch(count: number, batchSize: number, dropLast = false): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a whole number >= 1 (got ${batchSize})`);
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** The order in which an epoch visits the examples: a seeded permutation, or 0..count-1 unshuffled. */
export function epochOrder(count: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  if (shuffle) return permutation(count, createRandom(deriveSeed(seed, 'data/shuffle', epoch)));
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order;
}

/** ToTensor's v / 255 for every byte value, exactly as float32. */
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** x[i] = images[indices[i]] / 255 for each example i (kept out of the generator so it optimises well). */
function gatherBytes(images: Uint8Array, indices: Uint32Array, size: number, x: Float32Array): void {
  const lut = BYTE_TO_UNIT;
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * size;
    const dst = i * size;
    for (let k = 0; k < size; k++) x[dst + k] = lut[images[src + k]];
  }
}

/** The batches of one epoch, built lazily one at a time. */
export function* epochBatches(split: DataSplit, options: StreamOptions): Generator<StreamBatch, void, undefined> {
  const { batchSize, seed, epoch, shuffle } = options;
  const transforms = options.transforms ?? [];
  const [h, w, c] = options.shape;
  const size = h * w * c;
  const { images, labels, count } = split;
  if (images.length !== count * size) {
    throw new Error(`a data split of ${count} examples of shape ${h}x${w}x${c} needs ${count * size} values, but it has ${images.length}`);
  }
  const batches = batchesPerEpoch(count, batchSize, options.dropLast ?? false);
  const order = epochOrder(count, seed, epoch, shuffle);
  const bytes = images instanceof Uint8Array ? images : undefined;
  for (let b = options.startBatch ?? 0; b < batches; b++) {
    const start = b * batchSize;
    const n = Math.min(batchSize, count - start);
    const indices = order.slice(start, start + n);
    const x = new Float32Array(n * size);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) y[i] = labels[indices[i]];
    if (bytes) gatherBytes(bytes, indices, size, x);
    else for (let i = 0; i < n; i++) x.set(images.subarray(indices[i] * size, indices[i] * size + size), i * size);
    let batch: Batch = { x, n, shape: [h, w, c] };
    if (transforms.length > 0) {
      const random = createRandom(deriveSeed(seed, 'data/augment', epoch, b));
      for (const transform of transforms) batch = transform(batch, random);
    }
    yield { x: batch.x, y, n, shape: batch.shape, index: b, indices };
  }
}
