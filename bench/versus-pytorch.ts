// kdx next to PyTorch on the same machine, in the same run: training and forward img/s of the reference
// teacher and student and of the zoo's models (PyTorch's from bench/torch_zoo.py) with 1 thread (the cost per core) and with every core (the machine's throughput),
// and kdx/PyTorch for each. kdx's one-thread step is the same bare step PyTorch's script times; on every
// core it is kdx's training loop with data-parallel threads (bench/threads-speed.ts), shown next to the
// same loop on one thread so that the loop's own cost (data stream, augmentation) is visible.
import { availableParallelism } from 'node:os';
import { benchTorch, torchAvailable, type TorchRow } from './pytorch.js';
import { benchThreadsSpeed } from './threads-speed.js';
import type { SpeedRow } from './training-speed.js';
import type { ReferenceKind } from './reference-models.js';

export interface VersusOptions {
  /** kdx's rows already measured with 1 thread (bench/training-speed.ts), reused rather than measured again. */
  kdxOneThread: SpeedRow[];
  models?: ReferenceKind[];
  cores?: number;
  /** Minimum seconds per PyTorch measurement. */
  seconds?: number;
  log?: (line: string) => void;
}

/** One row of a model's table: a backend at a thread count, kdx's figures or why there are none. */
export interface VersusRow {
  setting: string;
  threads: number;
  /** kdx's img/s (forward only for the bare step), or why there is none. */
  kdx: { trainImgPerSec: number; forwardImgPerSec?: number } | string;
  torch: TorchRow | string;
}

export interface VersusResult {
  torch: string;
  cores: number;
  models: { model: ReferenceKind; params?: number; rows: VersusRow[] }[];
}

export async function benchVersusPytorch(opts: VersusOptions): Promise<VersusResult> {
  const models = opts.models ?? ['student', 'teacher'];
  const cores = opts.cores ?? availableParallelism();
  const log = opts.log ?? (() => {});
  const threadCounts = cores > 1 ? [1, cores] : [1];

  const available = await torchAvailable();
  const torchRows = new Map<number, TorchRow[]>();
  if ('version' in available) {
    for (const threads of threadCounts) {
      log(`PyTorch ${available.version}, ${threads} thread${threads === 1 ? '' : 's'}: timing ${models.join(', ')}...`);
      torchRows.set(threads, await benchTorch({ threads, seconds: opts.seconds ?? 6, models }));
    }
  }
  // kdx on every core: one job's training loop on 1 and on `cores` data-parallel threads.
  const loop = cores > 1 ? await benchThreadsSpeed({ threads: [1, cores], models, log }) : [];
  const loopRow = (model: ReferenceKind, threads: number) => {
    const found = loop.find((r) => r.model === model && r.threads === threads);
    return found ? { trainImgPerSec: found.imgPerSec } : 'not measured';
  };

  const torchCell = (model: ReferenceKind, threads: number): TorchRow | string => {
    if ('missing' in available) return 'no PyTorch';
    const measured = torchRows.get(threads);
    if (measured == null) return 'not measured';
    return measured.find((r) => r.model === model) ?? 'no PyTorch definition (bench/torch_zoo.py)';
  };
  const plural = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
  return {
    torch: 'version' in available ? `PyTorch ${available.version}` : `no PyTorch: ${available.missing}; kdx's figures alone`,
    cores,
    models: models.map((model) => {
      const rows: VersusRow[] = [];
      const wasm = opts.kdxOneThread.find((r) => r.backend === 'wasm' && r.model === model);
      rows.push({ setting: `wasm, ${plural(1)}`, threads: 1, kdx: wasm ?? 'not measured', torch: torchCell(model, 1) });
      if (cores > 1) {
        rows.push({ setting: 'wasm, 1 thread, training loop', threads: 1, kdx: loopRow(model, 1), torch: torchCell(model, 1) });
        rows.push({ setting: `wasm, ${plural(cores)}, training loop`, threads: cores, kdx: loopRow(model, cores), torch: torchCell(model, cores) });
      }
      // libtensorflow sizes its own pool (all cores unless TF_NUM_INTRAOP_THREADS says otherwise), so its
      // figures are the machine's: next to PyTorch on every core.
      const tensorflow = opts.kdxOneThread.find((r) => r.backend === 'tensorflow' && r.model === model);
      if (tensorflow) {
        const pool = Number(process.env.TF_NUM_INTRAOP_THREADS) || cores;
        rows.push({ setting: `tensorflow, its pool of ${pool}`, threads: pool, kdx: tensorflow, torch: torchCell(model, pool) });
      }
      return { model, params: wasm?.params ?? tensorflow?.params, rows };
    }),
  };
}

