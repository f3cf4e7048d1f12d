// Executes a run or a sweep: one plan (the union of the trials' jobs, each job once), scheduled on
// `jobs` workers, with events to the reporters and results to the run directory.
import { join } from 'node:path';
import type { Experiment, StageSpec } from '../config/experiment.js';
import { contentHash } from '../util/hash.js';
import { renderResults } from '../report/table.js';
import type { EventSink, JobState, PlanJob, ResultRow, TrialInfo } from '../events.js';
import { describeJobError, executeJob, type JobEnvironment, type JobOutcome } from './job.js';
import { ONE_THREAD, type ThreadPlan } from './threads.js';
import { planExperiment, type Job } from './plan.js';
import { copyOutputs, writeJson, writeText } from './run-dir.js';
import { schedule, type JobResult } from './scheduler.js';
import type { Store } from '../store/store.js';
import { DatasetCache } from './datasets.js';
import { runInWorker } from './worker.js';

export interface Trial {
  /** Content-derived id (the trial directory's name); empty for a plain run. */
  id: string;
  params: Record<string, unknown>;
  /** In a repeated-seeds run: the replica's seed (the experiment's trainingSeed). */
  seed?: number;
  experiment: Experiment;
}

export interface ExecuteOptions {
  name: string;
  kind: 'run' | 'sweep';
  trials: Trial[];
  store: Store;
  runDir: string;
  /** The backend to select (in workers) and the label results record (`tensorflow (GPU)`). */
  backend: { name: string; label: string };
  jobs: number;
  /** Data-parallel threads per job (resolved: runner/threads.ts); default one. */
  threads?: ThreadPlan;
  /** The cores the jobs share: a job takes one per thread and starts when they are free, so jobs x threads
   * never exceed them. Default: no limit. */
  cores?: number;
  emit: EventSink;
  signal?: AbortSignal;
  liveTeacher?: boolean;
  /** Runs the jobs that are not cached elsewhere (a Slurm cluster) instead of here or in `jobs` workers. */
  executor?: RemoteExecutor;
  /** Writes the run's report once its results are written; returns its path, or undefined if it could not. */
  writeReport?: (runDir: string) => Promise<string | undefined>;
}

export interface ExecuteResult {
  status: 'ok' | 'failed' | 'interrupted';
  rows: ResultRow[];
}

/**
 * An executor that runs jobs outside this process tree (see runner/slurm/executor.ts): all jobs are handed
 * over at once, ordered by the executor itself, and followed here.
 */
export interface RemoteExecutor {
  /** Hands over the jobs not cached (in plan order); returns the ids of those to follow. */
  submit(jobs: Job[]): Promise<Set<string>>;
  /** Waits for one handed-over job, re-emitting its events; throws why it failed. */
  follow(job: Job): Promise<JobOutcome>;
  /** A handed-over job that will not run: a job it needs failed. */
  skipped(job: Job): Promise<void>;
  /** After the last job: on an interruption, decides the fate of jobs still running elsewhere. */
  finish(interrupted: boolean): Promise<void>;
}

interface PlannedTrial extends Trial {
  jobs: Job[];
}

/** Plans every trial and merges them: a job shared by trials (same key) runs once. */
export function planTrials(trials: Trial[], backend: string, threads: ThreadPlan = ONE_THREAD): { jobs: Job[]; planned: PlannedTrial[] } {
  const planned = trials.map((trial) => ({ ...trial, jobs: planExperiment(trial.experiment, backend, threads).jobs }));
  // A stage whose job differs between trials is labelled with the trial's values; a shared one is not.
  const keysByStage = new Map<string, Set<string>>();
  for (const trial of planned) for (const job of trial.jobs) {
    keysByStage.set(job.stage.name, (keysByStage.get(job.stage.name) ?? new Set()).add(job.key));
  }
  const unique = new Map<string, Job>();
  for (const trial of planned) {
    const point = { ...trial.params, ...(trial.seed === undefined ? {} : { seed: trial.seed }) };
    const suffix = `[${Object.entries(point).map(([k, v]) => `${k}=${v}`).join(',')}]`;
    trial.jobs = trial.jobs.map((job) => {
      const existing = unique.get(job.id);
      if (existing) return existing;
      const labelled = { ...job, label: keysByStage.get(job.stage.name)!.size > 1 ? `${job.stage.name}${suffix}` : job.stage.name };
      unique.set(job.id, labelled);
      return labelled;
    });
  }
  return { jobs: [...unique.values()], planned };
}

