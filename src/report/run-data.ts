// Reads a finished run or sweep directory back into one typed value, from the files the run wrote
// (summary.json, experiment.json, events.jsonl, stages/*/metrics.json, stages/*/evaluation.json). What a
// directory lacks (an older kdx wrote no evaluation.json; a failed stage has no metrics) is listed in
// `missing`, in words, rather than failing: a report shows what there is.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { EpochMetrics, JobState, JobSummary, KdxEvent, ResultRow } from '../events.js';
import type { GitInfo } from '../util/git.js';
import { EVALUATION_FILE, type StageEvaluation } from './evaluation.js';

export interface StageData {
  name: string;
  model?: string;
  /** The stage it distils, if any. */
  teacher?: string;
  job: string;
  status: JobState;
  error?: string;
  summary?: JobSummary;
  history: EpochMetrics[];
  evaluation?: StageEvaluation;
}

export interface TrialData {
  /** Empty for a plain run. */
  id: string;
  params: Record<string, unknown>;
  stages: StageData[];
  /** Per distilling stage with a result: its KD gain over the same model trained without a teacher. */
  kdGains: Record<string, number>;
  /** The best of them: what a sweep ranks its trials by. */
  kdGain?: number;
  row: ResultRow;
}

export interface RunData {
  dir: string;
  kind: 'run' | 'sweep';
  name: string;
  status: string;
  /** The experiment file, if recorded. */
  file?: string;
  /** The resolved experiment, as written to experiment.json. */
  experiment?: Record<string, unknown>;
  backend?: string;
  /** When the run started (ms since the epoch), from its first event. */
  startedAt?: number;
  /** Wall time of the whole run. */
  seconds?: number;
  git?: GitInfo;
  /** The sweep's grid keys, in the order of the trials' parameters. */
  gridKeys: string[];
  trials: TrialData[];
  /** What this directory does not have, in words (e.g. "kd_student: no confusion matrix"). */
  missing: string[];
}

interface ExperimentFileJson {
  kind?: 'run' | 'sweep';
  backend?: { name?: string };
  experiment?: Record<string, unknown> & { name?: string; file?: string; stages?: Record<string, { model?: string; teacher?: string; teachers?: { stage: string }[] }> };
  git?: GitInfo;
}

