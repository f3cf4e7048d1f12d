import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadExperiment } from '../config/load.js';
import type { Experiment } from '../config/experiment.js';
import { UsageError } from '../errors.js';
import { backendLabel, selectBackendOrFail } from '../engine/backend.js';
import { planTrials, type Trial } from '../runner/run.js';
import { Store } from '../store/store.js';
import { gridFromFile, gridPoints, parseGridArgs } from '../runner/sweep.js';
import { executeTrials, lastRunFile, threadsOf, type ExecutionFlags } from './session.js';
import { runSeeds, seedTrials } from './seeds.js';
import type { ThreadPlan } from '../runner/threads.js';

export async function sweep(fileArg: string | undefined, flags: ExecutionFlags & { grid?: string[]; dryRun?: boolean }): Promise<void> {
  const file = fileArg ?? announced(defaultFile(new Store(flags.cacheDir)));
  const { experiment: base } = await loadExperiment(file, { overrides: flags.set });
  const points = await loadSweepTrials(file, base, flags.set, flags.grid);
  const seeds = runSeeds(base, flags.seeds);
  const trials = points && seeds ? await seedTrials(points, seeds) : points;
  if (!trials) throw new UsageError(`${file} has no sweep.grid: give one with --grid KEY=V1,V2,... (e.g. --grid T=2,4,8 alpha=0.5,0.7,0.9)`);
  if (flags.dryRun) {
    const backend = backendLabel(await selectBackendOrFail(flags.backend ?? base.backend));
    const plan = dryRunPlan(trials, backend, threadsOf(base, flags, backend), new Store(flags.cacheDir));
    process.stdout.write(flags.json ? `${JSON.stringify(plan)}\n` : describeDryRun(plan));
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

/** Says which file a sweep without FILE chose (on stderr: stdout may be JSON lines). */
function announced({ file, why }: { file: string; why: string }): string {
  process.stderr.write(`kdx: no file given: sweeping ${relative('.', file) || file} (${why})\n`);
  return file;
}

/** The last `kdx run`'s file, else the only file in experiments/. */
function defaultFile(store: Store): { file: string; why: string } {
  if (existsSync(lastRunFile(store))) {
    const { file } = JSON.parse(readFileSync(lastRunFile(store), 'utf8')) as { file: string };
    if (existsSync(file)) return { file, why: 'the file of the last kdx run here' };
  }
  const candidates = existsSync('experiments') ? readdirSync('experiments').filter((f) => /\.ya?ml$/.test(f)) : [];
  if (candidates.length === 1) return { file: join('experiments', candidates[0]), why: 'the only file in experiments/' };
  throw new UsageError(
    candidates.length === 0
      ? 'no experiment file given, no earlier `kdx run` here, and no experiments/ directory: give the file, e.g. kdx sweep experiments/x.yaml'
      : `no experiment file given and no earlier \`kdx run\` here; experiments/ has ${candidates.length} files (${candidates.join(', ')}): name one`,
  );
}

/** What `--dry-run` reports: the distinct jobs, and per trial whether each stage's job is cached. */
interface DryRun {
  trials: { trial: string; params: Record<string, unknown>; stages: Record<string, { job: string; cached: boolean }> }[];
  jobs: number;
  cached: number;
}

function dryRunPlan(trials: Trial[], backend: string, threads: ThreadPlan, store: Store): DryRun {
  const { jobs, planned } = planTrials(trials, backend, threads);
  return {
    trials: planned.map((trial) => ({
      trial: trial.id,
      params: trial.params,
      stages: Object.fromEntries(trial.jobs.map((job) => [job.stage.name, { job: job.id, cached: store.hasSync(job.key) }])),
    })),
    jobs: jobs.length,
    cached: jobs.filter((job) => store.hasSync(job.key)).length,
  };
}

function describeDryRun(plan: DryRun): string {
  const lines = [`${plan.trials.length} trials, ${plan.jobs} distinct jobs (${plan.cached} cached, ${plan.jobs - plan.cached} to run):`];
  for (const trial of plan.trials) {
    const parts = Object.entries(trial.stages).map(([stage, { cached }]) => `${stage}:${cached ? 'cached' : 'run'}`);
    lines.push(`  ${trial.trial}  ${parts.join('  ')}`);
  }
  return `${lines.join('\n')}\n`;
}
