// Training vs inference speed of the seed models on each backend that loads.
//
//   node --import tsx bench/training-speed.ts [--profile] [--seconds 8] [--models student,teacher,resnet20,...]
//        [--backends tensorflow,wasm,cpu] [--relu fused|separate] [--batch 64] [--no-cpu]
//        [--cpu-models student,teacher] [--cpu-batch 8]
//
// One training step = forward with training:true + softmax cross-entropy + tf.variableGrads over the
// model's trainable weights + Adam applyGradients (what a kdx epoch does per batch, minus data loading).
import { fileURLToPath } from 'node:url';

import { type BackendName, selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { buildReferenceModel, loadReferenceModels, type ReferenceKind, type ReluStyle } from './reference-models.js';
import { trainableParams } from '../src/registry/model.js';

export type ConcreteBackend = Exclude<BackendName, 'auto'>;

export interface TrainingSpeedOptions {
  /** Backends to try, in order; those that do not load are skipped (and listed in `skipped`). */
  backends?: ConcreteBackend[];
  models?: ReferenceKind[];
  batchSize?: number;
  inputShape?: [number, number, number];
  /** Minimum seconds of timed work per measurement (after warm-up). */
  seconds?: number;
  /** Minimum timed steps per measurement. */
  minSteps?: number;
  /** Warm-up steps before timing. */
  warmup?: number;
  /** The cpu backend is ~1000x slower at training (a batch-64 student step takes ~10 min): it gets this
   * many timed steps, no warm-up, ... */
  cpuSteps?: number;
  /** ... a smaller batch (its time per image hardly depends on the batch size; default 8) ... */
  cpuBatchSize?: number;
  /** ... and only these models (default: the student). */
  cpuModels?: ReferenceKind[];
  relu?: ReluStyle;
  /** Also return the per-kernel breakdown (tf.profile) of one training step on this backend. */
  profile?: ConcreteBackend | false;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SpeedRow {
  backend: string;
  model: ReferenceKind;
  params: number;
  batchSize: number;
  /** Median wall-clock ms per forward batch / training step. */
  forwardMs: number;
  trainMs: number;
  forwardImgPerSec: number;
  trainImgPerSec: number;
  /** trainImgPerSec / forwardImgPerSec. */
  ratio: number;
  /** The same from the process's CPU time (median ms per batch): robust to other load on the machine for
   * single-threaded backends (wasm, cpu); for tensorflow (multi-threaded) it is the total over its threads. */
  forwardCpuMs: number;
  trainCpuMs: number;
  forwardImgPerCpuSec: number;
  trainImgPerCpuSec: number;
  cpuRatio: number;
  forwardSteps: number;
  trainSteps: number;
  /** tf.memory().numTensors growth over the timed training steps (0 = no leak). */
  tensorLeak: number;
}

export interface KernelTime {
  name: string;
  /** Wall-clock ms in this kernel over the step. */
  ms: number;
  /** Process CPU ms in this kernel over the step. */
  cpuMs: number;
  calls: number;
}

export interface StepProfile {
  backend: string;
  model: ReferenceKind;
  /** Wall and CPU time of the profiled step. */
  stepMs: number;
  stepCpuMs: number;
  /** Sums over all kernels. */
  kernelMs: number;
  kernelCpuMs: number;
  kernels: KernelTime[];
}

export interface TrainingSpeedResult {
  rows: SpeedRow[];
  /** Backends that did not load, with the reason. */
  skipped: string[];
  /** Training img/s of wasm over cpu per CPU second (both are single-threaded), per model (when both ran). */
  wasmOverCpu: Partial<Record<ReferenceKind, number>>;
  profiles: StepProfile[];
}

interface Trainer {
  forward(): void;
  train(): number;
  dispose(): void;
}

function makeTrainer(kind: ReferenceKind, batchSize: number, inputShape: [number, number, number], relu: ReluStyle): Trainer & { params: number } {
  const model = buildReferenceModel(kind, inputShape, { relu, seed: 1 });
  // Inference runs on its own copy with fixed weights (as a frozen teacher does): training steps change the
  // trained model's weights, which would make every forward batch re-pack them for XNNPACK.
  const frozen = buildReferenceModel(kind, inputShape, { relu, seed: 1 });
  const classes = (model.outputs[0].shape as number[])[1]; // 10 for the reference models, 100 for the zoo's
  const x = tf.randomNormal([batchSize, ...inputShape], 0, 1, 'float32', 3);
  const labels = tf.randomUniform([batchSize], 0, classes, 'int32', 4);
  const y = tf.oneHot(labels as tf.Tensor1D, classes).toFloat();
  labels.dispose();
  const optimizer = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    params: trainableParams(model.layers),
    forward() {
      const out = frozen.predict(x, { batchSize }) as tf.Tensor;
      out.dataSync();
      out.dispose();
    },
    train() {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      }), vars);
      // AdamOptimizer's declaration says NamedVariableMap; any name -> tensor map works (tfjs-core Optimizer).
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      const loss = value.dataSync()[0]!;
      value.dispose();
      tf.dispose(grads);
      return loss;
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
      frozen.dispose();
      tf.dispose([x, y]);
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Timings {
  /** Wall-clock ms per step. */
  wall: number[];
  /** Process CPU ms (user + system) per step: for the single-threaded wasm and cpu backends this is what a
   * step costs on an idle machine, whatever else is running. */
  cpu: number[];
}

function timeOnce(f: () => unknown, into: Timings): void {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  into.wall.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  into.cpu.push((c.user + c.system) / 1000);
}

/**
 * Time forward batches and training steps alternately (after warm-up), so that both see the same load
 * from other processes, until `seconds` have passed and each has at least `minSteps` samples.
 */
function timeInterleaved(forward: () => unknown, train: () => unknown, warmup: number, minSteps: number, seconds: number): { fwd: Timings; train: Timings } {
  for (let i = 0; i < warmup; i++) {
    forward();
    train();
  }
  const fwd: Timings = { wall: [], cpu: [] };
  const tr: Timings = { wall: [], cpu: [] };
  const start = performance.now();
  while (tr.wall.length < minSteps || fwd.wall.length < minSteps || performance.now() - start < seconds * 1000) {
    timeOnce(forward, fwd);
    timeOnce(train, tr);
  }
  return { fwd, train: tr };
}

/**
 * Per-kernel time of one training step. tf.profile's kernel times are wall-clock, which other load on the
 * machine inflates; this wraps every kernel of the backend for one step and records wall and process CPU
 * time of the outermost kernel calls (a kernel that calls others, as kdx's wasm kernels do, counts once).
 */
function profileStep(trainer: Trainer, backend: string, model: ReferenceKind): StepProfile {
  const configs = tf.getKernelsForBackend(backend);
  const byName = new Map<string, KernelTime>();
  let depth = 0;
  const wrapped = configs.map((config) => {
    const kernelFunc: tf.KernelFunc = (args) => {
      if (depth > 0) return config.kernelFunc(args);
      depth++;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        return config.kernelFunc(args);
      } finally {
        const wall = performance.now() - t0;
        const c = process.cpuUsage(c0);
        depth--;
        const e = byName.get(config.kernelName) ?? { name: config.kernelName, ms: 0, cpuMs: 0, calls: 0 };
        e.ms += wall;
        e.cpuMs += (c.user + c.system) / 1000;
        e.calls += 1;
        byName.set(config.kernelName, e);
      }
    };
    return { ...config, kernelFunc };
  });
  const swap = (list: tf.KernelConfig[]): void => {
    for (const k of list) {
      tf.unregisterKernel(k.kernelName, k.backendName);
      tf.registerKernel(k);
    }
  };
  swap(wrapped);
  let stepMs = 0;
  let stepCpuMs = 0;
  try {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    trainer.train();
    stepMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    stepCpuMs = (c.user + c.system) / 1000;
  } finally {
    swap(configs);
  }
  const kernels = [...byName.values()].sort((a, b) => b.cpuMs - a.cpuMs);
  return {
    backend, model, stepMs, stepCpuMs,
    kernelMs: kernels.reduce((s, k) => s + k.ms, 0),
    kernelCpuMs: kernels.reduce((s, k) => s + k.cpuMs, 0),
    kernels,
  };
}

