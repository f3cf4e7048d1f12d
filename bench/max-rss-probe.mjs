// Loaded into every kdx process of the peak-memory bench (NODE_OPTIONS=--import): at exit, each writes its
// peak resident set size (getrusage's ru_maxrss, in kB) to $KDX_BENCH_RSS_DIR/<pid>.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.KDX_BENCH_RSS_DIR;
if (dir) process.on('exit', () => writeFileSync(join(dir, String(process.pid)), `${process.resourceUsage().maxRSS}\n`));
