// The Slurm commands kdx uses, as functions: sbatch (submit, or --test-only to check resources), squeue
// (the state of submitted jobs) and scancel. No accounting is assumed (no sacct): squeue -t all reports
// a job while slurmctld remembers it (MinJobAge after its end), and each job's outcome file in the store
// says the rest.
/** A job's state as squeue reports it: `PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, `TIMEOUT`... and why. */
export interface SlurmJobState {
  state: string;
  reason: string;
}

/** States after which a job will not run again (squeue's long names). */
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY', 'SPECIAL_EXIT', 'REVOKED']);

export function hasEnded(state: SlurmJobState): boolean {
  return ENDED.has(state.state);
}

/** sbatch's (or squeue's) complaint, without its `sbatch: error:` prefixes. */
export class SlurmCommandError extends Error {
  constructor(readonly command: string, readonly detail: string, readonly missing = false) {
    super(`${command}: ${detail}`);
  }

  /** Slurm itself could not be reached (no controller, no munge, no configuration to find one: sbatch
   * installed on a machine outside a cluster): the machine's problem, not the file's. */
  get unreachable(): boolean {
    return this.missing || /unable to contact|socket timed out|connection refused|munge|communication|zero bytes|configuration source|fetch(_| )config|slurm\.conf/i.test(this.detail);
  }
}

async function slurm(command: string, args: string[], input?: string): Promise<string> {
  const { execa } = await import('execa'); // ~0.2 s to import: only --executor slurm pays it
  const result = await execa(command, args, { reject: false, input, stripFinalNewline: true, timeout: 60_000 });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new SlurmCommandError(command, `${command} is not installed or not on PATH`, true);
  }
  if (result.exitCode !== 0) {
    const detail = String(result.stderr || result.stdout || result.message)
      .split('\n')
      .map((line) => line.replace(/^(sbatch|squeue|scancel): (error: )?/, '').trim())
      .filter(Boolean)
      .join('; ');
    throw new SlurmCommandError(command, detail || `exited with status ${result.exitCode}`);
  }
  return String(result.stdout);
}

/** Submits a batch script (given as text) and returns the Slurm job id. */
export async function sbatch(args: string[], script: string): Promise<string> {
  const out = await slurm('sbatch', ['--parsable', ...args], script);
  const id = out.trim().split('\n').pop()!.split(';')[0];
  if (!/^\d+$/.test(id)) throw new SlurmCommandError('sbatch', `unexpected output: ${out.trim()}`);
  return id;
}

/** Asks Slurm whether it would accept a job with these options, without submitting it (sbatch --test-only). */
export async function testSubmission(args: string[]): Promise<void> {
  await slurm('sbatch', ['--test-only', ...args], '#!/bin/sh\ntrue\n');
}

/** The state of each job Slurm still knows; jobs it has forgotten (or never had) are absent. */
export async function jobStates(ids: string[]): Promise<Map<string, SlurmJobState>> {
  const states = new Map<string, SlurmJobState>();
  if (ids.length === 0) return states;
  let out: string;
  try {
    out = await slurm('squeue', ['--noheader', '--states=all', '--format=%i|%T|%r', `--jobs=${ids.join(',')}`]);
  } catch (error) {
    // Every id forgotten: squeue says so and fails.
    if (error instanceof SlurmCommandError && /invalid job id/i.test(error.detail)) return states;
    throw error;
  }
  for (const line of out.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (id && state) states.set(id, { state, reason: reason ?? '' });
  }
  return states;
}

export async function scancel(ids: string[]): Promise<void> {
  if (ids.length > 0) await slurm('scancel', ids);
}
