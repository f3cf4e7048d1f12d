// `kdx doctor`: what this machine can train on. Node, cores and memory; each backend, whether it loads
// and why not; the WebGPU adapters with their limits; and a few seconds of training of the reference
// student (experiments/cifar10-kd.yaml, 32x32x3) on every backend that loads, in img/s: batches of 64,
// as `npm run bench`, where a step of 2 images takes under a quarter of a second, else that one step of 2
// (the cpu backend and software GPUs take seconds an image).
import { availableParallelism, freemem, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../config/load.js';
import { probeAdapter, type GpuAdapter } from '../engine/adapter-probe.js';
import { backendLabel, selectBackend, type BackendName } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { describeAdapter } from '../engine/webgpu.js';
import { UserError } from '../errors.js';
import { crossEntropy } from '../plugins/losses.js';
import { registry } from '../registry/index.js';
import { buildModel } from '../registry/model.js';
import { ensureBuiltins } from '../plugins/builtin.js';

const REFERENCE = fileURLToPath(new URL('../../experiments/cifar10-kd.yaml', import.meta.url));
const BATCH = 64;
const SMALL_BATCH = 2;
/** Seconds of measured steps per backend, after one step that compiles and warms up. */
const MEASURE_SECONDS = 3;
const BACKENDS: Exclude<BackendName, 'auto'>[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendCheck {
  name: string;
  loads: boolean;
  /** The label results record (`webgpu (nvidia hopper)`), where it loads. */
  label?: string;
  /** Why it does not load, or why `auto` passes it by. */
  reason?: string;
  /** Training img/s of the reference student, where it trains, and the batch it was measured with. */
  trainImgPerSec?: number;
  trainBatch?: number;
  trainError?: string;
}

export interface DoctorReport {
  node: string;
  platform: string;
  cores: number;
  memory: { totalBytes: number; freeBytes: number };
  adapters: GpuAdapter[];
  adapterReason?: string;
  backends: BackendCheck[];
  /** What `--backend auto` picks here. */
  auto: string;
}

export async function diagnose(options: { measure?: boolean } = {}): Promise<DoctorReport> {
  await ensureBuiltins();
  const probe = await probeAdapter({ fresh: true });
  const { experiment } = await loadExperiment(REFERENCE);
  const backends: BackendCheck[] = [];
  for (const name of BACKENDS) {
    let check: BackendCheck;
    try {
      const info = await selectBackend(name);
      check = { name, loads: true, label: backendLabel(info) };
    } catch (error) {
      check = { name, loads: false, reason: (error as Error).message.replace(/^backend "\w+" is not available: /, '') };
    }
    if (check.loads && options.measure !== false) {
      try {
        const speed = await trainingSpeed(experiment.models.student!);
        check.trainImgPerSec = speed.imgPerSec;
        check.trainBatch = speed.batch;
      } catch (error) {
        check.trainError = (error as Error).message.split('\n')[0];
      }
    }
    backends.push(check);
  }
  const auto = backendLabel(await selectBackend('auto'));
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cores: availableParallelism(),
    memory: { totalBytes: totalmem(), freeBytes: freemem() },
    adapters: probe.adapters,
    ...(probe.adapter == null ? { adapterReason: probe.reason } : {}),
    backends,
    auto,
  };
}

/** Training img/s of `layers` on the active backend: SGD steps on random images, as `npm run bench`. */
async function trainingSpeed(layers: Parameters<typeof buildModel>[1]): Promise<{ imgPerSec: number; batch: number }> {
  const { model } = buildModel('student', layers, [32, 32, 3], 0);
  const optimizer = registry.optimizers.get('sgd').create({ name: 'sgd', lr: 0.01, momentum: 0.9 });
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const batches = new Map<number, [tf.Tensor, tf.Tensor]>();
  const step = async (batch: number) => {
    if (!batches.has(batch)) {
      batches.set(batch, [tf.randomUniform([batch, 32, 32, 3], 0, 1, 'float32', 0), tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32')]);
    }
    const [x, labels] = batches.get(batch)!;
    const started = performance.now();
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.apply(x, { training: true }) as tf.Tensor, labels), trainable);
      optimizer.applyGradients(grads);
      return value;
    });
    await loss.data(); // the step has run (a GPU queues work until something is read)
    loss.dispose();
    return (performance.now() - started) / 1000;
  };
  try {
    // The first step of each batch size compiles (shaders, XNNPACK operators) and is not counted.
    await step(SMALL_BATCH);
    const small = await step(SMALL_BATCH);
    if (small > 0.25) return { imgPerSec: SMALL_BATCH / small, batch: SMALL_BATCH };
    await step(BATCH);
    let steps = 0;
    let seconds = 0;
    while (steps === 0 || seconds < MEASURE_SECONDS) {
      seconds += await step(BATCH);
      steps++;
    }
    return { imgPerSec: (steps * BATCH) / seconds, batch: BATCH };
  } finally {
    for (const pair of batches.values()) tf.dispose(pair);
    optimizer.dispose();
    model.dispose();
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function formatDoctor(report: DoctorReport): string {
  const lines = [
    `Node ${report.node} on ${report.platform}, ${report.cores} cores, ${gib(report.memory.totalBytes)} memory (${gib(report.memory.freeBytes)} free)`,
    '',
    'WebGPU adapters:',
  ];
  if (report.adapters.length === 0) lines.push(`  none: ${report.adapterReason}`);
  for (const adapter of report.adapters) {
    const env = Object.entries(adapter.env).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push(`  ${describeAdapter(adapter)}: ${adapter.description || adapter.device}${env ? ` (with ${env})` : ''}`);
    lines.push(`    largest buffer ${gib(adapter.limits.maxBufferSize)}, largest binding ${gib(adapter.limits.maxStorageBufferBindingSize)}, workgroup storage ${adapter.limits.maxComputeWorkgroupStorageSize / 1024} KiB${adapter.software ? '; software: a CPU emulation, for testing (auto passes it by)' : ''}`);
  }
  lines.push('', 'Backends (training the reference student of experiments/cifar10-kd.yaml, 32x32x3):');
  const width = Math.max(...report.backends.map((b) => b.name.length));
  for (const b of report.backends) {
    const what = !b.loads
      ? `does not load: ${b.reason}`
      : b.trainImgPerSec !== undefined
        ? `trains, ${b.trainImgPerSec.toFixed(1)} img/s at batch ${b.trainBatch} (${b.label})`
        : b.trainError !== undefined
          ? `loads, but training failed: ${b.trainError}`
          : `loads (${b.label})`;
    lines.push(`  ${b.name.padEnd(width)}  ${what}`);
  }
  lines.push('', `--backend auto picks: ${report.auto}`);
  return `${lines.join('\n')}\n`;
}

export async function doctor(options: { json?: boolean; measure?: boolean }): Promise<void> {
  const report = await diagnose(options);
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatDoctor(report));
  const trains = report.backends.some((b) => b.loads && (options.measure === false || b.trainImgPerSec !== undefined));
  if (!trains) throw new UserError('no backend trains on this machine (see above)');
}