function num(x: number): string {
  return x >= 10 ? x.toFixed(1) : x.toPrecision(2);
}

function ratio(kdx: number, torch: number): string {
  return `${(kdx / torch).toFixed(2)}x`;
}

/** One table per model: training and forward img/s, kdx, PyTorch and kdx/PyTorch, per setting. */
export function formatVersusPytorch(result: VersusResult): string {
  const lines = [`${result.torch}; this machine has ${result.cores} cores. img/s from the median wall-clock time per batch of 64.`];
  const widths = [34, 9, 9, 12, 9, 9, 12];
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ').trimEnd();
  // Why a figure is missing, as a footnote: "n/a (needs --threads)" does not fit a column.
  const notes: string[] = [];
  const missing = (why: string) => `n/a${'*'.repeat((notes.includes(why) ? notes.indexOf(why) : notes.push(why) - 1) + 1)}`;
  for (const { model, params, rows } of result.models) {
    // Both sides must train the same architecture: the parameter counts say so.
    const torchParams = rows.map((r) => r.torch).find((t): t is TorchRow => typeof t !== 'string')?.params;
    const same = torchParams === undefined || torchParams === params ? '' : `; PyTorch's definition has ${torchParams.toLocaleString('en-US')}: not the same model`;
    lines.push('', `${model}${params ? ` (${params.toLocaleString('en-US')} parameters${same})` : ''}`);
    lines.push(row(['', 'training', '', '', 'forward', '', '']));
    lines.push(row(['', 'kdx', 'PyTorch', 'kdx/PyTorch', 'kdx', 'PyTorch', 'kdx/PyTorch']));
    for (const r of rows) {
      const k = typeof r.kdx === 'string' ? undefined : r.kdx;
      const t = typeof r.torch === 'string' ? undefined : r.torch;
      const kdxCell = (x?: number) => (k && x !== undefined ? num(x) : k ? '-' : missing(r.kdx as string));
      const torchCell = (x?: number) => (t && x !== undefined ? num(x) : missing(r.torch as string));
      lines.push(row([
        r.setting,
        kdxCell(k?.trainImgPerSec), torchCell(t?.trainImgPerSec), k && t ? ratio(k.trainImgPerSec, t.trainImgPerSec) : '',
        kdxCell(k?.forwardImgPerSec), k?.forwardImgPerSec === undefined ? '' : torchCell(t?.forwardImgPerSec),
        k?.forwardImgPerSec !== undefined && t ? ratio(k.forwardImgPerSec, t.forwardImgPerSec) : '',
      ]));
    }
    // The machine's throughput: kdx's fastest setting against PyTorch's (1 thread or every core).
    const best = rows.filter((r) => typeof r.kdx !== 'string').sort((a, b) => (b.kdx as { trainImgPerSec: number }).trainImgPerSec - (a.kdx as { trainImgPerSec: number }).trainImgPerSec)[0];
    const torchBest = rows.map((r) => r.torch).filter((t): t is TorchRow => typeof t !== 'string').sort((a, b) => b.trainImgPerSec - a.trainImgPerSec)[0];
    if (best && torchBest) {
      const k = (best.kdx as { trainImgPerSec: number }).trainImgPerSec;
      lines.push(`per machine, training: kdx ${num(k)} img/s (${best.setting}) / PyTorch ${num(torchBest.trainImgPerSec)} ` +
        `(${torchBest.threads} thread${torchBest.threads === 1 ? '' : 's'}) = ${ratio(k, torchBest.trainImgPerSec)}`);
    }
  }
  if (notes.length) lines.push('', ...notes.map((why, i) => `${'*'.repeat(i + 1)} ${why}`));
  return lines.join('\n');
}
