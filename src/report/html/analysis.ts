// What the report shows, computed from the runs' data (no HTML, no charts): which trial of a sweep stands
// for it, the comparison of stages with mean ± std over seeds, the heatmap cells of a sweep, and how
// often a distilled student agrees with its teacher.
import { agreement } from '../evaluation.js';
import { paramList, paramValue } from '../format.js';
import { sortTrials } from '../table.js';
import type { RunData, StageData, TrialData } from '../run-data.js';
import { onePerJob, stat, type Stat } from '../seeds.js';

export { stat, type Stat };

/** Grid keys that only repeat a trial with another seed: their trials are averaged, not compared. */
export function seedKeys(run: RunData): string[] {
  return run.gridKeys.filter((key) => /(^|\.)seed$/i.test(key));
}

/** Trials that differ only in their seed. */
export interface TrialGroup {
  /** The non-seed parameters they share. */
  params: Record<string, unknown>;
  trials: TrialData[];
}

export function trialGroups(run: RunData): TrialGroup[] {
  const seeds = new Set(seedKeys(run));
  const groups = new Map<string, TrialGroup>();
  for (const trial of run.trials) {
    const params = Object.fromEntries(Object.entries(trial.params).filter(([key]) => !seeds.has(key)));
    const key = JSON.stringify(params);
    const group = groups.get(key) ?? { params, trials: [] };
    group.trials.push(trial);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/**
 * The group a report shows curves, comparisons and confusion matrices for: a run's only trial, or the
 * sweep's best (by mean KD gain, then the order of the results table, which puts the best trial first).
 */
export function shownGroup(run: RunData): TrialGroup {
  const groups = trialGroups(run);
  if (groups.length === 1) return groups[0];
  const rank = new Map(sortTrials(run.trials.map((t) => t.row)).map((row, i) => [row.trial, i]));
  const score = (g: TrialGroup) => stat(g.trials.map((t) => t.kdGain))?.mean ?? -Infinity;
  const firstRank = (g: TrialGroup) => Math.min(...g.trials.map((t) => rank.get(t.id) ?? Infinity));
  return [...groups].sort((a, b) => score(b) - score(a) || firstRank(a) - firstRank(b))[0];
}

/**
 * How runs are told apart where several are shown together: by experiment name, numbered when names
 * repeat (a directory's name, with its timestamp, is too long for a legend).
 */
export function runLabels(runs: readonly RunData[]): string[] {
  const names = runs.map((run) => run.name);
  return names.map((name, i) => (names.filter((n) => n === name).length > 1 ? `${name}#${i + 1}` : name));
}

/** A stage's agreement with its teacher on the test set, in one trial. */
export function teacherAgreement(trial: TrialData, stage: StageData): number | undefined {
  if (!stage.teacher || !stage.evaluation) return undefined;
  const teacher = trial.stages.find((s) => s.name === stage.teacher);
  return teacher?.evaluation ? agreement(stage.evaluation, teacher.evaluation) : undefined;
}

/** One stage of a shown group: its trials' values, averaged over seeds. */
export interface StageStats {
  stage: string;
  model?: string;
  teacher?: string;
  params?: number;
  finalAccuracy?: Stat;
  bestAccuracy?: Stat;
  kdGain?: Stat;
  agreement?: Stat;
  imgPerSec?: Stat;
  seconds?: Stat;
  status: string;
  /** Why it failed or was skipped, in the first trial where it did. */
  error?: string;
}

export function stageStats(group: TrialGroup): StageStats[] {
  const names = [...new Set(group.trials.flatMap((t) => t.stages.map((s) => s.name)))];
  return names.map((name) => {
    // A job shared by the seeds (a teacher with its own seed) is one sample: no spread over copies of it.
    const entries = onePerJob(group.trials.flatMap((trial) => trial.stages.filter((s) => s.name === name).map((stage) => ({ trial, stage }))), (e) => e.stage.job);
    const summaries = entries.map((e) => e.stage.summary);
    const first = entries[0].stage;
    const distils = first.teacher !== undefined;
    return {
      stage: name,
      model: first.model,
      ...(first.teacher ? { teacher: first.teacher } : {}),
      params: summaries.find((s) => s)?.params,
      finalAccuracy: stat(summaries.map((s) => s?.finalAccuracy)),
      bestAccuracy: stat(summaries.map((s) => s?.bestAccuracy)),
      // Each distilled stage has its own KD gain.
      kdGain: distils ? stat(entries.map((e) => (e.stage.summary ? e.trial.kdGains[name] : undefined))) : undefined,
      agreement: stat(entries.map((e) => teacherAgreement(e.trial, e.stage))),
      imgPerSec: stat(summaries.map((s) => s?.imgPerSec)),
      seconds: stat(summaries.map((s) => s?.seconds)),
      status: [...new Set(entries.map((e) => e.stage.status))].join(', '),
      ...(entries.find((e) => e.stage.error) ? { error: entries.find((e) => e.stage.error)!.stage.error } : {}),
    };
  });
}

/** The stage whose accuracy and gain a sweep's heatmap shows: the first distilling stage, else the last. */
export function headlineStage(run: RunData): string | undefined {
  const stages = run.trials[0]?.stages ?? [];
  return (stages.find((s) => s.teacher !== undefined) ?? stages.at(-1))?.name;
}

export interface SweepCell {
  /** Values of the non-seed grid keys, as shown. */
  coordinates: string[];
  params: Record<string, unknown>;
  accuracy?: Stat;
  gain?: Stat;
  trials: number;
}

/** One cell per group of trials (one per trial when no key is a seed), for the heatmaps or their table. */
export function sweepCells(run: RunData, stage: string): { keys: string[]; cells: SweepCell[]; orders: string[][] } {
  const seeds = new Set(seedKeys(run));
  const keys = run.gridKeys.filter((key) => !seeds.has(key));
  const cells = trialGroups(run).map((group): SweepCell => ({
    coordinates: keys.map((key) => paramValue(group.params[key])),
    params: group.params,
    accuracy: stat(group.trials.map((t) => t.stages.find((s) => s.name === stage)?.summary?.finalAccuracy)),
    gain: stat(group.trials.map((t) => t.kdGains[stage])),
    trials: group.trials.length,
  }));
  // Axis order: the values in the order the grid gave them (trials are in grid order), not sorted as text.
  const orders = keys.map((_, k) => [...new Set(cells.map((c) => c.coordinates[k]))]);
  return { keys, cells, orders };
}

export function groupLabel(group: TrialGroup): string {
  return paramList(group.params);
}
