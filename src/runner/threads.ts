// How many data-parallel threads train each job (see replicas.ts), and how many jobs then run at once:
// `--threads N` or `runtime.threads`, where `auto` is every core (one thread for jobs run by Slurm). The thread count is part of what a result
// is reproducible for (and of its job key), so it does not depend on --jobs: `kdx run` and
// `kdx sweep --jobs 2` train the same jobs and share their cache. It is the number of jobs at once that
// gives way, so that jobs x threads never exceed the cores.
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';

export type ThreadsSetting = 'auto' | number;

export interface ThreadsRequest {
  /** `auto` or a count. */
  requested: ThreadsSetting;
  /** Where it was set, for the message: `--threads` or `runtime.threads in FILE`. */
  source: string;
  /** Jobs at once asked for (`--jobs`). */
  jobs: number;
  /** The backend's label: libtensorflow runs its own thread pool. */
  backend: string;
  /** Where jobs run: this machine's cores bound the threads, or Slurm nodes' (see the sbatch --cpus-per-task). */
  executor?: 'local' | 'slurm';
  cores?: number;
}

export interface CoreShare {
  /** Threads per job. */
  threads: number;
  /** Jobs at once: --jobs, or fewer when they would oversubscribe the cores. */
  jobsAtOnce: number;
  /** Why fewer jobs run at once than asked for. */
  warning?: string;
}

/**
 * Threads per job and jobs at once. `auto` is the cores; an explicit count above them is refused (a
 * result depends on it, so kdx never lowers it behind the user's back). The tensorflow backend always
 * trains on one thread: libtensorflow already spreads each operation over every core, and replicas would
 * fight its pool. With more than one thread per job, --jobs is lowered so that jobs x threads fit the
 * cores (one thread per job is --jobs as it always was).
 */
export function shareCores(request: ThreadsRequest): CoreShare {
  const cores = request.cores ?? availableParallelism();
  if (request.backend.startsWith('tensorflow')) return { threads: 1, jobsAtOnce: request.jobs };
  // On Slurm the login node's cores say nothing of the compute nodes': auto is one thread, a count asks
  // Slurm for as many CPUs per job, and Slurm schedules the jobs.
  if (request.executor === 'slurm') return { threads: request.requested === 'auto' ? 1 : request.requested, jobsAtOnce: request.jobs };
  const threads = request.requested === 'auto' ? cores : request.requested;
  if (threads > cores) {
    throw new UsageError(`${request.source} ${threads}: more threads than this machine's ${cores} cores: use at most ${cores}, or auto`);
  }
  if (threads === 1 || request.jobs * threads <= cores) return { threads, jobsAtOnce: request.jobs };
  const jobsAtOnce = Math.max(1, Math.floor(cores / threads));
  return {
    threads,
    jobsAtOnce,
    warning: `--jobs ${request.jobs} with ${threads} threads per job would need ${request.jobs * threads} cores, and this machine has ${cores}: ` +
      `running ${jobsAtOnce} job${jobsAtOnce === 1 ? '' : 's'} at a time (--threads 1 runs ${request.jobs} jobs of one thread, with other job keys)`,
  };
}

/** Every thread count a job of this machine can have been trained with (`kdx cache gc` keeps them all). */
export function possibleThreadCounts(cores = availableParallelism()): number[] {
  return Array.from({ length: cores }, (_, i) => i + 1);
}
