// Runs the jobs of a plan as their dependencies finish, at most `concurrency` at a time. A job that fails
// fails alone: independent jobs go on, and its dependants are skipped with the reason.
import type { EventSink, JobState } from '../events.js';
import type { Job } from './plan.js';
import type { JobOutcome } from './job.js';

export interface JobResult {
  job: Job;
  status: JobState;
  outcome?: JobOutcome;
  error?: string;
}

export interface ScheduleOptions {
  concurrency: number;
  /** Besides `concurrency`: a job takes `of(job)` of `capacity` slots while it runs (its threads), and
   * starts only when they are free; one job always may run. */
  slots?: { capacity: number; of: (job: Job) => number };
  emit: EventSink;
  signal?: AbortSignal;
  run: (job: Job) => Promise<JobOutcome>;
  /** Turns an error into the message shown for the failed job (and says whether it was an interruption). */
  describeError: (error: unknown) => { message: string; interrupted: boolean };
  /** Called once per job as soon as its result is known (after its event), in completion order. */
  onSettled?: (result: JobResult) => void;
}

export async function schedule(jobs: Job[], options: ScheduleOptions): Promise<{ results: Map<string, JobResult>; interrupted: boolean }> {
  const results = new Map<string, JobResult>();
  const waiting = [...jobs];
  const running = new Map<string, Promise<void>>();
  let interrupted = false;

  const finish = (job: Job, result: Omit<JobResult, 'job'>) => results.set(job.id, { job, ...result });
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const fits = (job: Job) => {
    if (!options.slots || running.size === 0) return true;
    const used = [...running.keys()].reduce((sum, id) => sum + options.slots!.of(byId.get(id)!), 0);
    return used + options.slots.of(job) <= options.slots.capacity;
  };
  const settle = (job: Job) => options.onSettled?.(results.get(job.id)!);
  const start = (job: Job) => {
    const task = options
      .run(job)
      .then((outcome) => {
        finish(job, { status: outcome.status, outcome });
        const type = outcome.status === 'cached' ? 'job-cached' : 'job-end';
        options.emit({ type, time: Date.now(), job: job.id, label: job.label, summary: outcome.summary });
        settle(job);
      })
      .catch((error: unknown) => {
        const { message, interrupted: stopped } = options.describeError(error);
        if (stopped) {
          interrupted = true;
          finish(job, { status: 'skipped', error: 'interrupted' });
          return;
        }
        finish(job, { status: 'failed', error: message });
        options.emit({ type: 'job-failed', time: Date.now(), job: job.id, label: job.label, error: message });
        settle(job);
      })
      .finally(() => running.delete(job.id));
    running.set(job.id, task);
  };

  while (waiting.length > 0 || running.size > 0) {
    for (const job of [...waiting]) {
      const deps = job.dependsOn.map((id) => results.get(id));
      if (interrupted || options.signal?.aborted) {
        waiting.splice(waiting.indexOf(job), 1);
        finish(job, { status: 'skipped', error: 'interrupted' });
        continue;
      }
      const blocked = deps.find((dep) => dep && (dep.status === 'failed' || dep.status === 'skipped'));
      if (blocked) {
        waiting.splice(waiting.indexOf(job), 1);
        const reason = `${blocked.job.label} ${blocked.status === 'failed' ? 'failed' : 'was skipped'}`;
        finish(job, { status: 'skipped', error: reason });
        options.emit({ type: 'job-skipped', time: Date.now(), job: job.id, label: job.label, reason });
        settle(job);
        continue;
      }
      const ready = deps.every((dep) => dep && (dep.status === 'done' || dep.status === 'cached'));
      if (ready && running.size < options.concurrency && fits(job)) {
        waiting.splice(waiting.indexOf(job), 1);
        start(job);
      }
    }
    if (running.size > 0) await Promise.race(running.values());
    else if (waiting.length > 0 && ![...waiting].some((job) => job.dependsOn.every((id) => results.has(id)))) {
      throw new Error(`scheduler stuck: ${waiting.map((j) => j.label).join(', ')} wait for jobs not in the plan`);
    }
  }
  return { results, interrupted: interrupted || options.signal?.aborted === true };
}
