// `--executor slurm`: every job of the plan that is not cached becomes a Slurm batch job running
// `kdx __slurm-job` against the shared store, with `--dependency=afterok:` on the Slurm jobs it needs, so
// Slurm orders the graph. This process (the controller) then follows each job through its files in the
// store (events, outcome) and through squeue, and re-emits its events to the same reporters as a local
// run. A job submitted by an earlier controller that Slurm still has queued or running is re-attached to,
// not submitted again.
import { open } from 'node:fs/promises';
import type { SlurmResources } from '../../config/experiment.js';
import { UserError } from '../../errors.js';
import type { EventSink, KdxEvent } from '../../events.js';
import { writeJsonAtomic } from '../../store/atomic.js';
import type { Store } from '../../store/store.js';
import type { JobOutcome } from '../job.js';
import type { Job } from '../plan.js';
import { TrainingAborted } from '../train.js';
import { jobRequest, kdxBin } from '../job-request.js';
import { fromWorker } from '../worker.js';
import { attemptFiles, newAttempt, readOutcome, readSubmission, writeSubmission, type AttemptFiles, type Submission } from './records.js';
import { hasEnded, jobStates, sbatch, scancel, SlurmCommandError, type SlurmJobState } from './slurm-cli.js';
import { sleep } from '../../util/sleep.js';

/** What a Ctrl-C (or `q`) of the controller does to the Slurm jobs still queued or running. */
export type InterruptPolicy = 'cancel' | 'leave';

/** A job that Slurm ended without a result (cancelled, out of time, node failure), or that failed in it. */
export class SlurmJobFailed extends UserError {}

/** The sbatch options for a job's resources. */
export function resourceArgs(resources: SlurmResources): string[] {
  const args: string[] = [];
  if (resources.partition) args.push(`--partition=${resources.partition}`);
  if (resources.time) args.push(`--time=${resources.time}`);
  if (resources.cpus) args.push(`--cpus-per-task=${resources.cpus}`);
  if (resources.mem) args.push(`--mem=${resources.mem}`);
  if (resources.gres) args.push(`--gres=${resources.gres}`);
  if (resources.account) args.push(`--account=${resources.account}`);
  if (resources.qos) args.push(`--qos=${resources.qos}`);
  return [...args, ...(resources.extraArgs ?? [])];
}

/** A job trained on `threads` data-parallel threads needs at least as many CPUs. */
function withThreads(resources: SlurmResources, threads: number): SlurmResources {
  return threads > (resources.cpus ?? 1) ? { ...resources, cpus: threads } : resources;
}

export interface SlurmExecutorOptions {
  store: Store;
  backend: { name: string; label: string };
  emit: EventSink;
  signal?: AbortSignal;
  /** Asked once the run is interrupted (the answer may come from the user after the run began). */
  onInterrupt: () => InterruptPolicy;
  liveTeacher?: boolean;
  /** How often the controller looks at the jobs' files and at squeue (ms). Default 500. */
  pollMs?: number;
}

interface Followed {
  submission: Submission;
  files: AttemptFiles;
  /** True once the job's outcome is known to this controller. */
  settled: boolean;
}

export class SlurmExecutor {
  readonly #options: SlurmExecutorOptions;
  readonly #jobs = new Map<string, Followed>();
  /** Jobs sbatch refused after the checks (a dependency that failed meanwhile...), with why. */
  readonly #refused = new Map<string, string>();
  readonly #queue: SlurmQueue;

  constructor(options: SlurmExecutorOptions) {
    this.#options = options;
    this.#queue = new SlurmQueue(options.pollMs ?? 500);
  }

