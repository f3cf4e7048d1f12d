// `kdx cache ls | verify | gc | du`: looking after the store (src/store/), as `dvc status` / `dvc gc` do
// for DVC's cache. Entries are verified against their recorded sha256; gc keeps what the named
// experiment files (and their sweep grids) would use, on any backend and thread count.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadExperiment } from '../config/load.js';
import { BACKEND_LABELS } from '../engine/backend.js';
import { RunFailedError, UsageError } from '../errors.js';
import { age, bytes } from '../report/format.js';
import { planTrials, type Trial } from '../runner/run.js';
import { possibleThreadCounts } from '../runner/threads.js';
import { teacherLogitsKey } from '../store/keys.js';
import { Store } from '../store/store.js';
import { shortKey } from '../util/hash.js';
import { table } from '../util/text.js';
import { loadSweepTrials } from './sweep.js';
import { seedTrials } from './seeds.js';

interface CacheFlags {
  cacheDir?: string;
  set?: string[];
  dryRun?: boolean;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function cacheLs(flags: CacheFlags): Promise<void> {
  const store = new Store(flags.cacheDir);
  const entries = await store.list();
  if (entries.length === 0) {
    out(`${store.root}: no finished entries`);
    return;
  }
  const rows = entries.map((entry) => {
    const meta = entry.meta ?? {};
    const size = Object.values(entry.files).reduce((sum, f) => sum + (f?.size ?? 0), 0);
    return [shortKey(entry.key), String(meta.stage ?? '?'), String(meta.experiment ?? '?'), bytes(size), age(entry.createdAt)];
  });
  out(table(['key', 'stage', 'experiment', 'size', 'age'], rows, { right: [3, 4] }));
  const resumable = await store.resumable();
  out(`${entries.length} finished entr${entries.length === 1 ? 'y' : 'ies'}${resumable.length ? `, ${resumable.length} unfinished with a checkpoint (resumable)` : ''} in ${store.root}`);
}

/** Checks every entry and stored logits; damaged ones are quarantined. Exit 1 if any was damaged. */
export async function cacheVerify(flags: CacheFlags): Promise<void> {
  const store = new Store(flags.cacheDir);
  let checked = 0;
  const damaged: string[] = [];
  for (const key of await store.entryKeys()) {
    checked++;
    const { quarantined } = await store.readVerifiedEntry(key);
    if (quarantined) damaged.push(`entry ${shortKey(key)}${stageOf(quarantined.meta)}: ${quarantined.file} ${quarantined.problem}; moved to ${quarantined.movedTo}`);
  }
  for (const key of await store.logitsKeys()) {
    checked++;
    await store.getLogits(key, (damage) => damaged.push(`teacher logits ${shortKey(key)}: ${damage.file} ${damage.problem}; moved to ${damage.movedTo}`));
  }
  for (const line of damaged) out(line);
  out(`${checked} checked, ${damaged.length} damaged${damaged.length ? ' (quarantined: the next run trains them again)' : ''}`);
  if (damaged.length > 0) throw new RunFailedError(`${damaged.length} damaged item${damaged.length === 1 ? '' : 's'} in ${store.root}`);
}

function stageOf(meta: Record<string, unknown> | undefined): string {
  return meta?.stage ? ` (${meta.stage})` : '';
}

/** Removes entries, logits and unfinished work that none of `files` reaches, and the quarantine. */
export async function cacheGc(files: string[], flags: CacheFlags): Promise<void> {
  if (files.length === 0) throw new UsageError('kdx cache gc needs the experiment files whose results to keep, e.g. kdx cache gc experiments/*.yaml');
  const store = new Store(flags.cacheDir);
  const keep = new Set<string>();
  const recorded = await recordedSettings(store);
  const threadCounts = possibleThreadCounts(Math.max(availableParallelism(), ...recorded.threadCounts));
  const backends = [...new Set([...BACKEND_LABELS, ...recorded.backends])];
  for (const file of files) {
    const { experiment } = await loadExperiment(file, { overrides: flags.set ?? [] });
    const points = [{ id: '', params: {}, experiment }, ...((await loadSweepTrials(file, experiment, flags.set ?? [])) ?? [])];
    // The file's `seeds:` replicas too (a `--seeds N` given to run is not known here).
    const trials = experiment.seeds ? [...points, ...(await seedTrials(points, experiment.seeds))] : points;
    for (const key of reachableKeys(trials, threadCounts, backends)) keep.add(key);
  }
  const doomed = {
    jobs: (await store.entryKeys()).filter((k) => !keep.has(k)),
    logits: (await store.logitsKeys()).filter((k) => !keep.has(k)),
    work: (await store.unfinished()).filter((k) => !keep.has(k)),
  };
  const usage = await store.usage();
  const verb = flags.dryRun ? 'would remove' : 'removed';
  // A dry run says what it would remove, one line each, so that it can be checked before it is done.
  if (flags.dryRun) for (const line of await doomedLines(store, doomed)) out(`would remove ${line}`);
  if (!flags.dryRun) {
    for (const key of doomed.jobs) await store.remove(key);
    for (const key of doomed.logits) await store.removeLogits(key);
    for (const key of doomed.work) await store.removeWork(key);
    await store.clearQuarantine();
  }
  out(
    `${verb} ${doomed.jobs.length} entr${doomed.jobs.length === 1 ? 'y' : 'ies'}, ${doomed.logits.length} stored logits, ` +
      `${doomed.work.length} unfinished jobs and the quarantine (${bytes(usage.quarantine)}); kept what ${files.length === 1 ? '1 file uses' : `${files.length} files use`}`,
  );
}

/** One line per item gc would remove: an entry with its stage, experiment and size, logits, unfinished work. */
async function doomedLines(store: Store, doomed: { jobs: string[]; logits: string[]; work: string[] }): Promise<string[]> {
  const entries = await Promise.all(doomed.jobs.map(async (key) => {
    const entry = await store.readEntry(key).catch(() => undefined);
    if (!entry) return `entry ${shortKey(key)} (unreadable)`;
    const size = Object.values(entry.files).reduce((sum, f) => sum + (f?.size ?? 0), 0);
    return `entry ${shortKey(key)}  ${String(entry.meta?.stage ?? '?')}  ${String(entry.meta?.experiment ?? '?')}  ${bytes(size)}`;
  }));
  return [...entries, ...doomed.logits.map((key) => `teacher logits ${shortKey(key)}`), ...doomed.work.map((key) => `unfinished work ${shortKey(key)}`)];
}

/** What the store's entries were trained with, beyond what this machine would plan: thread counts above
 * one (config.json; a Slurm job may have had more threads than this machine has cores), and backend labels
 * (timing.json; webgpu's name their adapter, which another machine may have). */
async function recordedSettings(store: Store): Promise<{ threadCounts: number[]; backends: string[] }> {
  const threadCounts: number[] = [];
  const backends = new Set<string>();
  for (const key of await store.entryKeys()) {
    const dir = store.entryDir(key);
    try {
      const { threads } = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { threads?: number };
      if (typeof threads === 'number') threadCounts.push(threads);
      const { backend } = JSON.parse(await readFile(join(dir, 'timing.json'), 'utf8')) as { backend?: string };
      if (typeof backend === 'string') backends.add(backend);
    } catch {
      // An entry without readable records: its key is kept or removed as any other.
    }
  }
  return { threadCounts, backends: [...backends] };
}

/** Every job and logits key the trials (an experiment, its sweep's trials, its seeds) can use, on any of
 * these backends and thread counts, chosen (`auto`: a small job on one thread) or given. */
export function reachableKeys(all: Trial[], threadCounts: number[], backends: readonly string[] = BACKEND_LABELS): string[] {
  const keys: string[] = [];
  const settings = threadCounts.flatMap((count) => [{ count, auto: false }, ...(count > 1 ? [{ count, auto: true }] : [])]);
  for (const [backend, threads] of backends.flatMap((b) => settings.map((t) => [b, t] as const))) {
    const { jobs } = planTrials(all, backend, threads);
    const keyOf = new Map(jobs.map((job) => [job.id, job.key]));
    for (const job of jobs) {
      keys.push(job.key);
      for (const teacher of job.teachers ?? []) keys.push(teacherLogitsKey(job.experiment, job.stage, keyOf.get(teacher.id)!));
    }
  }
  return keys;
}

export async function cacheDu(flags: CacheFlags): Promise<void> {
  const store = new Store(flags.cacheDir);
  const usage = await store.usage();
  const total = Object.values(usage).reduce((a, b) => a + b, 0);
  const describe: Record<keyof typeof usage, string> = {
    jobs: 'finished entries',
    logits: 'stored teacher logits',
    work: 'checkpoints of unfinished jobs',
    quarantine: 'damaged items set aside',
    tmp: 'writes in progress',
  };
  const rows = (Object.keys(usage) as (keyof typeof usage)[]).map((part) => [`${part}/`, bytes(usage[part]), describe[part]]);
  out(table(['', 'size', ''], [...rows, ['total', bytes(total), store.root]], { right: [1] }));
}
