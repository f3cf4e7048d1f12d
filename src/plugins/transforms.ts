// Built-in batch transforms. Each works on a whole NHWC Float32Array batch at once and, when the shape
// does not change, in place (the batch's buffer belongs to the stream that made it, which hands every
// batch a fresh one). Randomness comes only from the Random passed in, so a transform is deterministic
// for a given stream.
import type { Batch, BatchTransform, ImageShape, Random, TransformFactory } from '../registry/types.js';

function intArg(args: Record<string, unknown>, key: string, fallback: number | undefined, min: number, transform: string): number {
  const value = args[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${transform}.${key} must be a whole number >= ${min} (got ${JSON.stringify(args[key])})`);
  }
  return value;
}

function numberList(args: Record<string, unknown>, key: string, transform: string): number[] {
  const value = args[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error(`${transform}.${key} must be a list of numbers, one per channel (got ${JSON.stringify(value)})`);
  }
  return value as number[];
}

/**
 * Crops `size` x `size` at a random place of the image padded with `padding` zeros on every side, like
 * torchvision's RandomCrop(size, padding) (constant 0 fill). One offset per image.
 */
export function cropBatch(batch: Batch, size: number, padding: number, random: Random): Batch {
  const { x, n } = batch;
  const [h, w, c] = batch.shape;
  const rangeY = h + 2 * padding - size + 1;
  const rangeX = w + 2 * padding - size + 1;
  if (rangeY < 1 || rangeX < 1) throw new Error(`randomCrop: size ${size} is larger than the padded image (${h + 2 * padding}x${w + 2 * padding})`);
  const inPlace = size === h && size === w;
  const out = inPlace ? x : new Float32Array(n * size * size * c);
  const rowIn = w * c;
  const rowOut = size * c;
  for (let i = 0; i < n; i++) {
    // Output pixel (r, q) comes from input pixel (r + dy, q + dx); outside the input it is padding (0).
    const dy = random.int(rangeY) - padding;
    const dx = random.int(rangeX) - padding;
    const inBase = i * h * rowIn;
    const outBase = i * size * rowOut;
    const q0 = Math.max(0, -dx); // first output column with a source pixel
    const q1 = Math.min(size, w - dx); // one past the last
    // In place, rows are visited so that a row is overwritten only after it has served as a source.
    const down = dy > 0 || !inPlace;
    for (let k = 0; k < size; k++) {
      const r = down ? k : size - 1 - k;
      const o = outBase + r * rowOut;
      const sy = r + dy;
      if (sy < 0 || sy >= h || q1 <= q0) {
        out.fill(0, o, o + rowOut);
        continue;
      }
      const s = inBase + sy * rowIn + (q0 + dx) * c;
      if (inPlace) out.copyWithin(o + q0 * c, s, s + (q1 - q0) * c);
      else out.set(x.subarray(s, s + (q1 - q0) * c), o + q0 * c);
      if (q0 > 0) out.fill(0, o, o + q0 * c);
      if (q1 < size) out.fill(0, o + q1 * c, o + rowOut);
    }
  }
  return { x: out, n, shape: [size, size, c] };
}

/** Mirrors each image left-right with probability p, in place. One draw per image. */
export function flipBatch(batch: Batch, p: number, random: Random): Batch {
  const { x, n } = batch;
  const [h, w, c] = batch.shape;
  const row = w * c;
  for (let i = 0; i < n; i++) {
    if (!(random.next() < p)) continue;
    const base = i * h * row;
    for (let y = 0; y < h; y++) {
      let a = base + y * row;
      let b = a + row - c;
      while (a < b) {
        for (let k = 0; k < c; k++) {
          const t = x[a + k];
          x[a + k] = x[b + k];
          x[b + k] = t;
        }
        a += c;
        b -= c;
      }
    }
  }
  return batch;
}

/** (x - mean[ch]) / std[ch] for every channel, in place. */
export function normalizeBatch(batch: Batch, mean: ArrayLike<number>, std: ArrayLike<number>): Batch {
  const { x } = batch;
  const c = batch.shape[2];
  if (mean.length !== c || std.length !== c) throw new Error(`normalize: mean and std need ${c} values (one per channel), got ${mean.length} and ${std.length}`);
  if (c === 3) {
    const s0 = 1 / std[0], s1 = 1 / std[1], s2 = 1 / std[2];
    const m0 = mean[0], m1 = mean[1], m2 = mean[2];
    for (let i = 0; i < x.length; i += 3) {
      x[i] = (x[i] - m0) * s0;
      x[i + 1] = (x[i + 1] - m1) * s1;
      x[i + 2] = (x[i + 2] - m2) * s2;
    }
  } else {
    for (let ch = 0; ch < c; ch++) {
      const m = mean[ch];
      const s = 1 / std[ch];
      for (let i = ch; i < x.length; i += c) x[i] = (x[i] - m) * s;
    }
  }
  return batch;
}

export const randomCrop: TransformFactory = {
  description: 'Random size x size crop of the image zero-padded by `padding` on each side (torchvision RandomCrop); args {size, padding = 0}',
  create(args, inputShape) {
    const size = intArg(args, 'size', undefined, 1, 'randomCrop');
    const padding = intArg(args, 'padding', 0, 0, 'randomCrop');
    const [h, w] = inputShape;
    if (size > h + 2 * padding || size > w + 2 * padding) {
      throw new Error(`randomCrop.size ${size} is larger than the padded image (${h + 2 * padding}x${w + 2 * padding}: ${h}x${w} plus padding ${padding} on each side)`);
    }
    return (batch, random) => cropBatch(batch, size, padding, random);
  },
  outputShape(args, inputShape): ImageShape {
    const size = intArg(args, 'size', undefined, 1, 'randomCrop');
    return [size, size, inputShape[2]];
  },
};

export const horizontalFlip: TransformFactory = {
  description: 'Mirror images left-right with probability p (default 0.5)',
  create(args) {
    const p = args.p ?? 0.5;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`horizontalFlip.p must be a number from 0 to 1 (got ${JSON.stringify(args.p)})`);
    return (batch, random) => flipBatch(batch, p, random);
  },
};

export const normalize: TransformFactory = {
  description: 'Per-channel (x - mean) / std on [0, 1] pixels; args {mean: [...], std: [...]}, one value per channel',
  create(args, inputShape) {
    const mean = numberList(args, 'mean', 'normalize');
    const std = numberList(args, 'std', 'normalize');
    const c = inputShape[2];
    if (mean.length !== std.length) throw new Error(`normalize: mean has ${mean.length} values but std has ${std.length}; give one of each per channel (${c})`);
    if (mean.length !== c) throw new Error(`normalize: mean and std have ${mean.length} values but the images have ${c} channel${c === 1 ? '' : 's'}`);
    if (std.some((s) => s <= 0)) throw new Error(`normalize.std values must be > 0 (got ${JSON.stringify(std)})`);
    const meanArr = Float64Array.from(mean);
    const stdArr = Float64Array.from(std);
    const transform: BatchTransform = (batch) => normalizeBatch(batch, meanArr, stdArr);
    return transform;
  },
};

/** The built-in transforms, by the names an experiment file uses. */
export const builtinTransforms: Record<string, TransformFactory> = { randomCrop, horizontalFlip, normalize };

/** Builds a chain of transforms, threading each one's output shape into the next's input shape. */
export function buildTransforms(
  specs: { factory: TransformFactory; args: Record<string, unknown> }[],
  inputShape: ImageShape,
): { transforms: BatchTransform[]; outputShape: ImageShape } {
  let shape: ImageShape = [...inputShape];
  const transforms: BatchTransform[] = [];
  for (const { factory, args } of specs) {
    transforms.push(factory.create(args, shape));
    shape = factory.outputShape ? factory.outputShape(args, shape) : shape;
  }
  return { transforms, outputShape: shape };
}
