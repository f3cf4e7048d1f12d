import { rmSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { bytes } from '../report/format.js';
import { listRuns, reclaimableBytes, runStatus } from './run-dirs.js';

/**
 * `kdx prune`: keeps the newest `keep` runs that have results (finished, or interrupted and resumable) and
 * deletes the others: older ones, and failed or killed runs, which would otherwise crowd results out; the
 * newest run is kept whatever it is (what `kdx results` and `kdx report` read). The store is not touched.
 */
export async function prune(options: { runsDir: string; keep: string; dryRun?: boolean }): Promise<void> {
  const keep = Number(options.keep);
  if (!Number.isInteger(keep) || keep < 0) throw new UsageError(`--keep must be a whole number >= 0 (got "${options.keep}")`);
  const runs = listRuns(options.runsDir).reverse(); // newest first
  const withResults = (dir: string) => {
    const status = runStatus(dir);
    return status === 'ok' || status === 'interrupted';
  };
  const kept = new Set([...runs.filter(withResults).slice(0, keep), ...(keep > 0 ? runs.slice(0, 1) : [])]);
  const doomed = runs.filter((dir) => !kept.has(dir)).reverse();
  if (doomed.length === 0) {
    process.stdout.write(`nothing to prune: ${runs.length} run director${runs.length === 1 ? 'y' : 'ies'} in ${options.runsDir}/, keeping ${keep}\n`);
    return;
  }
  let freed = 0;
  for (const dir of doomed) {
    freed += reclaimableBytes(dir);
    if (!options.dryRun) rmSync(dir, { recursive: true, force: true });
    const why = withResults(dir) ? '' : ` (${runStatus(dir) ?? 'no results'})`;
    process.stdout.write(`${options.dryRun ? 'would remove' : 'removed'} ${dir}${why}\n`);
  }
  const verb = options.dryRun ? 'would free' : 'freed';
  const latest = runs[0] !== undefined && kept.has(runs[0]) && !withResults(runs[0]) ? ` and the latest run (${runStatus(runs[0]) ?? 'no results'})` : '';
  const held = latest ? `${kept.size - 1} with results${latest}` : `${kept.size}`;
  process.stdout.write(`${doomed.length} run director${doomed.length === 1 ? 'y' : 'ies'}, ${verb} ${bytes(freed)}; kept the newest ${held}\n`);
}
