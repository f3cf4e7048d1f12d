// Training and forward img/s on webgpu, next to wasm's rows: the same reference models and steps as
// training-speed.ts (Adam, softmax cross-entropy), read back asynchronously (a GPU has no synchronous
// read in Node). On a software adapter (SwiftShader: a CPU emulation, tens of seconds a step) only the
// student at batch 8, labelled software; on a hardware adapter the reference pair, resnet8x4 and
// resnet32x4 at batches 64 and 128.
//
//   node --import tsx bench/webgpu-speed.ts [--seconds 8] [--models student,teacher,resnet8x4,resnet32x4] [--batches 64,128]
import { fileURLToPath } from 'node:url';
import { backendLabel, selectBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { buildReferenceModel, type ReferenceKind } from './reference-models.js';

export interface WebgpuRow {
  /** `webgpu (nvidia hopper)`, `webgpu (google swiftshader, software)`. */
  backend: string;
  software: boolean;
  model: ReferenceKind;
  batchSize: number;
  forwardImgPerSec: number;
  trainImgPerSec: number;
  steps: number;
}

export interface WebgpuSpeedOptions {
  models?: ReferenceKind[];
  batches?: number[];
  /** Minimum seconds of timed training steps per row (at least one step), after one warm-up step. */
  seconds?: number;
  log?: (line: string) => void;
}

async function timeRow(kind: ReferenceKind, batch: number, seconds: number): Promise<{ forward: number; train: number; steps: number }> {
  const model = buildReferenceModel(kind, [32, 32, 3], { relu: 'separate', seed: 1 });
  const classes = (model.outputs[0].shape as number[])[1]!;
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 3);
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([batch], 0, classes, 'int32', 4) as tf.Tensor1D, classes).toFloat());
  const optimizer = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const forward = async () => {
    const out = model.predict(x, { batchSize: batch }) as tf.Tensor;
    await out.data();
    out.dispose();
  };
  const train = async () => {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar), vars);
    optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
    await value.data(); // the GPU has run the step
    tf.dispose([value, grads]);
  };
  try {
    await forward(); // compiles the shaders of each shape
    await train();
    let forwardMs = 0;
    let trainMs = 0;
    let steps = 0;
    while (steps === 0 || trainMs < seconds * 1000) {
      let t0 = performance.now();
      await forward();
      forwardMs += performance.now() - t0;
      t0 = performance.now();
      await train();
      trainMs += performance.now() - t0;
      steps++;
    }
    return { forward: (steps * batch * 1000) / forwardMs, train: (steps * batch * 1000) / trainMs, steps };
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** The rows, or why there are none (webgpu does not load here). */
export async function benchWebgpuSpeed(opts: WebgpuSpeedOptions = {}): Promise<{ rows: WebgpuRow[]; skipped?: string }> {
  const log = opts.log ?? (() => {});
  let info;
  try {
    info = await selectBackend('webgpu');
  } catch (error) {
    return { rows: [], skipped: (error as Error).message };
  }
  const software = info.adapter?.software === true;
  const models = opts.models ?? (software ? ['student'] : ['student', 'teacher', 'resnet8x4', 'resnet32x4']);
  const batches = opts.batches ?? (software ? [8] : [64, 128]);
  const rows: WebgpuRow[] = [];
  for (const model of models) {
    for (const batchSize of batches) {
      log(`${backendLabel(info)} ${model} batch ${batchSize}: timing...`);
      const timed = await timeRow(model, batchSize, opts.seconds ?? (software ? 0 : 8));
      rows.push({ backend: backendLabel(info), software, model, batchSize, forwardImgPerSec: timed.forward, trainImgPerSec: timed.train, steps: timed.steps });
    }
  }
  return { rows };
}

export function formatWebgpuSpeed(result: { rows: WebgpuRow[]; skipped?: string }): string {
  if (result.skipped) return `webgpu: not measured (${result.skipped})`;
  const lines = result.rows.map((r) =>
    `${r.backend.padEnd(40)} ${r.model.padEnd(10)} batch ${String(r.batchSize).padStart(3)}  forward ${r.forwardImgPerSec.toFixed(1).padStart(8)} img/s  training ${r.trainImgPerSec.toFixed(1).padStart(8)} img/s  (${r.steps} step${r.steps === 1 ? '' : 's'})`);
  if (result.rows.some((r) => r.software)) lines.push('(software adapter: a CPU emulation of a GPU, for correctness, not a speed to compare)');
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const list = (value: string | undefined) => value?.split(',').filter(Boolean);
  const result = await benchWebgpuSpeed({
    models: list(arg('--models')) as ReferenceKind[] | undefined,
    batches: list(arg('--batches'))?.map(Number),
    seconds: arg('--seconds') ? Number(arg('--seconds')) : undefined,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  console.log(formatWebgpuSpeed(result));
}
