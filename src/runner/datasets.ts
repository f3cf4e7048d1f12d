// Loads each distinct dataset of a run once, whatever number of jobs and trials read it.
import type { Experiment } from '../config/experiment.js';
import { limitDataset } from '../data/split.js';
import { registry } from '../registry/index.js';
import type { LoadedDataset } from '../registry/types.js';
import { contentHash } from '../util/hash.js';
import type { EventSink } from '../events.js';

export class DatasetCache {
  private readonly loaded = new Map<string, Promise<LoadedDataset>>();

  constructor(private readonly emit: EventSink, private readonly signal?: AbortSignal) {}

  get(experiment: Experiment): Promise<LoadedDataset> {
    const { dataset, options, root, limit } = experiment.data;
    const id = contentHash({ dataset, options, root, limit, seed: experiment.seed });
    let loading = this.loaded.get(id);
    if (!loading) {
      loading = registry.datasets
        .get(dataset)
        .load({ root, seed: experiment.seed, options, emit: this.emit, signal: this.signal })
        .then((data) => limitDataset(data, limit));
      this.loaded.set(id, loading);
    }
    return loading;
  }
}
