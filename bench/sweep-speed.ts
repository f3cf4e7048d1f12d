// The wall time of a 3 x 3 sweep over T and alpha on experiments/quick.yaml with --jobs 2, next to the
// same 9 trials as 9 independent, uncached `kdx run`s, one after another (what a hand-written script does).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const root = fileURLToPath(new URL('..', import.meta.url));
const kdxBin = join(root, 'bin', 'kdx.js');
const experiment = join(root, 'experiments', 'quick.yaml');
const Ts = [2, 4, 8];
const alphas = [0.5, 0.7, 0.9];

async function timed(args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  await execa(process.execPath, [kdxBin, ...args], { cwd, env: { CI: 'true' }, stdout: 'ignore' });
  return (performance.now() - started) / 1000;
}

export interface SweepSpeedResult {
  sweepSeconds: number;
  independentSeconds: number;
  speedup: number;
}

export async function benchSweepSpeed(log: (line: string) => void = () => {}, extra: string[] = []): Promise<SweepSpeedResult> {
  const cwd = mkdtempSync(join(tmpdir(), 'kdx-bench-sweep-'));
  try {
    log('3 x 3 sweep with --jobs 2 (fresh cache) ...');
    const grid = ['--grid', `T=${Ts.join(',')}`, `alpha=${alphas.join(',')}`];
    const sweepSeconds = await timed(['sweep', experiment, ...grid, '--jobs', '2', '--cache-dir', join(cwd, 'sweep-cache'), ...extra], cwd);
    log(`  ${sweepSeconds.toFixed(1)} s`);
    let independentSeconds = 0;
    for (const T of Ts) {
      for (const alpha of alphas) {
        log(`independent run T=${T} alpha=${alpha} (its own empty cache) ...`);
        const cache = join(cwd, `cache-${T}-${alpha}`);
        independentSeconds += await timed(['run', experiment, '--set', `T=${T}`, '--set', `alpha=${alpha}`, '--cache-dir', cache, ...extra], cwd);
      }
    }
    log(`  ${independentSeconds.toFixed(1)} s`);
    return { sweepSeconds, independentSeconds, speedup: independentSeconds / sweepSeconds };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

export function formatSweepSpeed(r: SweepSpeedResult): string {
  return [
    'Sweep of experiments/quick.yaml, T = 2,4,8 x alpha = 0.5,0.7,0.9 (wall time):',
    `  kdx sweep --jobs 2 (11 jobs, teacher logits once)   ${r.sweepSeconds.toFixed(1).padStart(7)} s`,
    `  9 independent uncached kdx runs (27 jobs)           ${r.independentSeconds.toFixed(1).padStart(7)} s`,
    `  ratio independent / sweep                           ${r.speedup.toFixed(2).padStart(7)} x`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(formatSweepSpeed(await benchSweepSpeed((l) => console.error(l), process.argv.slice(2))));
}
