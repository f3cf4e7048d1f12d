// What `kdx run` and `kdx sweep` share: the backend, the reporter, Ctrl-C / `q`, the run directory, and
// how the run ended (thrown as a typed error; src/cli.ts maps it to the exit status).
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Experiment } from '../config/experiment.js';
import { backendLabel, selectBackendOrFail, type BackendName } from '../engine/backend.js';
import { environmentError, InterruptedError, RunFailedError } from '../errors.js';
import { interruptOnSignals } from '../interrupt.js';
import { createReporter } from '../reporters/index.js';
import type { KdxEvent } from '../events.js';
import { createRunDir, eventLog, writeJson } from '../runner/run-dir.js';
import { execute, type Trial } from '../runner/run.js';
import { Store } from '../store/store.js';
import { gitInfo } from '../util/git.js';

export interface ExecutionFlags {
  set: string[];
  backend?: BackendName;
  jobs: number;
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
  const backend = await selectBackendOrFail(flags.backend ?? base.backend);
  const controller = new AbortController();
  const interrupts = interruptOnSignals(controller);
  const reporter = createReporter({
    mode: flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto',
    stdout: process.stdout,
    stderr: process.stderr,
    onQuit: interrupts.request,
  });

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
    await writeJson(runDir, 'experiment.json', { kind, backend, ...(git ? { git } : {}), experiment: base, trials: trials.map(({ id, params }) => ({ id, params })) });
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
    result = await execute({ name: base.name, kind, trials, store, runDir, backend: { name: backend.name, label: backendLabel(backend) }, jobs: flags.jobs, emit, signal: controller.signal, writeReport: (dir) => writeReportAtEnd(dir, emit) });
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
