import type { DataSplit } from '../registry/types.js';

/**
 * The first `n` examples of a split (for `data.limit`), as views on the same memory — nothing is copied.
 * `n` at or above the split's count returns the split itself; `undefined` means no limit.
 */
export function limitSplit(split: DataSplit, n: number | undefined): DataSplit {
  if (n === undefined) return split;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`a data limit must be a whole number >= 0 (got ${n})`);
  if (n >= split.count) return split;
  const perImage = split.count === 0 ? 0 : split.images.length / split.count;
  return {
    images: split.images.subarray(0, n * perImage),
    labels: split.labels.subarray(0, n),
    count: n,
  };
}

/** `data.limit` applied to both splits of a loaded dataset. */
export function limitDataset<D extends { train: DataSplit; test: DataSplit }>(
  dataset: D,
  limit: { train?: number; test?: number } | undefined,
): D {
  if (!limit) return dataset;
  return { ...dataset, train: limitSplit(dataset.train, limit.train), test: limitSplit(dataset.test, limit.test) };
}
