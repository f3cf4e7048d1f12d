import { writeReport, REPORT_FILE } from '../report/html/index.js';
import { latestRun } from './run-dirs.js';

export async function report(runDirs: string[], options: { runsDir: string; out?: string }): Promise<void> {
  const dirs = runDirs.length > 0 ? runDirs : [latestRun(options.runsDir)];
  const written = await writeReport(dirs, options.out ?? (dirs.length > 1 ? REPORT_FILE : undefined));
  const lines = [`report ${written.path} (${kilobytes(written.bytes)})`, ...written.missing.map((m) => `  missing: ${m}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function kilobytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
