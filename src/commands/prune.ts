import { rmSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { bytes } from '../report/format.js';
import { listRuns, reclaimableBytes } from './run-dirs.js';

/** `kdx prune`: deletes all but the newest `keep` run directories. The store (.kdx/cache) is not touched. */
export async function prune(options: { runsDir: string; keep: string; dryRun?: boolean }): Promise<void> {
  const keep = Number(options.keep);
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`--keep must be a whole number >= 0 (got "${options.keep}")`);
  const runs = listRuns(options.runsDir);
  const doomed = runs.slice(0, Math.max(0, runs.length - keep));
  if (doomed.length === 0) {
    process.stdout.write(`nothing to prune: ${runs.length} run director${runs.length === 1 ? 'y' : 'ies'} in ${options.runsDir}/, keeping ${keep}\n`);
    return;
  }
  let freed = 0;
  for (const dir of doomed) {
    freed += reclaimableBytes(dir);
    if (!options.dryRun) rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`${options.dryRun ? 'would remove' : 'removed'} ${dir}\n`);
  }
  const verb = options.dryRun ? 'would free' : 'freed';
  process.stdout.write(`${doomed.length} run director${doomed.length === 1 ? 'y' : 'ies'}, ${verb} ${bytes(freed)}; kept the newest ${runs.length - doomed.length}\n`);
}