  /**
   * Submits each job (in plan order, so a job's dependencies come first), or re-attaches to the Slurm
   * job an earlier controller submitted for it if Slurm still has it queued or running. Returns the ids
   * of the jobs to follow.
   */
  async submit(jobs: Job[]): Promise<Set<string>> {
    const { store, emit } = this.#options;
    const recorded = new Map<string, Submission>();
    for (const job of jobs) {
      const submission = await readSubmission(store, job.key);
      if (submission) recorded.set(job.id, submission);
    }
    const known = await jobStates([...recorded.values()].map((s) => s.slurmJobId));
    for (const job of jobs) {
      // The lock makes "is it in the queue? else submit" one step for two controllers started at once.
      const lock = await store.lock(`slurm-${job.key}`, { wait: true, signal: this.#options.signal, label: 'slurm submission' });
      try {
        const earlier = (await readSubmission(store, job.key)) ?? recorded.get(job.id);
        const state = earlier && (known.get(earlier.slurmJobId) ?? (await jobStates([earlier.slurmJobId])).get(earlier.slurmJobId));
        if (earlier && state && !hasEnded(state)) {
          this.#follow(job, earlier);
          emit({ type: 'log', time: Date.now(), level: 'info', message: `${job.label}: re-attached to Slurm job ${earlier.slurmJobId} (${state.state.toLowerCase()})` });
          continue;
        }
        if (store.hasSync(job.key)) continue; // finished meanwhile (by another kdx): served from the cache
        // Without its dependency in Slurm, a job would start too early: it is skipped with that one.
        const refusedNeed = job.dependsOn.find((id) => this.#refused.has(id));
        if (refusedNeed) {
          this.#refused.set(job.id, `not submitted: a job it needs (${refusedNeed}) was refused`);
          continue;
        }
        try {
          const submission = await this.#submitOne(job);
          this.#follow(job, submission);
          emit({ type: 'log', time: Date.now(), level: 'info', message: `${job.label}: submitted as Slurm job ${submission.slurmJobId}` });
        } catch (error) {
          if (!(error instanceof SlurmCommandError) || error.unreachable) throw error;
          this.#refused.set(job.id, `sbatch refused the job: ${error.detail}`);
        }
      } finally {
        await lock?.release();
      }
    }
    return new Set([...this.#jobs.keys(), ...this.#refused.keys()]);
  }

  #follow(job: Job, submission: Submission): void {
    this.#jobs.set(job.id, { submission, files: attemptFiles(submission.attempt), settled: false });
    this.#queue.watch(submission.slurmJobId);
  }

  async #submitOne(job: Job): Promise<Submission> {
    const { store, backend, liveTeacher } = this.#options;
    const attempt = await newAttempt(store, job.key);
    const files = attemptFiles(attempt);
    const request = jobRequest(job, { cacheDir: store.root, backend, liveTeacher });
    await writeJsonAtomic(files.request, request);
    // Only the dependencies still in Slurm's hands: a cached one is done, and one that failed made this
    // job skipped before it gets here.
    const after = job.dependsOn.map((id) => this.#jobs.get(id)?.submission.slurmJobId).filter((id): id is string => id !== undefined);
    const args = [
      `--job-name=kdx-${job.label}`.slice(0, 120),
      `--output=${files.output}`,
      `--chdir=${process.cwd()}`,
      ...(after.length > 0 ? [`--dependency=afterok:${after.join(':')}`, '--kill-on-invalid-dep=yes'] : []),
      ...resourceArgs(withThreads(job.experiment.slurm[job.stage.name] ?? {}, job.threads)),
    ];
    const script = `#!/bin/sh\n# kdx job ${job.label} (${job.key})\nexec ${shellQuote(process.execPath)} ${shellQuote(kdxBin)} __slurm-job ${shellQuote(attempt)}\n`;
    const slurmJobId = await sbatch(args, script);
    const submission: Submission = { slurmJobId, attempt, submittedAt: new Date().toISOString(), label: job.label };
    await writeSubmission(store, job.key, submission);
    return submission;
  }

  /** Follows a submitted job to its end: re-emits its events, returns its outcome or throws why it failed. */
  async follow(job: Job): Promise<JobOutcome> {
    const refused = this.#refused.get(job.id);
    if (refused) throw new SlurmJobFailed(refused);
    const followed = this.#jobs.get(job.id);
    if (!followed) throw new Error(`job ${job.label} was not submitted to Slurm`);
    try {
      return await this.#followUntilEnd(job, followed);
    } finally {
      if (!this.#options.signal?.aborted) followed.settled = true;
    }
  }

  async #followUntilEnd(job: Job, followed: Followed): Promise<JobOutcome> {
    const { signal } = this.#options;
    const { files, submission } = followed;
    const slurmId = submission.slurmJobId;
    const tail = new EventTail(files.events, (event) => this.#options.emit(fromWorker(event, job.id)));
    // A job Slurm reports ended may have written its outcome an instant before: on a network file
    // system, look a few more times before concluding it left none.
    let endedPolls = 0;
    for (;;) {
      if (signal?.aborted) throw new TrainingAborted();
      await tail.read();
      const outcome = await readOutcome(files);
      if (outcome) {
        await tail.read();
        if (outcome.type === 'result') return outcome.outcome;
        if (!outcome.interrupted) throw new SlurmJobFailed(outcome.message);
        // Stopped by a signal: scancel, the time limit, a node going down. Slurm says which.
        throw new SlurmJobFailed(describeEnd(slurmId, await this.#queue.finalState(slurmId)));
      }
      const state = await this.#queue.state(slurmId);
      if (state === 'unknown-now') {
        // squeue failed this time (a busy controller): look again later.
      } else if (state === undefined || hasEnded(state)) {
        if (++endedPolls > 3) throw new SlurmJobFailed(describeEnd(slurmId, state));
      }
      await pause(this.#queue.pollMs, signal);
    }
  }

  /** A job that will not run any more here (a dependency failed): Slurm's copy is cancelled too. */
  async skipped(job: Job): Promise<void> {
    const followed = this.#jobs.get(job.id);
    if (!followed) return;
    followed.settled = true;
    await scancel([followed.submission.slurmJobId]).catch(() => {});
  }

  /** After the schedule: on an interruption, cancels or leaves the jobs still in Slurm's hands. */
  async finish(interrupted: boolean): Promise<void> {
    const { emit } = this.#options;
    this.#queue.stop();
    if (!interrupted) return;
    const pending = [...this.#jobs.values()].filter((f) => !f.settled).map((f) => f.submission.slurmJobId);
    if (pending.length === 0) return;
    const ids = pending.join(' ');
    if (this.#options.onInterrupt() === 'cancel') {
      await scancel(pending);
      emit({ type: 'log', time: Date.now(), level: 'info', message: `cancelled Slurm jobs ${ids}; each keeps its last finished epoch` });
    } else {
      emit({ type: 'log', time: Date.now(), level: 'info', message: `left Slurm jobs ${ids} queued or running: the same command re-attaches to them, \`scancel ${ids}\` stops them` });
    }
  }
}

/** Slurm's account of why a job ended without a result. */
function describeEnd(slurmId: string, state: SlurmJobState | 'unknown-now' | undefined): string {
  if (state === undefined || state === 'unknown-now') return `Slurm job ${slurmId} ended without a result and Slurm no longer knows why (see its slurm.out in the store)`;
  const reason = state.reason && state.reason !== 'None' ? ` (${state.reason})` : '';
  return `Slurm ended job ${slurmId}: ${state.state}${reason}`;
}

/** Reads the lines appended to a JSON-lines file since the last read; a partial last line waits. */
class EventTail {
  #offset = 0;
  #partial = '';

  constructor(readonly path: string, readonly onEvent: (event: KdxEvent) => void) {}

  async read(): Promise<void> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size <= this.#offset) return;
      const buffer = Buffer.alloc(size - this.#offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset);
      this.#offset += bytesRead;
      const lines = (this.#partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
      this.#partial = lines.pop()!;
      for (const line of lines) if (line.trim()) this.onEvent(JSON.parse(line) as KdxEvent);
    } finally {
      await handle.close();
    }
  }
}

/** One squeue call per poll for every job followed, however many there are. */
class SlurmQueue {
  readonly #watched = new Set<string>();
  #states = new Map<string, SlurmJobState>();
  #fetched = 0;
  #failed = false;
  #inflight: Promise<void> | undefined;
  #stopped = false;

  constructor(readonly pollMs: number) {}

  watch(id: string): void {
    this.#watched.add(id);
  }

  stop(): void {
    this.#stopped = true;
  }

  /** The job's state as of at most one poll ago; undefined if Slurm does not know it; 'unknown-now' if squeue failed. */
  async state(id: string): Promise<SlurmJobState | 'unknown-now' | undefined> {
    if (Date.now() - this.#fetched >= this.pollMs && !this.#stopped) {
      this.#inflight ??= this.#refresh().finally(() => (this.#inflight = undefined));
      await this.#inflight;
    }
    return this.#failed ? 'unknown-now' : this.#states.get(id);
  }

  /** The state of a job that is ending: waits (a few seconds at most) for Slurm to record how it ended,
   * even while this run stops, so that its failure says why. */
  async finalState(id: string): Promise<SlurmJobState | undefined> {
    let state: SlurmJobState | 'unknown-now' | undefined;
    for (let i = 0; i < 20; i++) {
      state = await this.state(id);
      if (state !== 'unknown-now' && (state === undefined || hasEnded(state))) return state;
      await sleep(this.pollMs, undefined);
    }
    return state === 'unknown-now' ? undefined : state;
  }

  async #refresh(): Promise<void> {
    try {
      this.#states = await jobStates([...this.#watched]);
      this.#failed = false;
    } catch {
      this.#failed = true;
    }
    this.#fetched = Date.now();
  }
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** A poll's wait: a stop ends it early, and the loop around it looks at the signal itself. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}
