// Finding run directories for commands that read them (`kdx results`, `kdx report`) or remove them (`kdx prune`).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * The most recently finished run or sweep in `runsDir`: the newest summary.json, which a run writes once,
 * at its end (the directory's own time changes whenever `kdx report` writes into it).
 */
export function latestRun(runsDir: string): string {
  const dirs = existsSync(runsDir)
    ? readdirSync(runsDir)
        .map((name) => join(runsDir, name))
        .filter((dir) => existsSync(join(dir, 'summary.json')))
    : [];
  if (dirs.length === 0) throw new UsageError(`no finished runs in ${runsDir}/: run one with kdx run FILE, or name a run directory`);
  const finished = (dir: string) => statSync(join(dir, 'summary.json')).mtimeMs;
  return dirs.sort((a, b) => finished(a) - finished(b) || a.localeCompare(b)).at(-1)!;
}

/** Whether `dir` is a run directory kdx created (it writes both files first, before anything trains). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, 'experiment.json')) && existsSync(join(dir, 'events.jsonl'));
}

/** kdx's run directories in `runsDir`, oldest first: by when they started (experiment.json is written once, first). */
export function listRuns(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && isRunDir(join(runsDir, entry.name)))
    .map((entry) => ({ dir: join(runsDir, entry.name), started: statSync(join(runsDir, entry.name, 'experiment.json')).mtimeMs }))
    .sort((a, b) => a.started - b.started || a.dir.localeCompare(b.dir))
    .map(({ dir }) => dir);
}

/** Bytes that deleting `dir` frees: files not hard-linked elsewhere (weights shared with the store free nothing). */
export function reclaimableBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += reclaimableBytes(path);
    else if (entry.isFile()) {
      const stat = statSync(path);
      if (stat.nlink === 1) bytes += stat.size;
    }
  }
  return bytes;
}

/** How a run ended, from its summary.json: undefined for a run killed before it could write one. */
export function runStatus(dir: string): 'ok' | 'failed' | 'interrupted' | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { status?: 'ok' | 'failed' | 'interrupted' }).status;
  } catch {
    return undefined;
  }
}
