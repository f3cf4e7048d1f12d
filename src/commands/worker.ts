// `kdx __worker` (hidden): executes one job for a parent kdx process, events over IPC. See runner/worker.ts.
import { loadExperiment } from '../config/load.js';
import { selectBackend, type BackendName } from '../engine/backend.js';
import { UserError } from '../errors.js';
import { DatasetCache } from '../runner/datasets.js';
import type { KdxEvent } from '../runner/events.js';
import { executeJob } from '../runner/job.js';
import { planTrials } from '../runner/run.js';
import { Store } from '../runner/store.js';
import { TrainingAborted } from '../runner/train.js';
import type { WorkerMessage, WorkerRequest } from '../runner/worker.js';

export async function worker(): Promise<void> {
  if (!process.send) throw new UserError('kdx __worker is started by kdx itself (--jobs N), not by hand');
  const request = await new Promise<WorkerRequest>((resolve) => process.once('message', (m) => resolve(m as WorkerRequest)));
  const send = (message: WorkerMessage) => process.send!(message);
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  try {
    const backend = await selectBackend(request.backend as BackendName);
    const { experiment } = await loadExperiment(request.file, { overrides: request.overrides, checkShapes: false });
    const { jobs } = planTrials([{ id: '', params: {}, experiment }]);
    const job = jobs.find((j) => j.id === request.jobId);
    if (!job) throw new Error(`job ${request.jobId} is not in the plan of ${request.file} (did the file change?)`);
    job.label = request.label;
    const emit = (event: KdxEvent) => send({ type: 'event', event });
    const outcome = await executeJob(job, {
      store: new Store(request.cacheDir),
      datasets: new DatasetCache(emit, controller.signal),
      backend: backend.name,
      emit,
      signal: controller.signal,
      keyOf: (id) => jobs.find((j) => j.id === id)!.key,
      liveTeacher: request.liveTeacher,
    });
    send({ type: 'result', outcome });
  } catch (error) {
    const interrupted = error instanceof TrainingAborted;
    const message = error instanceof UserError || interrupted ? (error as Error).message : String((error as Error)?.stack ?? error);
    send({ type: 'error', message, interrupted });
  }
  process.disconnect?.();
}