function readJsonIfPresent<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readRunData(dir: string): RunData {
  const summary = readJsonIfPresent<{ kind: 'run' | 'sweep'; status?: string; rows: ResultRow[] }>(join(dir, 'summary.json'));
  if (!summary) {
    throw new UsageError(existsSync(dir) ? `${dir}: no summary.json (not a kdx run directory, or the run did not finish)` : `${dir}: no such run directory`);
  }
  const missing: string[] = [];
  const meta = readJsonIfPresent<ExperimentFileJson>(join(dir, 'experiment.json'));
  if (!meta) missing.push('experiment.json (the resolved experiment)');
  const events = readEvents(join(dir, 'events.jsonl'));
  if (events.length === 0) missing.push('events.jsonl (start time and wall time)');
  const plan = events.find((e): e is Extract<KdxEvent, { type: 'plan' }> => e.type === 'plan');
  const end = events.find((e): e is Extract<KdxEvent, { type: 'run-end' }> => e.type === 'run-end');
  const specs = meta?.experiment?.stages ?? {};

  const kind = summary.kind;
  const trials = summary.rows.map((row): TrialData => {
    const base = row.trial ? join(dir, 'trials', row.trial) : dir;
    const stages = Object.entries(row.stages).map(([name, entry]): StageData => {
      const stageDir = join(base, 'stages', name);
      const hasSummary = 'finalAccuracy' in entry;
      const metrics = hasSummary ? readJsonIfPresent<{ history?: EpochMetrics[] }>(join(stageDir, 'metrics.json')) : undefined;
      const evaluation = hasSummary ? readJsonIfPresent<StageEvaluation>(join(stageDir, EVALUATION_FILE)) : undefined;
      return {
        name,
        model: hasSummary ? entry.model : specs[name]?.model,
        // Runs before ensembles wrote `teacher`; the report compares a stage with one teacher's evaluation.
        teacher: specs[name]?.teacher ?? (specs[name]?.teachers?.length === 1 ? specs[name].teachers![0].stage : undefined),
        job: entry.job,
        status: entry.status,
        ...('error' in entry && entry.error ? { error: entry.error } : {}),
        ...(hasSummary ? { summary: entry as JobSummary } : {}),
        history: metrics?.history ?? [],
        ...(evaluation ? { evaluation } : {}),
      };
    });
    const kdGains = Object.fromEntries(Object.entries(row.kdGains ?? {}).filter((g): g is [string, number] => g[1] !== null));
    const gains = Object.values(kdGains);
    // A seed replica's seed is a parameter to the report, which averages trials that differ only by it.
    const params = row.seed === undefined ? row.params : { ...row.params, seed: row.seed };
    return { id: row.trial ?? '', params, stages, kdGains, ...(gains.length > 0 ? { kdGain: Math.max(...gains) } : {}), row };
  });
  noteMissingStageFiles(trials, missing);

  const times = events.map((e) => e.time).filter((t) => Number.isFinite(t));
  return {
    dir,
    kind,
    name: plan?.name ?? meta?.experiment?.name ?? dir,
    status: summary.status ?? end?.status ?? 'unknown',
    ...(meta?.experiment?.file ? { file: meta.experiment.file } : {}),
    ...(meta?.experiment ? { experiment: meta.experiment } : {}),
    ...(plan?.backend ?? meta?.backend?.name ? { backend: plan?.backend ?? meta?.backend?.name } : {}),
    ...(times.length > 0 ? { startedAt: Math.min(...times) } : {}),
    ...(end ? { seconds: end.seconds } : times.length > 1 ? { seconds: (Math.max(...times) - Math.min(...times)) / 1000 } : {}),
    ...(meta?.git ? { git: meta.git } : {}),
    gridKeys: [...new Set(trials.flatMap((t) => Object.keys(t.params)))],
    trials,
    missing,
  };
}

/** One line per kind of gap, naming the stages (a 3 x 3 sweep without confusion matrices is one line). */
function noteMissingStageFiles(trials: TrialData[], missing: string[]): void {
  const noHistory = new Set<string>();
  const noEvaluation = new Set<string>();
  /** Stages that did not finish (failed, skipped, interrupted), with how they ended. */
  const noResult = new Map<string, string>();
  for (const trial of trials) {
    for (const stage of trial.stages) {
      if (!stage.summary) {
        if (!noResult.has(stage.name)) noResult.set(stage.name, stage.status);
        continue;
      }
      if (stage.history.length === 0) noHistory.add(stage.name);
      if (!stage.evaluation) noEvaluation.add(stage.name);
    }
  }
  if (noResult.size > 0) {
    const stages = [...noResult].map(([name, status]) => `${name} (${status})`).join(', ');
    missing.push(`results of ${stages}: ${noResult.size === 1 ? 'it did' : 'they did'} not finish, so there are no curves, metrics or confusion matrix (the comparison says why)`);
  }
  if (noHistory.size > 0) missing.push(`learning curves of ${[...noHistory].join(', ')}: no metrics.json`);
  if (noEvaluation.size > 0) {
    missing.push(
      `confusion matrices and teacher agreement of ${[...noEvaluation].join(', ')}: no ${EVALUATION_FILE} ` +
        '(the jobs were trained by a kdx from before reports; a cached job keeps the files it was trained with)',
    );
  }
}

function readEvents(path: string): KdxEvent[] {
  if (!existsSync(path)) return [];
  const events: KdxEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      events.push(JSON.parse(line) as KdxEvent);
    } catch {
      // a run killed mid-write leaves a partial last line
    }
  }
  return events;
}
