import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '../errors.js';
import type { ResultRow } from '../events.js';
import { renderResults, tableWidth, type TableFormat } from '../report/table.js';
import { isRunDir, latestRun } from './run-dirs.js';

interface Summary {
  kind: 'run' | 'sweep';
  status?: 'ok' | 'failed' | 'interrupted';
  rows: ResultRow[];
}

export async function results(runDir: string | undefined, options: { runsDir: string; format: string }): Promise<void> {
  if (!['text', 'markdown', 'csv'].includes(options.format)) throw new UsageError(`--format must be text, markdown or csv (got "${options.format}")`);
  const dir = runDir ?? latestRun(options.runsDir);
  const summary = readSummary(dir);
  // Only the text table is headed by its directory: markdown and CSV stay valid files when redirected.
  const heading = options.format === 'text' ? `${dir}\n` : '';
  process.stdout.write(`${heading}${renderResults(summary.rows, options.format as TableFormat, { kind: summary.kind, width: tableWidth(process.stdout) })}\n`);
  const note = statusNote(summary.status);
  // The status goes to stderr for markdown and CSV, so that their stdout stays a valid file.
  if (note) (options.format === 'text' ? process.stdout : process.stderr).write(`${note}\n`);
}

function readSummary(dir: string): Summary {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such run directory (run directories are under runs/; omit it for the latest run)`);
  if (!statSync(dir).isDirectory()) {
    throw new UsageError(`${dir} is a file, not a run directory: kdx results takes a directory under runs/ (or nothing, for the latest run)`);
  }
  const path = join(dir, 'summary.json');
  if (!existsSync(path)) {
    if (isRunDir(dir)) throw new UserError(`${dir}: this run has no results (it was killed before it could write them); run the same command again`);
    throw new UsageError(`${dir} is not a kdx run directory (it has no summary.json)`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Summary;
}

function statusNote(status: Summary['status']): string | undefined {
  if (status === 'interrupted') return 'interrupted: unfinished stages are missing; run the same command again to resume from their last finished epoch';
  if (status === 'failed') return 'failed: some stages have no result (see the status column and the run\'s events.jsonl)';
  return undefined;
}
