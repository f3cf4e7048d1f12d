// One job of a plan, executed in a process of its own for a kdx elsewhere: a `--jobs N` worker (events
// over IPC) or a Slurm job (events to a file in the store). The process loads the same experiment, plans
// it again, and runs the job with the given id against the shared store.
import { backendLabel, selectBackend, type BackendName } from '../engine/backend.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { Store } from '../store/store.js';
import { DatasetCache } from './datasets.js';
import { executeJob, type JobOutcome } from './job.js';
import { reloadJob } from './reload-job.js';
import type { JobRequest } from './job-request.js';

export type { JobRequest } from './job-request.js';

export async function runRequestedJob(request: JobRequest, emit: EventSink, signal: AbortSignal): Promise<JobOutcome> {
  const selected = backendLabel(await selectBackend(request.backend.name as BackendName));
  // The backend is part of the job's key, which the controller computed: a node that would train on
  // another (a GPU where the controller has none) must not store its bytes under that key.
  if (selected !== request.backend.label) {
    throw new UserError(
      `this node trains on ${selected}, but the run was planned for ${request.backend.label}: run kdx where jobs run on the same backend, or choose one with --backend (e.g. --backend wasm)`,
    );
  }
  const { job, jobs } = await reloadJob({ ...request, backend: request.backend.label });
  job.label = request.label;
  return executeJob(job, {
    store: new Store(request.cacheDir),
    datasets: new DatasetCache(emit, signal),
    backend: request.backend.label,
    emit,
    signal,
    keyOf: (id) => jobs.find((j) => j.id === id)!.key,
    liveTeacher: request.liveTeacher,
  });
}
