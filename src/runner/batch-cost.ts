// How much arithmetic one training batch of a stage is, roughly: what decides whether a job's batches are
// worth sharing between threads (plan.ts threadsFor). Each step hands weights and gradients between the
// threads and waits for the slowest, a cost that does not shrink with the model: for a small model (the
// quick experiment's students, a few million multiply-adds per batch) two threads train slower than one,
// and each job also pays for starting its threads. Deterministic: it is read from the file alone, so
// every process that plans the job finds the same thread count and key.
import type { Experiment } from '../config/experiment.js';
import { datasetShape } from '../config/load.js';
import { forwardMacs } from '../registry/model.js';

/** A batch below this many forward multiply-adds trains on one thread. */
export const MIN_THREADED_BATCH_MACS = 200e6;

/** Forward multiply-adds of one batch of `batchSize` images through the experiment's model `model`. */
export function batchMacs(experiment: Experiment, model: string, batchSize: number): number {
  return forwardMacs(model, experiment.models[model], datasetShape(experiment).inputShape) * batchSize;
}

/** Whether batches of `batchSize` images through `model` are large enough to share between threads. */
export function worthSharing(experiment: Experiment, model: string, batchSize: number): boolean {
  return batchMacs(experiment, model, batchSize) >= MIN_THREADED_BATCH_MACS;
}
