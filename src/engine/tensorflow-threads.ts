// How many threads libtensorflow (the `tensorflow` backend, @tensorflow/tfjs-node-gpu) may use per process.
//
// tfjs-node creates its eager context with default options (binding/tfjs_backend.cc: TFE_NewContext without
// a ConfigProto), so TensorFlow sizes its pools itself, once per process, when the first device is made
// (core/common_runtime/process_util.cc, local_device.cc): the intra-op pool (the threads one convolution
// or matmul is split over) from TF_NUM_INTRAOP_THREADS, else every schedulable core; the inter-op pool
// from TF_NUM_INTEROP_THREADS, else about as many. Each `--jobs` worker is its own process with its own
// pools: with all cores each, J jobs would run J x cores busy threads on the machine. So before tfjs-node
// loads, kdx gives each process its share of the cores through those two variables, which child processes
// inherit. Eager ops run one at a time from the JavaScript thread, so one inter-op thread is enough.
// A variable the user set is left alone. (tfjs-node-gpu cannot install on the machine this was written on:
// this follows TensorFlow's source, it was not measured.)
import { availableParallelism } from 'node:os';

export const INTRA_OP = 'TF_NUM_INTRAOP_THREADS';
export const INTER_OP = 'TF_NUM_INTEROP_THREADS';

/** The cores one of `jobs` concurrent jobs may use: the machine's cores shared evenly, at least one. */
export function threadsPerJob(jobs: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, jobs)));
}

/**
 * Sets TensorFlow's pool sizes for a process (and the processes it starts) running jobs of `threads`
 * threads each. Takes effect only if libtensorflow has not started in this process yet.
 */
export function limitTensorflowThreads(threads: number, env: NodeJS.ProcessEnv = process.env): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number >= 1 (got ${threads})`);
  env[INTRA_OP] ??= String(threads);
  env[INTER_OP] ??= '1';
}
