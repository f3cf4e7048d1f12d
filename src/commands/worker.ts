// `kdx __worker` (hidden): executes one job for a parent kdx process, events over IPC. See runner/worker.ts.
import { UserError } from '../errors.js';
import type { KdxEvent } from '../events.js';
import { describeJobError } from '../runner/job.js';
import { runRequestedJob } from '../runner/one-job.js';
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
    const outcome = await runRequestedJob(request, (event: KdxEvent) => send({ type: 'event', event }), controller.signal);
    send({ type: 'result', outcome });
  } catch (error) {
    send({ type: 'error', ...describeJobError(error) });
  }
  if (process.connected) process.disconnect();
}
