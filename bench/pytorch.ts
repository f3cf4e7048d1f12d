// The PyTorch reference: bench/torch_speed.py (the same teacher and student, and the zoo's models as
// bench/torch_zoo.py defines them; batch 64, 32x32x3, forward in eval mode, a training step = forward +
// cross-entropy + backward + AdamW) run with Debian's python3-torch,
// so `npm run bench` puts kdx's figures next to PyTorch's on the same machine, in the same run.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { ReferenceKind } from './reference-models.js';

const script = fileURLToPath(new URL('./torch_speed.py', import.meta.url));
/** Debian's python3-torch is installed for the system Python, not for a virtualenv's python3 on the PATH. */
const PYTHON = process.env.KDX_BENCH_PYTHON ?? '/usr/bin/python3';

export interface TorchRow {
  model: ReferenceKind;
  threads: number;
  /** Trainable parameters of PyTorch's definition (bench/torch_speed.py, bench/torch_zoo.py). */
  params: number;
  forwardImgPerSec: number;
  trainImgPerSec: number;
}

/** PyTorch's version when `python3` can import torch, else why not (said in the bench's output). */
export async function torchAvailable(): Promise<{ version: string } | { missing: string }> {
  const probe = await execa(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { reject: false });
  if (probe.exitCode === 0) return { version: probe.stdout.trim() };
  const why = probe.failed && probe.exitCode === undefined ? `${PYTHON} not found` : `${PYTHON} cannot import torch`;
  return { missing: `${why} (apt-get install python3-torch)` };
}

/**
 * PyTorch's img/s with `threads` intra-op threads. The count is always given: torch's default can be fewer
 * than the cores (Debian's torch 1.13 starts with 1 thread on the 2-core machine it was measured on).
 */
export async function benchTorch(opts: { threads: number; seconds: number; models: ReferenceKind[] }): Promise<TorchRow[]> {
  const args = [script, '--json', '--threads', String(opts.threads), '--seconds', String(opts.seconds), '--models', opts.models.join(',')];
  // One OpenMP team of exactly `threads`, whatever the environment says.
  const env = { OMP_NUM_THREADS: String(opts.threads), MKL_NUM_THREADS: String(opts.threads) };
  const { stdout } = await execa(PYTHON, args, { env });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const row = JSON.parse(line) as { model: ReferenceKind; threads: number; params: number; forward_img_per_s: number; train_img_per_s: number };
      return { model: row.model, threads: row.threads, params: row.params, forwardImgPerSec: row.forward_img_per_s, trainImgPerSec: row.train_img_per_s };
    });
}
