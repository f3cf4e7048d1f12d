// Finding run directories for commands that read them (`kdx results`, `kdx report`).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';

/** The most recently finished run or sweep in `runsDir` (one with a summary.json). */
export function latestRun(runsDir: string): string {
  const dirs = existsSync(runsDir)
    ? readdirSync(runsDir)
        .map((name) => join(runsDir, name))
        .filter((dir) => existsSync(join(dir, 'summary.json')))
    : [];
  if (dirs.length === 0) throw new UsageError(`no finished runs in ${runsDir}/: run one with kdx run FILE, or name a run directory`);
  return dirs.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs || a.localeCompare(b)).at(-1)!;
}
