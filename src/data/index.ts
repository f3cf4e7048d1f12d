// Data loading and streaming: what the runner imports.
export { DatasetError } from './errors.js';
export { limitSplit, limitDataset } from './split.js';
export { epochBatches, batchesPerEpoch, epochOrder, type StreamOptions, type StreamBatch } from './stream.js';
export { cacheDir, datasetPlaces } from './locate.js';
