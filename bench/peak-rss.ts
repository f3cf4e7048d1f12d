// Peak memory (RSS) of `kdx run experiments/cifar10-kd.yaml` on CIFAR-10 files of the real size (50000 + 10000
// generated images in the binary format): kdx reads the whole dataset into memory, whatever `data.limit`
// says, so a few steps per stage show the run's footprint: the dataset, the models, the backend's buffers.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { CIFAR10_CLASS_NAMES, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from '../src/plugins/datasets/cifar10.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const probe = pathToFileURL(join(root, 'bench', 'max-rss-probe.mjs')).href;
const RECORD = 1 + 32 * 32 * 3;
const RECORDS_PER_FILE = 10_000;

export interface PeakRssResult {
  /** Peak RSS of the kdx process, MB (1e6 bytes). */
  peakMb: number;
  /** Images per split in the files, and trained/tested per stage. */
  images: { train: number; test: number };
  limit: number;
  seconds: number;
}

/** The six CIFAR-10 batch files, of the real size, with random pixels and labels 0-9. */
function writeFullSizeCifar10(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE]) {
    const bytes = randomFillSync(Buffer.alloc(RECORDS_PER_FILE * RECORD));
    for (let r = 0; r < RECORDS_PER_FILE; r++) bytes[r * RECORD] = r % 10;
    writeFileSync(join(dir, name), bytes);
  }
  writeFileSync(join(dir, 'batches.meta.txt'), `${CIFAR10_CLASS_NAMES.join('\n')}\n`);
}

export async function benchPeakRss(opts: { limit?: number; log?: (line: string) => void } = {}): Promise<PeakRssResult> {
  const limit = opts.limit ?? 640; // 10 steps of batch 64 per stage
  const log = opts.log ?? (() => {});
  const cwd = mkdtempSync(join(tmpdir(), 'kdx-bench-rss-'));
  try {
    const data = join(cwd, 'cifar-10-batches-bin');
    log(`writing CIFAR-10 files of the real size (${(6 * RECORDS_PER_FILE * RECORD / 1e6).toFixed(0)} MB) ...`);
    writeFullSizeCifar10(data);
    const rssDir = join(cwd, 'rss');
    mkdirSync(rssDir);
    log(`kdx run experiments/cifar10-kd.yaml, ${limit} images per split and stage, 1 epoch ...`);
    const started = performance.now();
    await execa(process.execPath, [
      join(root, 'bin', 'kdx.js'), 'run', join(root, 'experiments', 'cifar10-kd.yaml'),
      '--set', `data.root=${data}`, '--set', `data.limit.train=${limit}`, '--set', `data.limit.test=${limit}`, '--set', 'epochs=1',
      '--cache-dir', join(cwd, 'cache'), '--runs-dir', join(cwd, 'runs'), '--quiet',
    ], { cwd, env: { CI: 'true', KDX_BENCH_RSS_DIR: rssDir, NODE_OPTIONS: `--import=${probe}`, XDG_CACHE_HOME: join(cwd, 'xdg') } });
    const seconds = (performance.now() - started) / 1000;
    const peaks = readdirSync(rssDir).map((pid) => Number(readFileSync(join(rssDir, pid), 'utf8')));
    if (peaks.length === 0) throw new Error('the kdx process recorded no peak RSS');
    return { peakMb: (Math.max(...peaks) * 1024) / 1e6, images: { train: 5 * RECORDS_PER_FILE, test: RECORDS_PER_FILE }, limit, seconds };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

export function formatPeakRss(r: PeakRssResult): string {
  return `peak RSS ${r.peakMb.toFixed(0)} MB: kdx run experiments/cifar10-kd.yaml on CIFAR-10 files of the real size ` +
    `(${r.images.train} + ${r.images.test} images, all loaded), ${r.limit} images per split and stage, 1 epoch each; ${r.seconds.toFixed(0)} s`;
}
