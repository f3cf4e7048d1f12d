// --jobs N > 1: each job runs in a child process (`kdx __worker`, started with execa) that loads the same
// experiment, executes the one job, and streams its events back over IPC. A crash fails the job only.
import type { EventSink, KdxEvent } from '../events.js';
import type { JobOutcome } from './job.js';
import type { Job } from './plan.js';
import { UserError } from '../errors.js';
import { TrainingAborted } from './train.js';
import { jobRequest, kdxBin, type JobRequest } from './job-request.js';


/** Parent -> worker. */
export type WorkerRequest = JobRequest;

/** Worker -> parent. */
export type WorkerMessage =
  | { type: 'event'; event: KdxEvent }
  | { type: 'result'; outcome: JobOutcome }
  | { type: 'error'; message: string; interrupted: boolean };

export class WorkerFailed extends UserError {}

export async function runInWorker(
  job: Job,
  options: { cacheDir: string; backend: { name: string; label: string }; emit: EventSink; signal?: AbortSignal; liveTeacher?: boolean },
): Promise<JobOutcome> {
  const request: WorkerRequest = jobRequest(job, options);
  const { execaNode } = await import('execa'); // ~0.2 s to import: only runs with --jobs > 1 pay it
  const child = execaNode(kdxBin, ['__worker'], { ipc: true, serialization: 'json', reject: false, stdout: 'ignore', stderr: 'pipe', all: false });
  const stopChild = () => child.kill('SIGINT');
  options.signal?.addEventListener('abort', stopChild, { once: true });
  let outcome: JobOutcome | undefined;
  let failure: { message: string; interrupted: boolean } | undefined;
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'event') options.emit(fromWorker(message.event, job.id));
    else if (message.type === 'result') outcome = message.outcome;
    else failure = message;
  });
  child.send(request);
  const result = await child;
  options.signal?.removeEventListener('abort', stopChild);
  if (outcome) return outcome;
  if (failure?.interrupted || options.signal?.aborted) throw new TrainingAborted();
  if (failure) throw new WorkerFailed(failure.message);
  const why = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`;
  const stderr = String(result.stderr ?? '').trim().split('\n').slice(-5).join('\n');
  throw new WorkerFailed(`the worker process for ${job.label} ${why}${stderr ? `:\n${stderr}` : ''}`);
}

/**
 * A worker's event as the parent reports it. Tasks (loading data, ...) are per process: each worker
 * loads its own copy, so its task ids are made its own, or one worker's task would seem to have started
 * when another's did.
 */
export function fromWorker(event: KdxEvent, jobId: string): KdxEvent {
  return event.type === 'task' ? { ...event, id: `${event.id}@${jobId}` } : event;
}