export async function execute(options: ExecuteOptions): Promise<ExecuteResult> {
  const { store, runDir } = options;
  // Finished epochs of each started job, from its events (workers' too): what an interrupted job resumes from.
  const epochsDone = new Map<string, number>();
  const emit: EventSink = (event) => {
    if (event.type === 'job-start') epochsDone.set(event.job, event.startEpoch);
    else if (event.type === 'epoch-end') epochsDone.set(event.job, event.epoch);
    options.emit(event);
  };
  const { jobs, planned } = planTrials(options.trials, options.backend.label, options.threads);
  const keyOf = new Map(jobs.map((job) => [job.id, job.key]));
  const planJobs: PlanJob[] = jobs.map((job) => ({
    job: job.id,
    label: job.label,
    stage: job.stage.name,
    model: job.stage.model,
    // The view draws one teacher edge; an ensemble's other teachers are among dependsOn.
    ...(job.teachers ? { teacher: jobs.find((j) => j.id === job.teachers![0].id)!.label } : {}),
    dependsOn: job.dependsOn,
    epochs: job.stage.epochs,
    cached: store.hasSync(job.key),
  }));
  const trialInfo: TrialInfo[] | undefined =
    options.kind === 'sweep'
      ? planned.map((t) => ({ trial: t.id, params: t.params, jobs: Object.fromEntries(t.jobs.map((j) => [j.stage.name, j.id])) }))
      : undefined;
  emit({ type: 'plan', time: Date.now(), name: options.name, runDir, backend: options.backend.label, jobs: planJobs, ...(trialInfo ? { trials: trialInfo } : {}) });

  const started = Date.now();
  const results = new Map<string, JobResult>();
  const reported = new Set<string>();
  const rowOf = (trial: PlannedTrial): ResultRow => resultRow(trial, results);
  // After each job: put its outputs into the run directory, and report the trials it completed.
  const onJobSettled = async (job: Job) => {
    if (results.get(job.id)?.outcome) {
      for (const trial of planned.filter((t) => t.jobs.includes(job))) {
        // A trial with an id (a sweep's, a seed's) has its own directory; a plain run has one trial.
        await copyOutputs(store.entryDir(job.key), join(runDir, ...(trial.id ? ['trials', trial.id] : []), 'stages', job.stage.name));
      }
    }
    if (options.kind !== 'sweep') return;
    for (const trial of planned) {
      if (reported.has(trial.id) || !trial.jobs.every((j) => results.has(j.id))) continue;
      reported.add(trial.id);
      emit({ type: 'trial-end', time: Date.now(), trial: trial.id, params: trial.params, row: rowOf(trial) });
    }
  };

  const env: JobEnvironment = {
    store,
    datasets: new DatasetCache(emit, options.signal),
    backend: options.backend.label,
    emit,
    signal: options.signal,
    keyOf: (id) => keyOf.get(id)!,
    liveTeacher: options.liveTeacher,
  };
  const { executor } = options;
  const cachedAtPlan = new Set(planJobs.filter((p) => p.cached).map((p) => p.job));
  const remote = executor ? await executor.submit(jobs.filter((job) => !cachedAtPlan.has(job.id))) : new Set<string>();
  const runJob = async (job: Job): Promise<JobOutcome> => {
    if (remote.has(job.id)) return executor!.follow(job);
    if (options.jobs > 1 && !store.hasSync(job.key)) {
      return runInWorker(job, { cacheDir: store.root, backend: options.backend, emit, signal: options.signal, liveTeacher: options.liveTeacher });
    }
    return executeJob(job, env);
  };
  let settled: Promise<void> = Promise.resolve();
  const scheduled = await schedule(jobs, {
    concurrency: executor ? jobs.length : options.jobs,
    ...(executor || options.cores === undefined ? {} : { slots: { capacity: options.cores, of: (job: Job) => job.threads } }),
    emit,
    signal: options.signal,
    run: runJob,
    describeError: describeJobError,
    onSettled: (result) => {
      results.set(result.job.id, result);
      if (result.status === 'skipped' && remote.has(result.job.id)) void executor!.skipped(result.job);
      settled = settled.then(() => onJobSettled(result.job));
    },
  });
  await settled;
  // Jobs stopped by an interruption settle silently; the final table shows them too.
  for (const [id, result] of scheduled.results) results.set(id, result);
  const { interrupted } = scheduled;
  await executor?.finish(interrupted);

  const failed = [...results.values()].some((r) => r.status === 'failed' || (r.status === 'skipped' && r.error !== 'interrupted'));
  const stopped = [...results.values()].filter((r) => r.status === 'skipped' && r.error === 'interrupted');
  for (const result of stopped) describeInterruption(result, epochsDone.get(result.job.id), emit);
  const resumable = stopped.filter((r) => (epochsDone.get(r.job.id) ?? 0) > 0).length;
  const rows = planned.map(rowOf);
  const status = interrupted ? 'interrupted' : failed ? 'failed' : 'ok';
  await writeResults(runDir, options.kind, rows, status);
  const seconds = (Date.now() - started) / 1000; // the run's, not the report's
  // Not after `q` or Ctrl-C: the user asked to stop, and drawing the charts takes seconds (`kdx report`
  // writes it, and so does the run that resumes). Nor when no stage has a result (the data failed to
  // load): a report would have nothing to show; the error and the run's files say what happened.
  const anyResult = rows.some((row) => Object.values(row.stages).some((stage) => 'finalAccuracy' in stage));
  const report = interrupted || !anyResult ? undefined : await options.writeReport?.(runDir);
  emit({ type: 'run-end', time: Date.now(), status, runDir, rows, seconds, ...(report ? { report } : {}), ...(interrupted ? { resumable } : {}) });
  return { status, rows };
}

