// `kdx __slurm-job DIR` (hidden): the body of a Slurm batch job submitted by `--executor slurm`. Runs the
// one job DIR/request.json names against the shared store, appends its events to DIR/events.jsonl for
// the controller to tail, and ends by writing DIR/outcome.json. Exits 1 unless the job finished, so that
// Slurm's afterok holds back the jobs that need it. See runner/slurm/executor.ts.
import { appendFileSync, readFileSync } from 'node:fs';
import { writeJsonAtomic } from '../store/atomic.js';
import { UserError } from '../errors.js';
import type { KdxEvent } from '../events.js';
import { describeJobError } from '../runner/job.js';
import { runRequestedJob, type JobRequest } from '../runner/one-job.js';
import { attemptFiles, type SlurmOutcome } from '../runner/slurm/records.js';

export async function slurmJob(dir: string): Promise<void> {
  const files = attemptFiles(dir);
  const request = JSON.parse(readFileSync(files.request, 'utf8')) as JobRequest;
  const controller = new AbortController();
  // scancel, a time limit or a draining node send SIGTERM first: stop at the next batch, keep the last
  // finished epoch's checkpoint, release the job's lock, and say so in the outcome.
  process.on('SIGTERM', () => controller.abort());
  process.on('SIGINT', () => controller.abort());
  const emit = (event: KdxEvent) => appendFileSync(files.events, `${JSON.stringify(event)}\n`);
  let outcome: SlurmOutcome;
  try {
    outcome = { type: 'result', outcome: await runRequestedJob(request, emit, controller.signal) };
  } catch (error) {
    outcome = { type: 'error', ...describeJobError(error) };
  }
  await writeJsonAtomic(files.outcome, outcome);
  if (outcome.type === 'error') throw new UserError(`${request.label}: ${outcome.message}`);
}
