// How much arithmetic one training batch of a stage is, roughly: what decides whether a job's batches are
// worth sharing between threads (plan.ts threadsFor). Each step hands weights and gradients between the
// threads and waits for the slowest, a cost that does not shrink with the model: for a small model (the
// quick experiment's students, a few million multiply-adds per batch) two threads train slower than one,
// and each job also pays for starting its threads. Deterministic: it is read from the file alone, so
// every process that plans the job finds the same thread count and key.
import type { Experiment } from '../config/experiment.js';
import { datasetShape } from '../config/load.js';
import { describeModel, type LayerRow } from '../registry/model.js';
import type { ModelNode } from '../registry/types.js';
import { contentHash } from '../util/hash.js';

/** A batch below this many forward multiply-adds trains on one thread. */
export const MIN_THREADED_BATCH_MACS = 200e6;

/** Multiply-adds of one image's forward pass, roughly: each layer's (or block's) weights times the
 * positions of its output they are applied at. */
export function forwardMacs(rows: LayerRow[]): number {
  return rows.reduce((sum, row) => sum + row.params * (row.outputShape.length === 3 ? row.outputShape[0] * row.outputShape[1] : 1), 0);
}

const macsByModel = new Map<string, number>();

/** Forward multiply-adds of one batch of `batchSize` images through the experiment's model `model`. */
export function batchMacs(experiment: Experiment, model: string, batchSize: number): number {
  const { inputShape } = datasetShape(experiment);
  const layers: ModelNode[] = experiment.models[model];
  const id = contentHash({ layers, inputShape });
  let macs = macsByModel.get(id);
  if (macs === undefined) {
    macs = forwardMacs(describeModel(model, layers, inputShape).rows);
    macsByModel.set(id, macs);
  }
  return macs * batchSize;
}

/** Whether batches of `batchSize` images through `model` are large enough to share between threads. */
export function worthSharing(experiment: Experiment, model: string, batchSize: number): boolean {
  return batchMacs(experiment, model, batchSize) >= MIN_THREADED_BATCH_MACS;
}
