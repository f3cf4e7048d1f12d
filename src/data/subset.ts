// A stage's subset of the training split (`stages.NAME.data.subset`): the first N images, a seeded
// random fraction, or the images of chosen classes. The label space stays the dataset's: a model trained
// on classes [0, 3] still outputs every class, so its teacher's logits and the test set need no remapping.
import type { SubsetSpec } from '../config/experiment.js';
import type { DataSplit } from '../registry/types.js';
import { createRandom, deriveSeed, permutation } from '../util/random.js';

/** How many images a fraction keeps of `count`: rounded, as a share of a split is usually meant. */
export function fractionCount(fraction: number, count: number): number {
  return Math.round(fraction * count);
}

/**
 * Why `subset` cannot be taken from a split of `count` images and `classes` classes, or undefined. The
 * same words at `kdx validate` (where the split's size is known without loading) and at load time.
 */
export function subsetProblem(subset: SubsetSpec, count: number, classes: number): { at: (string | number)[]; message: string } | undefined {
  if ('first' in subset && subset.first > count) {
    return { at: ['first'], message: `the subset takes the first ${subset.first} images, but the training split has ${count}` };
  }
  if ('fraction' in subset && fractionCount(subset.fraction, count) === 0) {
    return { at: ['fraction'], message: `a fraction of ${subset.fraction} of the ${count} training images keeps none` };
  }
  if ('classes' in subset) {
    const i = subset.classes.findIndex((c) => c >= classes);
    if (i >= 0) return { at: ['classes', i], message: `class ${subset.classes[i]} does not exist: the dataset's classes are 0 to ${classes - 1}` };
  }
  return undefined;
}

/** The images of `split` the subset keeps, in the split's order. */
export function subsetSplit(split: DataSplit, subset: SubsetSpec | undefined): DataSplit {
  if (subset === undefined) return split;
  const perImage = split.count === 0 ? 0 : split.images.length / split.count;
  if ('first' in subset) {
    // A view on the same memory, like data.limit.
    const n = Math.min(subset.first, split.count);
    return { images: split.images.subarray(0, n * perImage), labels: split.labels.subarray(0, n), count: n };
  }
  let indices: Uint32Array;
  if ('fraction' in subset) {
    const drawn = permutation(split.count, createRandom(deriveSeed(subset.seed, 'data/subset')));
    indices = drawn.slice(0, fractionCount(subset.fraction, split.count)).sort();
  } else {
    const keep = new Set(subset.classes);
    indices = Uint32Array.from({ length: split.count }, (_, i) => i).filter((i) => keep.has(split.labels[i]));
  }
  const images = split.images instanceof Uint8Array ? new Uint8Array(indices.length * perImage) : new Float32Array(indices.length * perImage);
  const labels = new Uint8Array(indices.length);
  indices.forEach((source, i) => {
    images.set(split.images.subarray(source * perImage, (source + 1) * perImage), i * perImage);
    labels[i] = split.labels[source];
  });
  return { images, labels, count: indices.length };
}