export async function benchTrainingSpeed(opts: TrainingSpeedOptions = {}): Promise<TrainingSpeedResult> {
  const backends = opts.backends ?? ['tensorflow', 'wasm', 'cpu'];
  const models = opts.models ?? ['student', 'teacher', 'resnet20', 'resnet8x4'];
  const batchSize = opts.batchSize ?? 64;
  const inputShape = opts.inputShape ?? [32, 32, 3];
  const seconds = opts.seconds ?? 8;
  const minSteps = opts.minSteps ?? 5;
  const warmup = opts.warmup ?? 3;
  const cpuSteps = opts.cpuSteps ?? 1;
  const cpuBatchSize = opts.cpuBatchSize ?? 8;
  const cpuModels = opts.cpuModels ?? ['student'];
  const relu = opts.relu ?? 'separate';
  const log = opts.log ?? (() => {});
  const result: TrainingSpeedResult = { rows: [], skipped: [], wasmOverCpu: {}, profiles: [] };
  const before = tf.getBackend();
  await loadReferenceModels(models);

  for (const requested of backends) {
    let name: string;
    try {
      name = (await selectBackend(requested)).name;
    } catch (err) {
      result.skipped.push((err as Error).message);
      log(`skip ${requested}: ${(err as Error).message}`);
      continue;
    }
    const isCpu = name === 'cpu';
    for (const kind of models) {
      if (isCpu && !cpuModels.includes(kind)) continue;
      const batch = isCpu ? cpuBatchSize : batchSize;
      const trainer = makeTrainer(kind, batch, inputShape, relu);
      try {
        log(`${name} ${kind}: timing forward batches and training steps...`);
        let fwd: Timings = { wall: [], cpu: [] };
        let train: Timings = { wall: [], cpu: [] };
        let tensorLeak = 0;
        if (isCpu) {
          for (let i = 0; i < cpuSteps; i++) {
            timeOnce(() => trainer.forward(), fwd);
            timeOnce(() => trainer.train(), train);
          }
        } else {
          trainer.train(); // optimizer slots exist from here on
          const n0 = tf.memory().numTensors;
          ({ fwd, train } = timeInterleaved(() => trainer.forward(), () => trainer.train(), warmup, minSteps, seconds));
          tensorLeak = tf.memory().numTensors - n0;
        }
        const forwardMs = median(fwd.wall);
        const trainMs = median(train.wall);
        const forwardCpuMs = median(fwd.cpu);
        const trainCpuMs = median(train.cpu);
        const row: SpeedRow = {
          backend: name, model: kind, params: trainer.params, batchSize: batch,
          forwardMs, trainMs,
          forwardImgPerSec: (batch * 1000) / forwardMs,
          trainImgPerSec: (batch * 1000) / trainMs,
          ratio: forwardMs / trainMs,
          forwardCpuMs, trainCpuMs,
          forwardImgPerCpuSec: (batch * 1000) / forwardCpuMs,
          trainImgPerCpuSec: (batch * 1000) / trainCpuMs,
          cpuRatio: forwardCpuMs / trainCpuMs,
          forwardSteps: fwd.wall.length, trainSteps: train.wall.length, tensorLeak,
        };
        result.rows.push(row);
        log(`${name} ${kind}: forward ${num(row.forwardImgPerSec)} img/s, train ${num(row.trainImgPerSec)} img/s ` +
          `(per CPU second: ${num(row.forwardImgPerCpuSec)}, ${num(row.trainImgPerCpuSec)})`);
        if (opts.profile === requested && !isCpu) result.profiles.push(profileStep(trainer, name, kind));
      } finally {
        trainer.dispose();
      }
    }
  }
  for (const kind of models) {
    const w = result.rows.find((r) => r.backend === 'wasm' && r.model === kind);
    const c = result.rows.find((r) => r.backend === 'cpu' && r.model === kind);
    if (w && c) result.wasmOverCpu[kind] = w.trainImgPerCpuSec / c.trainImgPerCpuSec;
  }
  if (tf.getBackend() !== before && before != null) await tf.setBackend(before);
  return result;
}

