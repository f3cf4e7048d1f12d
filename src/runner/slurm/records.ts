// What the store keeps about Slurm jobs, per job key, so that any kdx sharing the store (a restarted
// controller, a second one) finds them: `<store>/slurm/<key>/submission.json` names the latest Slurm job
// submitted for the key and its attempt directory, which holds the request the job reads, the events it
// writes (JSON lines, tailed by the controller), its outcome, and Slurm's output file.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../../store/atomic.js';
import type { Store } from '../../store/store.js';
import type { JobOutcome } from '../job.js';

export interface Submission {
  slurmJobId: string;
  /** The attempt directory (absolute). */
  attempt: string;
  submittedAt: string;
  label: string;
}

/** What a Slurm job leaves when it ends by itself (done, failed, or stopped by a signal). */
export type SlurmOutcome = { type: 'result'; outcome: JobOutcome } | { type: 'error'; message: string; interrupted: boolean };

export interface AttemptFiles {
  request: string;
  events: string;
  outcome: string;
  /** Slurm's --output (stdout and stderr of the job). */
  output: string;
}

export function attemptFiles(dir: string): AttemptFiles {
  return { request: join(dir, 'request.json'), events: join(dir, 'events.jsonl'), outcome: join(dir, 'outcome.json'), output: join(dir, 'slurm.out') };
}

function recordDir(store: Store, key: string): string {
  return join(store.root, 'slurm', key);
}

export function readSubmission(store: Store, key: string): Promise<Submission | undefined> {
  return readJsonIfExists<Submission>(join(recordDir(store, key), 'submission.json'));
}

export async function writeSubmission(store: Store, key: string, submission: Submission): Promise<void> {
  await writeJsonAtomic(join(recordDir(store, key), 'submission.json'), submission);
}

/** A new, empty attempt directory for one submission of the job `key`. */
export async function newAttempt(store: Store, key: string): Promise<string> {
  const dir = join(recordDir(store, key), `attempt-${Date.now()}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

export function readOutcome(files: AttemptFiles): Promise<SlurmOutcome | undefined> {
  return readJsonIfExists<SlurmOutcome>(files.outcome);
}
