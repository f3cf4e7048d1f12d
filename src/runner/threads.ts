// How many data-parallel threads train each job (see replicas.ts): `--threads N` or `runtime.threads`,
// where `auto` shares the cores among the jobs that run at once, so that a single `kdx run` uses the whole
// machine and a sweep with `--jobs` does not oversubscribe it.
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';

export type ThreadsSetting = 'auto' | number;

export interface ThreadsRequest {
  /** `auto` or a count. */
  requested: ThreadsSetting;
  /** Where it was set, for the message: `--threads` or `runtime.threads in FILE`. */
  source: string;
  /** Jobs at once (`--jobs`). */
  jobs: number;
  /** The backend's label: libtensorflow runs its own thread pool. */
  backend: string;
  cores?: number;
}

/**
 * Threads per job. `auto` is cores / jobs (at least 1). An explicit count that, times the jobs at once,
 * exceeds the cores is refused rather than lowered: the thread count is part of what a result is
 * reproducible for (and of its job key), so kdx never changes it behind the user's back. The tensorflow
 * backend always trains on one thread: libtensorflow already spreads each operation over every core,
 * and replicas would fight its pool.
 */
export function resolveThreads(request: ThreadsRequest): number {
  const cores = request.cores ?? availableParallelism();
  if (request.backend.startsWith('tensorflow')) return 1;
  if (request.requested === 'auto') return Math.max(1, Math.floor(cores / request.jobs));
  const threads = request.requested;
  if (threads > 1 && threads * request.jobs > cores) {
    const auto = Math.max(1, Math.floor(cores / request.jobs));
    throw new UsageError(request.jobs > 1
      ? `--jobs ${request.jobs} x ${request.source} ${threads} = ${threads * request.jobs} threads, more than this machine's ${cores} cores: lower --jobs or the threads, or use threads auto (${auto} here)`
      : `${request.source} ${threads}: more threads than this machine's ${cores} cores: use at most ${cores}, or auto`);
  }
  return threads;
}

/** Every thread count a job of this machine can have been trained with (`kdx cache gc` keeps them all). */
export function possibleThreadCounts(cores = availableParallelism()): number[] {
  return Array.from({ length: cores }, (_, i) => i + 1);
}
