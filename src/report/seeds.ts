// Results over repeated seeds: the rows of one grid point (a plain run is one point) trained under
// several seeds, summarised as mean ± sample standard deviation per stage, and each distilled stage's
// KD gain as the mean of its paired per-seed differences with a 95% confidence interval from Student's
// t-distribution (n - 1 degrees of freedom): the same seed gives the plain and the distilled student the
// same initialisation and data order, so the per-seed differences are the paired samples.
import type { JobSummary, ResultRow } from '../events.js';

/** Two-sided 95% critical values of Student's t, t(0.975, df), for df = 1..30; larger df use 1.96 + 2.4/df. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tCritical95(df: number): number {
  if (df < 1) return NaN;
  return df <= T_975.length ? T_975[df - 1] : 1.96 + 2.4 / df;
}

export interface Stat {
  mean: number;
  /** Sample standard deviation (n - 1); undefined for a single value. */
  std?: number;
  n: number;
}

/** Mean and sample standard deviation of the finite values; undefined if there are none. */
export function stat(values: readonly (number | undefined)[]): Stat | undefined {
  const xs = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (xs.length === 0) return undefined;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return { mean, n: 1 };
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(variance), n: xs.length };
}

export interface Gain extends Stat {
  /** The 95% interval of the mean gain: mean ± t(0.975, n-1) · std / sqrt(n); undefined for one seed. */
  low?: number;
  high?: number;
  /** The per-seed differences, in seed order. */
  perSeed: number[];
}

export function pairedGain(differences: readonly number[]): Gain | undefined {
  const s = stat(differences);
  if (!s) return undefined;
  if (s.std === undefined) return { ...s, perSeed: [...differences] };
  const half = tCritical95(s.n - 1) * (s.std / Math.sqrt(s.n));
  return { ...s, low: s.mean - half, high: s.mean + half, perSeed: [...differences] };
}

/** The metrics summarised per stage, by their JobSummary field. */
export const SEED_METRICS = ['finalAccuracy', 'bestAccuracy', 'top5Accuracy', 'ece', 'teacherAgreement', 'teacherKL'] as const;
export type SeedMetric = (typeof SEED_METRICS)[number];

export interface SeedGroup {
  /** The grid point's parameters (without the seed). */
  params: Record<string, unknown>;
  seeds: number[];
  /** Per stage, per metric present in every seed's result. */
  stages: Record<string, Partial<Record<SeedMetric, Stat>>>;
  /** Per distilled stage with a result in at least one seed. */
  kdGains: Record<string, Gain>;
}

/** Whether rows come from a run or sweep over several seeds (each row then carries its seed). */
export function hasSeeds(rows: readonly ResultRow[]): boolean {
  return rows.some((row) => row.seed !== undefined);
}

/** Rows grouped by grid point (their params without the seed), in first-appearance order, summarised. */
export function seedGroups(rows: readonly ResultRow[]): SeedGroup[] {
  const groups = new Map<string, ResultRow[]>();
  for (const row of rows) {
    const id = JSON.stringify(row.params);
    groups.set(id, [...(groups.get(id) ?? []), row]);
  }
  return [...groups.values()].map((members) => {
    const stages: SeedGroup['stages'] = {};
    const names = [...new Set(members.flatMap((row) => Object.keys(row.stages)))];
    for (const name of names) {
      const results = onePerJob(members.map((row) => row.stages[name]).filter((e): e is Extract<typeof e, JobSummary & { job: string }> => e !== undefined && 'finalAccuracy' in e), (r) => r.job);
      stages[name] = {};
      for (const metric of SEED_METRICS) {
        const values = results.map((r) => r[metric]).filter((v): v is number => typeof v === 'number');
        if (values.length > 0 && values.length === results.length) stages[name][metric] = stat(values);
      }
    }
    const kdGains: SeedGroup['kdGains'] = {};
    for (const name of [...new Set(members.flatMap((row) => Object.keys(row.kdGains ?? {})))]) {
      // A distilled job shared by every seed, compared with a plain job shared too, is one difference.
      const seen = new Set<string>();
      const differences = members.flatMap((row) => {
        const gain = row.kdGains?.[name];
        const id = `${row.stages[name]?.job} ${gain}`;
        if (typeof gain !== 'number' || seen.has(id)) return [];
        seen.add(id);
        return [gain];
      });
      const gain = pairedGain(differences);
      if (gain) kdGains[name] = gain;
    }
    return { params: members[0].params, seeds: members.map((row) => row.seed!), stages, kdGains };
  });
}

/** A job shared by every seed (a stage with its own `seed:`, a `load:` stage) counts once, not once per
 * seed: the first of its results. */
export function onePerJob<T>(results: T[], jobOf: (result: T) => string): T[] {
  const byJob = new Map<string, T>();
  for (const result of results) if (!byJob.has(jobOf(result))) byJob.set(jobOf(result), result);
  return [...byJob.values()];
}
