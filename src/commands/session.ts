// What `kdx run` and `kdx sweep` share: the backend, the reporter, Ctrl-C / `q`, the run directory, and
// how the run ended (thrown as a typed error; src/cli.ts maps it to the exit status).
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Experiment } from '../config/experiment.js';
import { backendLabel, selectBackendOrFail, type BackendInfo, type BackendName } from '../engine/backend.js';
import { limitTensorflowThreads, threadsPerJob } from '../engine/tensorflow-threads.js';
import { environmentError, InterruptedError, RunFailedError } from '../errors.js';
import { interruptOnSignals } from '../interrupt.js';
import { createReporter, resolveMode } from '../reporters/index.js';
import type { KdxEvent } from '../events.js';
import { createRunDir, eventLog, writeJson } from '../runner/run-dir.js';
import { execute, type Trial } from '../runner/run.js';
import { Store } from '../store/store.js';
import { gitInfo } from '../util/git.js';
import { resolveThreads, type ThreadPlan, type ThreadsSetting } from '../runner/threads.js';
import { checkSlurm } from '../runner/slurm/check.js';
import { SlurmExecutor, type InterruptPolicy } from '../runner/slurm/executor.js';

export interface ExecutionFlags {
  set: string[];
  backend?: BackendName;
  jobs: number;
  threads?: ThreadsSetting;
  /** `slurm`: each job not cached is a Slurm batch job (runner/slurm/); default `local`. */
  executor?: 'local' | 'slurm';
  /** With the Slurm executor, what `q` / Ctrl-C does to its jobs; default: ask in the TUI, else leave. */
  onInterrupt?: InterruptPolicy | 'ask';
  /** `--seeds N`: train every trial under N seeds (see seeds.ts). */
  seeds?: number;
  cacheDir?: string;
  runsDir: string;
  json?: boolean;
  quiet?: boolean;
}

/** Where `kdx sweep` without a file finds the last `kdx run`'s: in the store, not the working directory,
 * so `--cache-dir` elsewhere leaves nothing behind where kdx was started. */
export function lastRunFile(store: Store): string {
  return join(store.root, 'last-run.json');
}

export async function executeTrials(kind: 'run' | 'sweep', base: Experiment, trials: Trial[], flags: ExecutionFlags): Promise<void> {
  // Before libtensorflow can start; --jobs workers inherit it. Slurm jobs run on nodes with their own
  // cores (sbatch passes this environment on), so the login node's share must not reach them.
  if (flags.executor !== 'slurm') limitTensorflowThreads(threadsPerJob(flags.jobs));
  const backend = await selectBackendOrFail(flags.backend ?? base.backend);
  const threads = threadsOf(base, flags, backendLabel(backend));
  // Slurm missing or refusing the resources: said before anything is written or submitted.
  if (flags.executor === 'slurm') await checkSlurm(trials.map((trial) => trial.experiment));
  const controller = new AbortController();
  const interrupts = interruptOnSignals(controller);
  const mode = flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto';
  const tui = resolveMode(mode, process.stdout, process.env) === 'tui';
  const onInterrupt = flags.executor === 'slurm' ? (flags.onInterrupt ?? (tui ? 'ask' : 'leave')) : 'leave';
  const question = slurmInterruptQuestion(onInterrupt, interrupts.request, (event) => reporter.onEvent(event));
  const reporter = createReporter({ mode, stdout: process.stdout, stderr: process.stderr, onQuit: question.onQuit, onKey: question.onKey });

  const store = new Store(flags.cacheDir);
  let result;
  // A run directory that cannot be written (a full disk, removed mid-run) stops the run like Ctrl-C does,
  // keeping the last finished epoch; the first such error is what the run ends with.
  let runDirFailure: unknown;
  try {
    await reporter.ready; // training keeps the event loop busy: the UI must be up before it starts
    await store.prepare();
    await store.sweep(); // temporary files of processes that died
    const runDir = createRunDir(flags.runsDir, kind === 'sweep' ? `${base.name}-sweep` : base.name);
    const git = gitInfo(base.file);
    await writeJson(runDir, 'experiment.json', { kind, backend, threads, ...(git ? { git } : {}), experiment: base, trials: trials.map(({ id, params }) => ({ id, params })) });
    const log = eventLog(runDir);
    const emit = (event: KdxEvent) => {
      if (runDirFailure === undefined) {
        try {
          log(event);
        } catch (error) {
          runDirFailure = error;
          controller.abort();
        }
      }
      reporter.onEvent(event);
    };
    const backendNames = { name: backend.name, label: backendLabel(backend) };
    const jobs = jobsOn(backend, flags);
    if (jobs < flags.jobs) {
      emit({ type: 'log', time: Date.now(), level: 'info', message: `webgpu: one job at a time on the GPU (--jobs ${flags.jobs} would have ${flags.jobs} jobs compete for its memory and time)` });
    }
    const executor = flags.executor === 'slurm'
      ? new SlurmExecutor({ store, backend: backendNames, emit, signal: controller.signal, onInterrupt: () => question.policy() })
      : undefined;
    result = await execute({ name: base.name, kind, trials, store, runDir, backend: backendNames, jobs, threads, cores: availableParallelism(), executor, emit, signal: controller.signal, writeReport: (dir) => writeReportAtEnd(dir, emit) });
  } finally {
    await reporter.close();
    interrupts.dispose();
  }
  if (runDirFailure !== undefined) throw environmentError(runDirFailure) ?? runDirFailure;
  await rememberLastRun(store, base.file);
  if (result.status === 'interrupted') {
    // The reporters end with the same news; only JSON lines leave it to this message on stderr.
    const again = kind === 'sweep' ? 'kdx sweep' : 'kdx run';
    throw new InterruptedError(flags.json ? `interrupted. Run the same ${again} command again to resume from the last finished epoch.` : '');
  }
  if (result.status === 'failed') {
    const failed = result.rows.flatMap((row) => Object.values(row.stages)).filter((stage) => stage.status === 'failed').length;
    throw new RunFailedError(failed > 0 ? `${failed} job${failed === 1 ? '' : 's'} failed (see above)` : 'the run failed (see above)');
  }
}

