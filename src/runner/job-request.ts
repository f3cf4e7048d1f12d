// What a controlling kdx sends to the process that runs one of its jobs (a --jobs worker, a Slurm job):
// enough to load the same experiment, plan it again and find the job. No runtime imports: both sides use it.
import { fileURLToPath } from 'node:url';
import type { Job } from './plan.js';
import type { ThreadPlan } from './threads.js';

/** The kdx binary such a process runs (from src/ or dist/: both sit two levels below the package). */
export const kdxBin = fileURLToPath(new URL('../../bin/kdx.js', import.meta.url));

/** What a controlling kdx asks of the process that runs one of its jobs. */
export interface JobRequest {
  file: string;
  overrides: string[];
  /** The replica's seed in a repeated-seeds run (see LoadOptions.trainingSeed). */
  trainingSeed?: number;
  jobId: string;
  label: string;
  cacheDir: string;
  /** The backend to select, and the label its results record. */
  backend: { name: string; label: string };
  /** The threads the run was planned for (part of the keys). */
  threads: ThreadPlan;
  liveTeacher?: boolean;
}

/** The request that runs `job` elsewhere, exactly as this process planned it. */
export function jobRequest(job: Job, where: { cacheDir: string; backend: { name: string; label: string }; liveTeacher?: boolean }): JobRequest {
  return {
    file: job.experiment.file,
    overrides: job.experiment.overrides,
    ...(job.experiment.trainingSeed === undefined ? {} : { trainingSeed: job.experiment.trainingSeed }),
    jobId: job.id,
    label: job.label,
    cacheDir: where.cacheDir,
    backend: where.backend,
    threads: job.plannedThreads,
    ...(where.liveTeacher ? { liveTeacher: true } : {}),
  };
}

