// Writing report.html: read the run directories, build the page, write it atomically.
import { join } from 'node:path';
import { writeFileAtomic } from '../../store/atomic.js';
import { readRunData } from '../run-data.js';
import { buildReport } from './report.js';

export const REPORT_FILE = 'report.html';

export interface WrittenReport {
  path: string;
  bytes: number;
  /** What the run directories lack, prefixed by the directory when there are several. */
  missing: string[];
}

/** Writes the report of `dirs` to `out` (default: report.html in the one run directory). */
export async function writeReport(dirs: string[], out?: string): Promise<WrittenReport> {
  const runs = dirs.map(readRunData);
  const html = await buildReport(runs);
  const path = out ?? join(dirs[0], REPORT_FILE);
  await writeFileAtomic(path, html);
  const missing = runs.flatMap((run) => run.missing.map((m) => (runs.length > 1 ? `${run.dir}: ${m}` : m)));
  return { path, bytes: Buffer.byteLength(html), missing };
}