/** Jobs at once on this machine: on webgpu, one, since the jobs would share one GPU (Slurm gives each job
 * its own node and GPU, so there --jobs is not what limits them). */
export function jobsOn(backend: BackendInfo, flags: Pick<ExecutionFlags, 'jobs' | 'executor'>): number {
  return backend.name === 'webgpu' && flags.executor !== 'slurm' ? 1 : flags.jobs;
}

/** Threads per job: --threads, else the file's runtime.threads (runner/threads.ts). */
export function threadsOf(base: Experiment, flags: Pick<ExecutionFlags, 'threads' | 'executor'>, backend: string): ThreadPlan {
  const fromFlag = flags.threads !== undefined;
  return resolveThreads({
    requested: flags.threads ?? base.threads,
    source: fromFlag ? '--threads' : `runtime.threads in ${relative(process.cwd(), base.file) || base.file}`,
    backend,
    executor: flags.executor ?? 'local',
  });
}

/**
 * `q` / Ctrl-C under --executor slurm in the TUI: the jobs run on the cluster whatever this process does,
 * so the first `q` asks (in a log line) whether to cancel them or leave them running, and `c` or `l`
 * answers; a second `q` leaves them. Without a question (a policy given, or plain output) `q` stops at once.
 */
export function slurmInterruptQuestion(initial: InterruptPolicy | 'ask', stop: () => void, emit: (event: KdxEvent) => void) {
  let policy = initial;
  let asked = false;
  const decide = (answer: InterruptPolicy) => {
    policy = answer;
    stop();
  };
  return {
    policy: (): InterruptPolicy => (policy === 'ask' ? 'leave' : policy),
    onQuit() {
      if (policy !== 'ask') return stop();
      if (asked) return decide('leave');
      asked = true;
      const message = 'stop: press c to cancel the Slurm jobs (scancel), l to leave them running (the same command re-attaches to them)';
      emit({ type: 'log', time: Date.now(), level: 'warn', message });
    },
    onKey(input: string) {
      if (asked && policy === 'ask' && (input === 'c' || input === 'l')) decide(input === 'c' ? 'cancel' : 'leave');
    },
  };
}

/** report.html at the end of a run: Vega loads only then, and a report that fails never fails the run. */
async function writeReportAtEnd(runDir: string, emit: (event: KdxEvent) => void): Promise<string | undefined> {
  try {
    const { writeReport } = await import('../report/html/index.js');
    return (await writeReport([runDir])).path;
  } catch (error) {
    emit({ type: 'log', time: Date.now(), level: 'warn', message: `could not write the report: ${(error as Error).message}` });
    return undefined;
  }
}

async function rememberLastRun(store: Store, file: string): Promise<void> {
  try {
    await writeFile(lastRunFile(store), `${JSON.stringify({ file: resolve(file) })}\n`);
  } catch {
    // Only a convenience for `kdx sweep` without a file.
  }
}
