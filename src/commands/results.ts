import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '../errors.js';
import type { ResultRow } from '../events.js';
import { renderResults, type TableFormat } from '../report/table.js';
import { latestRun } from './run-dirs.js';

export async function results(runDir: string | undefined, options: { runsDir: string; format: string }): Promise<void> {
  if (!['text', 'markdown', 'csv'].includes(options.format)) throw new UsageError(`--format must be text, markdown or csv (got "${options.format}")`);
  const dir = runDir ?? latestRun(options.runsDir);
  const path = join(dir, 'summary.json');
  if (!existsSync(path)) throw new UserError(`${dir}: no summary.json (not a kdx run directory, or the run did not finish)`);
  const summary = JSON.parse(readFileSync(path, 'utf8')) as { kind: 'run' | 'sweep'; rows: ResultRow[] };
  // Only the text table is headed by its directory: markdown and CSV stay valid files when redirected.
  const heading = options.format === 'text' ? `${dir}\n` : '';
  process.stdout.write(`${heading}${renderResults(summary.rows, options.format as TableFormat, { kind: summary.kind })}\n`);
}
