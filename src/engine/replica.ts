// What a data-parallel replica's layers need to know while it computes its shard of a batch (see
// src/runner/replicas.ts): which rows of the whole batch it holds, and a sum over every replica. Layers
// whose training step reads more than their own rows consult it: batchNorm (batch statistics, and the two
// reductions of its gradient) and seeded dropout (the mask rows of the shard). Without a replica (one
// thread) they compute as they always did.

export interface Replica {
  /** First row of this replica's shard in the whole batch. */
  offset: number;
  /** Rows of the whole batch, over every replica. */
  batch: number;
  /**
   * `values` summed over every replica of this step, in replica order, so every replica gets the same
   * bytes. Blocks until all have contributed: every replica must call it as often, in the same order.
   */
  allReduce(values: Float32Array): Float32Array;
}

let current: Replica | undefined;

/** The replica this thread is computing a shard for, if any. */
export function currentReplica(): Replica | undefined {
  return current;
}

/** Runs `compute` as `replica` (the context is cleared afterwards, also when it throws). */
export function asReplica<T>(replica: Replica, compute: () => T): T {
  current = replica;
  try {
    return compute();
  } finally {
    current = undefined;
  }
}
