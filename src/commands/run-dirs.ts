// Finding run directories for commands that read them (`kdx results`, `kdx report`).
import { existsSync, readdirSync, statSync } from 'node:fs';
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
