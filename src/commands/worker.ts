// `kdx __worker` (hidden): executes one job for a parent kdx process, events over IPC. See runner/worker.ts.
import { loadExperiment } from '../config/load.js';
import { selectBackend, type BackendName } from '../engine/backend.js';
import { UserError } from '../errors.js';
import { DatasetCache } from '../runner/datasets.js';
import type { KdxEvent } from '../events.js';
import { describeJobError, executeJob } from '../runner/job.js';
import { planTrials } from '../runner/run.js';
import { Store } from '../store/store.js';
import type { WorkerMessage, WorkerRequest } from '../runner/worker.js';

export async function worker(): Promise<void> {
  if (!process.send) throw new UserError('kdx __worker is started by kdx itself (--jobs N), not by hand');
  const request = await new Promise<WorkerRequest>((resolve) => process.once('message', (m) => resolve(m as WorkerRequest)));
  const send = (message: WorkerMessage) => {
    if (process.connected) process.send!(message);
  };
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  // A parent that dies (kill -9, a second Ctrl-C) closes the channel: stop at the next batch, keep the
  // last checkpoint, release the job's lock.
  process.on('disconnect', () => controller.abort());
  try {
    await selectBackend(request.backend.name as BackendName);
    const { experiment } = await loadExperiment(request.file, { overrides: request.overrides, trainingSeed: request.trainingSeed, checkShapes: false });
    const { jobs } = planTrials([{ id: '', params: {}, experiment }], request.backend.label);
    const job = jobs.find((j) => j.id === request.jobId);
    if (!job) throw new UserError(`job ${request.jobId} is not in the plan of ${request.file} any more: was the file changed during the run?`);
    job.label = request.label;
    const emit = (event: KdxEvent) => send({ type: 'event', event });
    const outcome = await executeJob(job, {
      store: new Store(request.cacheDir),
      datasets: new DatasetCache(emit, controller.signal),
      backend: request.backend.label,
      emit,
      signal: controller.signal,
      keyOf: (id) => jobs.find((j) => j.id === id)!.key,
      liveTeacher: request.liveTeacher,
    });
    send({ type: 'result', outcome });
  } catch (error) {
    send({ type: 'error', ...describeJobError(error) });
  }
  if (process.connected) process.disconnect();
}
