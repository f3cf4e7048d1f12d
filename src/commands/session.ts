// What `kdx run` and `kdx sweep` share: the backend, the reporter, Ctrl-C / `q`, the run directory, the
// exit status.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Experiment } from '../config/experiment.js';
import { selectBackend, type BackendInfo, type BackendName } from '../engine/backend.js';
import { EXIT, UserError } from '../errors.js';
import { createReporter } from '../reporters/reporter.js';
import type { KdxEvent } from '../runner/events.js';
import { createRunDir, eventLog, writeJson } from '../runner/run-dir.js';
import { execute, type Trial } from '../runner/run.js';
import { Store } from '../runner/store.js';
import { gitInfo } from '../util/git.js';

export interface ExecutionFlags {
  set: string[];
  backend?: BackendName;
  jobs: number;
  cacheDir?: string;
  runsDir: string;
  json?: boolean;
  quiet?: boolean;
}

/** Where `kdx sweep` without a file finds the last `kdx run`'s. */
export const LAST_RUN_FILE = join('.kdx', 'last-run.json');

export async function executeTrials(kind: 'run' | 'sweep', base: Experiment, trials: Trial[], flags: ExecutionFlags): Promise<void> {
  let backend;
  try {
    backend = await selectBackend(flags.backend ?? base.backend);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  const controller = new AbortController();
  // Ctrl-C, SIGTERM, or `q` / Ctrl-C in the TUI (which reads the keys itself): stop at the next batch,
  // keeping the last finished epoch's checkpoint. A second request means it: exit at once.
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    controller.abort();
  };
  const reporter = createReporter({
    mode: flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto',
    stdout: process.stdout,
    stderr: process.stderr,
    onQuit: onSigint,
  });
  await reporter.ready; // training keeps the event loop busy: the UI must be up before it starts
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const runDir = createRunDir(flags.runsDir, kind === 'sweep' ? `${base.name}-sweep` : base.name);
  const git = gitInfo(base.file);
  await writeJson(runDir, 'experiment.json', { kind, backend, ...(git ? { git } : {}), experiment: base, trials: trials.map(({ id, params }) => ({ id, params })) });
  const log = eventLog(runDir);
  const emit = (event: KdxEvent) => {
    log(event);
    reporter.onEvent(event);
  };
  const store = new Store(flags.cacheDir);
  await store.sweep(); // temporary files of processes that died
  let result;
  try {
    result = await execute({ name: base.name, kind, trials, store, runDir, backend: { name: backend.name, label: backendLabel(backend) }, jobs: flags.jobs, emit, signal: controller.signal, writeReport: (dir) => writeReportAtEnd(dir, emit) });
  } finally {
    await reporter.close();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  rememberLastRun(base.file);
  if (result.status === 'interrupted') {
    const again = kind === 'sweep' ? 'kdx sweep' : 'kdx run';
    process.stderr.write(`kdx: interrupted. Run the same ${again} command again to resume from the last finished epoch.\n`);
    process.exitCode = EXIT.interrupted;
  } else if (result.status === 'failed') {
    process.exitCode = EXIT.failure;
  }
}

/** The backend as runs record it: tfjs-node-gpu runs on the CPU when it finds no GPU, so say which. */
function backendLabel(backend: BackendInfo): string {
  if (backend.name !== 'tensorflow') return backend.name;
  return backend.gpu ? 'tensorflow (GPU)' : 'tensorflow (no GPU found: CPU)';
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

function rememberLastRun(file: string): void {
  try {
    mkdirSync('.kdx', { recursive: true });
    writeFileSync(LAST_RUN_FILE, `${JSON.stringify({ file: resolve(file) })}\n`);
  } catch {
    // Only a convenience for `kdx sweep` without a file.
  }
}