function num(x: number): string {
  return x >= 10 ? x.toFixed(1) : x.toPrecision(2);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

/** The side-by-side table (plain text) of a result. */
export function formatTrainingSpeed(result: TrainingSpeedResult, topKernels = 12): string {
  const lines: string[] = [];
  const head = ['backend', 'model', 'params', 'batch', 'forward img/s', 'train img/s', 'train/fwd', 'fwd ms', 'train ms', 'steps',
    '| per CPU s: fwd', 'train', 'train/fwd'];
  const widths = [10, 12, 10, 6, 14, 12, 10, 8, 9, 6, 16, 7, 10];
  lines.push(head.map((h, i) => pad(h, widths[i]!, i < 2)).join(' '));
  for (const r of result.rows) {
    const cells = [r.backend, r.model, r.params.toLocaleString('en-US'), String(r.batchSize), num(r.forwardImgPerSec), num(r.trainImgPerSec),
      `1/${(1 / r.ratio).toFixed(2)}`, r.forwardMs.toFixed(0), r.trainMs.toFixed(0), String(r.trainSteps),
      num(r.forwardImgPerCpuSec), num(r.trainImgPerCpuSec), `1/${(1 / r.cpuRatio).toFixed(2)}`];
    lines.push(cells.map((c, i) => pad(c, widths[i]!, i < 2)).join(' '));
  }
  lines.push('(img/s from the median wall-clock time per batch; "per CPU s" from the process CPU time, which other load on the machine does not inflate)');
  for (const [kind, x] of Object.entries(result.wasmOverCpu)) lines.push(`wasm vs cpu training speed-up (per CPU second), ${kind}: ${x.toFixed(1)}x`);
  for (const r of result.rows) if (r.tensorLeak !== 0) lines.push(`warning: ${r.backend} ${r.model} leaked ${r.tensorLeak} tensors over ${r.trainSteps} steps`);
  for (const s of result.skipped) lines.push(`skipped: ${s}`);
  for (const p of result.profiles) {
    lines.push('', `per-kernel time of one ${p.backend} training step, ${p.model}: step ${p.stepCpuMs.toFixed(0)} ms CPU ` +
      `(${p.stepMs.toFixed(0)} ms wall), in kernels ${p.kernelCpuMs.toFixed(0)} ms CPU`);
    lines.push(`  ${pad('kernel', 24, true)} ${pad('CPU ms', 8)} ${pad('wall ms', 8)} ${pad('calls', 6)}`);
    for (const k of p.kernels.slice(0, topKernels)) {
      lines.push(`  ${pad(k.name, 24, true)} ${pad(k.cpuMs.toFixed(1), 8)} ${pad(k.ms.toFixed(1), 8)} ${pad(String(k.calls), 6)}`);
    }
    const rest = p.kernels.slice(topKernels);
    if (rest.length) {
      lines.push(`  ${pad(`(${rest.length} others)`, 24, true)} ${pad(rest.reduce((s, k) => s + k.cpuMs, 0).toFixed(1), 8)} ` +
        `${pad(rest.reduce((s, k) => s + k.ms, 0).toFixed(1), 8)}`);
    }
  }
  return lines.join('\n');
}

function parseArgs(argv: string[]): TrainingSpeedOptions {
  const opts: TrainingSpeedOptions = { log: (l) => process.stderr.write(`${l}\n`) };
  const list = <T extends string>(v: string | undefined) => (v ?? '').split(',').filter(Boolean) as T[];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i];
    if (a === '--profile') opts.profile = 'wasm';
    else if (a === '--seconds') opts.seconds = Number(next());
    else if (a === '--batch') opts.batchSize = Number(next());
    else if (a === '--models') opts.models = list<ReferenceKind>(next());
    else if (a === '--backends') opts.backends = list<ConcreteBackend>(next());
    else if (a === '--relu') opts.relu = next() as ReluStyle;
    else if (a === '--cpu-models') opts.cpuModels = list<ReferenceKind>(next());
    else if (a === '--cpu-batch') opts.cpuBatchSize = Number(next());
    else if (a === '--no-cpu') opts.backends = (opts.backends ?? ['tensorflow', 'wasm', 'cpu']).filter((b) => b !== 'cpu');
    else if (a === '--quiet') delete opts.log;
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

if (process.argv[1] != null && fileURLToPath(import.meta.url) === process.argv[1]) {
  const opts = parseArgs(process.argv.slice(2));
  const result = await benchTrainingSpeed(opts);
  console.log(formatTrainingSpeed(result));
}
