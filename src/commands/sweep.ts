import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadExperiment } from '../config/load.js';
import type { Experiment } from '../config/experiment.js';
import { UsageError } from '../errors.js';
import { backendLabel, selectBackendOrFail } from '../engine/backend.js';
import { planTrials, type Trial } from '../runner/run.js';
import { Store } from '../store/store.js';
import { gridFromFile, gridPoints, parseGridArgs } from '../runner/sweep.js';
import { executeTrials, lastRunFile, type ExecutionFlags } from './session.js';

export async function sweep(fileArg: string | undefined, flags: ExecutionFlags & { grid?: string[]; dryRun?: boolean }): Promise<void> {
  const file = fileArg ?? defaultFile(new Store(flags.cacheDir));
  const { experiment: base } = await loadExperiment(file, { overrides: flags.set });
  const trials = await loadSweepTrials(file, base, flags.set, flags.grid);
  if (!trials) throw new UsageError(`${file} has no sweep.grid: give one with --grid KEY=V1,V2,... (e.g. --grid T=2,4,8 alpha=0.5,0.7,0.9)`);
  if (flags.dryRun) {
    const backend = backendLabel(await selectBackendOrFail(flags.backend ?? base.backend));
    process.stdout.write(describeTrials(trials, backend, new Store(flags.cacheDir)));
    return;
  }
  await executeTrials('sweep', base, trials, flags);
}

/** The trials of a sweep over `grid` (--grid arguments), else the file's sweep.grid; undefined if neither. */
export async function loadSweepTrials(file: string, base: Experiment, set: string[], grid?: string[]): Promise<Trial[] | undefined> {
  const fromFlag = Boolean(grid?.length);
  const points = fromFlag ? parseGridArgs(grid!) : base.sweep ? gridFromFile(base.sweep.grid) : undefined;
  if (!points) return undefined;
  const trials: Trial[] = [];
  for (const point of gridPoints(points)) {
    const { experiment } = await loadExperiment(file, {
      overrides: set,
      grid: { flag: fromFlag ? '--grid' : 'sweep.grid', overrides: point.overrides },
    });
    trials.push({ id: point.id, params: point.params, experiment });
  }
  return trials;
}

/** The last `kdx run`'s file, else the only file in experiments/. */
function defaultFile(store: Store): string {
  if (existsSync(lastRunFile(store))) {
    const { file } = JSON.parse(readFileSync(lastRunFile(store), 'utf8')) as { file: string };
    if (existsSync(file)) return file;
  }
  const candidates = existsSync('experiments') ? readdirSync('experiments').filter((f) => /\.ya?ml$/.test(f)) : [];
  if (candidates.length === 1) return join('experiments', candidates[0]);
  throw new UsageError(
    candidates.length === 0
      ? 'no experiment file given, no earlier `kdx run` here, and no experiments/ directory: give the file, e.g. kdx sweep experiments/x.yaml'
      : `no experiment file given and no earlier \`kdx run\` here; experiments/ has ${candidates.length} files (${candidates.join(', ')}): name one`,
  );
}

function describeTrials(trials: Trial[], backend: string, store: Store): string {
  const { jobs, planned } = planTrials(trials, backend);
  const cached = jobs.filter((job) => store.hasSync(job.key)).length;
  const lines = [`${trials.length} trials, ${jobs.length} distinct jobs (${cached} cached, ${jobs.length - cached} to run):`];
  for (const trial of planned) {
    const parts = trial.jobs.map((job) => `${job.stage.name}:${store.hasSync(job.key) ? 'cached' : 'run'}`);
    lines.push(`  ${trial.id}  ${parts.join('  ')}`);
  }
  return `${lines.join('\n')}\n`;
}