/** Says how far an interrupted job got; a job that had started leaves the live view as skipped with that reason. */
function describeInterruption(result: JobResult, epochsDone: number | undefined, emit: EventSink): void {
  const { job } = result;
  if (epochsDone === undefined) {
    result.error = 'not started (interrupted)';
    return;
  }
  result.error = epochsDone > 0
    ? `interrupted after epoch ${epochsDone} of ${job.stage.epochs} (resumable)`
    : 'interrupted in its first epoch (nothing to resume)';
  emit({ type: 'job-skipped', time: Date.now(), job: job.id, label: job.label, reason: result.error });
}

function resultRow(trial: PlannedTrial, results: Map<string, JobResult>): ResultRow {
  const stages: ResultRow['stages'] = {};
  for (const job of trial.jobs) {
    const result = results.get(job.id);
    const status: JobState = result?.status ?? 'waiting';
    stages[job.stage.name] = result?.outcome
      ? { ...result.outcome.summary, job: job.id, status }
      : { job: job.id, status, ...(result?.error ? { error: result.error } : {}) };
  }
  const gains = kdGains(trial, stages);
  return {
    ...(trial.id ? { trial: trial.id } : {}),
    params: trial.params,
    ...(trial.seed === undefined ? {} : { seed: trial.seed }),
    stages,
    ...(gains ? { kdGains: gains } : {}),
  };
}

/** The plain student a distilling stage is compared with: the first stage without a teacher that trains
 * the same model on the same data (subset and batch size), with the same number of epochs if one does. */
function plainStudent(specs: StageSpec[], kd: StageSpec): StageSpec | undefined {
  const same = specs.filter((s) => s.teachers === undefined && !s.load && s.model === kd.model && contentHash(s.data) === contentHash(kd.data));
  return same.find((s) => s.epochs === kd.epochs) ?? same[0];
}

/** Each distilling stage's final accuracy minus that of its plain student (see plainStudent). */
function kdGains(trial: PlannedTrial, stages: ResultRow['stages']): Record<string, number | null> | undefined {
  const specs = Object.values(trial.experiment.stages);
  const gains: Record<string, number | null> = {};
  for (const kd of specs.filter((s) => s.teachers !== undefined)) {
    const plain = plainStudent(specs, kd);
    if (!plain) continue;
    const a = stages[kd.name];
    const b = stages[plain.name];
    gains[kd.name] = a && b && 'finalAccuracy' in a && 'finalAccuracy' in b ? a.finalAccuracy - b.finalAccuracy : null;
  }
  return Object.keys(gains).length > 0 ? gains : undefined;
}

async function writeResults(runDir: string, kind: 'run' | 'sweep', rows: ResultRow[], status: string): Promise<void> {
  await writeJson(runDir, 'summary.json', { kind, status, rows });
  await writeText(runDir, 'summary.md', renderResults(rows, 'markdown', { kind }));
  if (kind === 'sweep') {
    await writeText(runDir, 'results.md', renderResults(rows, 'markdown', { kind }));
    await writeText(runDir, 'results.csv', renderResults(rows, 'csv', { kind }));
  }
}
