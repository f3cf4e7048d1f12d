// A job rebuilt from its description in another process or thread (a --jobs worker, a Slurm job, a
// data-parallel replica): the experiment loaded again from its file, overrides and seed, planned for the
// same backend and thread count, and the job found by its id. What the parent computes for the job
// (layers, loss, data stream) they compute too.
import { loadExperiment } from '../config/load.js';
import { UserError } from '../errors.js';
import { planExperiment, type Job } from './plan.js';
import type { ThreadPlan } from './threads.js';

export interface JobDescription {
  file: string;
  overrides: string[];
  /** The seed of a repeated-seeds run (see LoadOptions.trainingSeed). */
  trainingSeed?: number;
  /** The job's id (its short key). */
  jobId: string;
  /** The backend's label, part of the keys. */
  backend: string;
  /** The threads the plan was made for (Job.plannedThreads). */
  threads: ThreadPlan;
}

export function describeJob(job: Job, backend: string): JobDescription {
  const { file, overrides, trainingSeed } = job.experiment;
  return { file, overrides, ...(trainingSeed === undefined ? {} : { trainingSeed }), jobId: job.id, backend, threads: job.plannedThreads };
}

/** The job, and every job of its plan (to find a teacher's key). */
export async function reloadJob(description: JobDescription): Promise<{ job: Job; jobs: Job[] }> {
  const { experiment } = await loadExperiment(description.file, { overrides: description.overrides, trainingSeed: description.trainingSeed, checkShapes: false });
  const { jobs } = planExperiment(experiment, description.backend, description.threads);
  const job = jobs.find((j) => j.id === description.jobId);
  if (!job) throw new UserError(`job ${description.jobId} is not in the plan of ${description.file} any more: was the file changed during the run?`);
  return { job, jobs };
}
