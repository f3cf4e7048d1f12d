// Training img/s of the reference student and teacher (experiments/cifar10-kd.yaml at 32x32x3, batch 64)
// and of the zoo's models (experiments/models/, with their recipe's SGD) on 1 and on N data-parallel
// threads, through kdx's own training loop (runner/train.ts: data stream, augmentation, replicas), on
// synthetic images of CIFAR's shape. One process, one run, so the ratio N threads / 1 thread is measured
// under the same load.
//
//   node --import tsx bench/threads-speed.ts [--threads 1,2] [--models student,teacher,resnet20,...] [--images 640]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadExperiment } from '../src/config/load.js';
import { selectBackend } from '../src/engine/backend.js';
import type { KdxEvent } from '../src/events.js';
import { DatasetCache } from '../src/runner/datasets.js';
import { planExperiment } from '../src/runner/plan.js';
import { trainJob } from '../src/runner/train.js';
import { isZooModel, referenceFile, type ReferenceKind } from './reference-models.js';

export interface ThreadsSpeedRow {
  model: string;
  threads: number;
  /** Training img/s of the last epoch (the first warms up), evaluation excluded. */
  imgPerSec: number;
}

/** The experiment that trains `model` (a stage of that name), on synthetic images of CIFAR's shape. */
async function syntheticExperiment(model: ReferenceKind, images: number) {
  const classes = isZooModel(model) ? 100 : 10;
  const { experiment } = await loadExperiment(referenceFile(model), {
    overrides: [
      'data.dataset=synthetic',
      `data.options={shape: [32, 32, 3], classes: ${classes}, train: ${images}, test: 64}`,
      'epochs=2',
    ],
  });
  return experiment;
}

export async function benchThreadsSpeed(options: { threads?: number[]; models?: ReferenceKind[]; images?: number; log?: (line: string) => void } = {}): Promise<ThreadsSpeedRow[]> {
  const images = options.images ?? 640;
  await selectBackend('wasm');
  const rows: ThreadsSpeedRow[] = [];
  for (const model of options.models ?? ['student', 'teacher']) {
    const experiment = await syntheticExperiment(model, images);
    const dataset = await new DatasetCache(() => {}).get(experiment);
    for (const threads of options.threads ?? [1, 2]) {
      const job = planExperiment(experiment, 'wasm', { count: threads, auto: false }).jobs.find((j) => j.stage.name === model)!;
      const epochs: number[] = [];
      const emit = (event: KdxEvent) => {
        if (event.type === 'epoch-end') epochs.push(event.imgPerSec);
      };
      const result = await trainJob({ job, dataset, inputShape: [32, 32, 3], backend: 'wasm', emit });
      result.model.dispose();
      rows.push({ model, threads, imgPerSec: epochs[epochs.length - 1] });
      options.log?.(`${model} ${threads} thread(s): ${epochs.map((r) => r.toFixed(1)).join(', ')} img/s by epoch`);
    }
  }
  return rows;
}

/**
 * What N threads can gain on this machine right now: the throughput of N threads of a fixed busy loop
 * over one's (N on an idle N-core machine; about 1 when other processes take the other cores). The
 * training ratios are bounded by it, so the bench prints both.
 */
export async function parallelCapacity(threads: number): Promise<number> {
  const code = `let x = 0; for (let i = 0; i < 2e8; i++) x += i % 7; require('node:worker_threads').parentPort.postMessage(x);`;
  const run = async (n: number) => {
    const started = performance.now();
    await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => new Worker(code, { eval: true }).once('message', resolve))));
    return performance.now() - started;
  };
  const one = await run(1);
  return (threads * one) / (await run(threads));
}

export function formatThreadsSpeed(rows: ThreadsSpeedRow[]): string {
  const lines = ['model        threads  img/s  x 1 thread'];
  for (const row of rows) {
    const one = rows.find((r) => r.model === row.model && r.threads === 1);
    lines.push(`${row.model.padEnd(12)} ${String(row.threads).padStart(7)} ${row.imgPerSec.toFixed(1).padStart(6)}  ${one ? (row.imgPerSec / one.imgPerSec).toFixed(2) : '-'}`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { threads: { type: 'string' }, models: { type: 'string' }, images: { type: 'string' } } });
  const rows = await benchThreadsSpeed({
    threads: values.threads?.split(',').map(Number),
    models: values.models?.split(',') as ReferenceKind[] | undefined,
    images: values.images ? Number(values.images) : undefined,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const most = Math.max(...rows.map((r) => r.threads));
  const capacity = await parallelCapacity(most);
  process.stdout.write(`${formatThreadsSpeed(rows)}\n${most} busy-loop threads run ${capacity.toFixed(2)}x one thread's work on this machine now (the ceiling of the ratios above)\n`);
}
