// How many data-parallel threads train each job (see replicas.ts): `--threads N` or `runtime.threads`,
// where `auto` is every core for a job whose batches are worth sharing (batch-cost.ts) and one thread for
// the others (and for jobs run by Slurm). The thread count is part of what a result is reproducible for
// (and of its job key), so it does not depend on --jobs: `kdx run` and `kdx sweep --jobs 2` train the same
// jobs and share their cache. The scheduler then shares the cores (runner/run.ts): a job takes as many
// of them as it has threads, so jobs x threads never exceed them.
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';

export type ThreadsSetting = 'auto' | number;

/** Threads per job as a plan is made for them: the count, and whether `auto` chose it (then a job too
 * small to share trains on one thread; an explicit count is kept). Part of every re-plan's input. */
export interface ThreadPlan {
  count: number;
  auto: boolean;
}

export const ONE_THREAD: ThreadPlan = { count: 1, auto: false };

export interface ThreadsRequest {
  /** `auto` or a count. */
  requested: ThreadsSetting;
  /** Where it was set, for the message: `--threads` or `runtime.threads in FILE`. */
  source: string;
  /** The backend's label: libtensorflow runs its own thread pool. */
  backend: string;
  /** Where jobs run: this machine's cores bound the threads, or Slurm nodes' (see the sbatch --cpus-per-task). */
  executor?: 'local' | 'slurm';
  cores?: number;
}

/**
 * Threads per job. `auto` is the cores; an explicit count above them is refused (a result depends on it,
 * so kdx never lowers it behind the user's back). The tensorflow backend always trains on one thread:
 * libtensorflow already spreads each operation over every core, and replicas would fight its pool; so
 * does webgpu, whose operations run on the GPU.
 */
export function resolveThreads(request: ThreadsRequest): ThreadPlan {
  const cores = request.cores ?? availableParallelism();
  const auto = request.requested === 'auto';
  if (request.backend.startsWith('tensorflow') || request.backend.startsWith('webgpu')) return ONE_THREAD;
  // On Slurm the login node's cores say nothing of the compute nodes': auto is one thread, a count asks
  // Slurm for as many CPUs per job, and Slurm schedules the jobs.
  if (request.executor === 'slurm') return auto ? ONE_THREAD : { count: request.requested as number, auto: false };
  const count = auto ? cores : (request.requested as number);
  if (count > cores) {
    throw new UsageError(`${request.source} ${count}: more threads than this machine's ${cores} cores: use at most ${cores}, or auto`);
  }
  return { count, auto: auto && count > 1 };
}

/** Every thread count up to `most` (`kdx cache gc` keeps the results of them all). */
export function possibleThreadCounts(most = availableParallelism()): number[] {
  return Array.from({ length: most }, (_, i) => i + 1);
}
