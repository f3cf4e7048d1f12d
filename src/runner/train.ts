// The stage executor: trains one job's model, evaluates it after every epoch and reports through events.
// It knows nothing about caches or run directories: checkpoints go out through `onEpochEnd`, and a
// resumed job comes in through `resume`.
import { tf } from '../engine/tf.js';
import { oversizedOutput } from '../engine/webgpu.js';
import type { LayersModel, NamedTensor, Tensor } from '../engine/tf.js';
import { UserError } from '../errors.js';
import { registry } from '../registry/index.js';
import { buildModel, setTrainingStep } from '../registry/model.js';
import type { ImageShape, KdxOptimizer, LoadedDataset, BatchTransform } from '../registry/types.js';
import { lossAndGradients } from './step.js';
import { stageLoss } from './stage-loss.js';
import { forward, studentTapModel, type TapModel } from './taps.js';
import { batchesPerEpoch, epochBatches } from '../data/stream.js';
import { lrAt, type ScheduleConfig } from '../plugins/schedules.js';
import { buildTransforms } from '../plugins/transforms.js';
import { evaluate, evaluationBatches, modelLogits } from './evaluate.js';
import { breather, every } from './pace.js';
import type { EpochMetrics, EventSink, JobSummary } from '../events.js';
import { evaluationOf, type StageEvaluation } from '../report/evaluation.js';

export type { EpochMetrics } from '../events.js';
import type { Job } from './plan.js';
import { loadTrainedModel } from './trained-model.js';
import { ReplicaPool } from './replicas.js';
import { describeJob } from './reload-job.js';

/** Where a distilling job gets its teacher's logits (and taps): a live model, or logits stored for every epoch. */
export type TeacherSource =
  | { kind: 'live'; model: TapModel }
  | { kind: 'stored'; logits: Float32Array; samplesPerEpoch: number; classes: number };

export interface ResumeState {
  /** Epochs already finished (training continues at this 0-based epoch). */
  epochsDone: number;
  weights: NamedTensor[];
  optimizerState: NamedTensor[];
  history: EpochMetrics[];
}

export interface TrainContext {
  job: Job;
  dataset: LoadedDataset;
  inputShape: ImageShape;
  backend: string;
  emit: EventSink;
  teacher?: TeacherSource;
  resume?: ResumeState;
  signal?: AbortSignal;
  /** Called after every finished epoch, before the next starts: the place to checkpoint. `model` is the one
   * trained: the saved model's layers and those only training uses (hint's regressors), so a resumed job
   * goes on with them. */
  onEpochEnd?: (state: { epochsDone: number; model: LayersModel; optimizer: KdxOptimizer; history: EpochMetrics[] }) => Promise<void>;
  /** Minimum milliseconds between two `batch` events. */
  batchEventInterval?: number;
}

export interface TrainResult {
  model: LayersModel;
  history: EpochMetrics[];
  summary: JobSummary;
  /** The final model's predictions on the test set (evaluation.json). */
  evaluation: StageEvaluation;
  /** The final model's logits on the test set, [images, classes] row by row (for the test metrics). */
  testLogits: Float32Array;
}

/** A run that cannot go on: a NaN loss, a teacher of the wrong width. Exit 1. */
export class TrainingError extends UserError {}

/** Thrown when the signal aborts; the last finished epoch's checkpoint stands. */
export class TrainingAborted extends Error {}

/** The transform chain of a split, from the registry. */
export function transformChain(specs: { type: string; args: Record<string, unknown> }[], inputShape: ImageShape): BatchTransform[] {
  return buildTransforms(specs.map((spec) => ({ factory: registry.transforms.get(spec.type), args: spec.args })), inputShape).transforms;
}

export async function trainJob(ctx: TrainContext): Promise<TrainResult> {
  const { stage } = ctx.job;
  const built = buildModel(stage.model, ctx.job.layers, ctx.inputShape, stage.seed);
  const { model, params } = built;
  const optimizer = registry.optimizers.get(stage.optimizer.name).create(stage.optimizer);
  let trained: TapModel | undefined;
  let replicas: ReplicaPool | undefined;
  try {
    trained = studentTapModel(built, stage, ctx.job.experiment, ctx.inputShape);
    if (stage.load) await loadWeights(model, stage.load);
    // More than one thread: data-parallel replicas compute the steps, this thread prepares the batches.
    // (plan.ts gives stages whose loss reads taps one thread: the replicas train `model` itself.)
    if (ctx.job.threads > 1) {
      const { job, dataset } = ctx;
      const options = { job: describeJob(job, ctx.backend), threads: job.threads, batchSize: stage.data.batchSize, inputShape: ctx.inputShape, classes: dataset.classes };
      replicas = await ReplicaPool.start(model, options);
    }
    return await trainLoop(ctx, model, trained, optimizer, params, replicas);
  } catch (error) {
    // A failed or stopped job must not leave its variables behind: other jobs go on in this process.
    model.dispose();
    optimizer.dispose();
    throw error;
  } finally {
    await replicas?.close();
    trained?.dispose();
  }
}

async function trainLoop(
  ctx: TrainContext,
  model: LayersModel,
  /** `model` with the outputs the loss reads: the one trained and checkpointed. */
  trained: TapModel,
  optimizer: KdxOptimizer,
  params: number,
  replicas?: ReplicaPool,
): Promise<TrainResult> {
  const { job, dataset } = ctx;
  const history: EpochMetrics[] = [];
  let epochsDone = 0;
  if (ctx.resume) {
    trained.model.setWeights(ctx.resume.weights.map((w) => w.tensor));
    await optimizer.setWeights(ctx.resume.optimizerState);
    history.push(...ctx.resume.history);
    epochsDone = ctx.resume.epochsDone;
  }
  const { stage, experiment } = job;
  const batchSize = stage.data.batchSize;
  const lossAt = stageLoss(stage.loss);
  const trainTransforms = transformChain(experiment.data.train, dataset.shape);
  const testTransforms = transformChain(experiment.data.test, dataset.shape);
  const steps = batchesPerEpoch(dataset.train.count, batchSize, false);
  const width = (model.outputs[0].shape as number[])[1];
  if (width !== dataset.classes) {
    throw new TrainingError(`${job.label}: model ${stage.model} outputs ${width} logits, but ${dataset.name} has ${dataset.classes} classes`);
  }
  const oversized = oversizedOutput(trained.model, batchSize);
  if (oversized) {
    const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MiB`;
    throw new TrainingError(
      `${job.label}: a batch of ${batchSize} needs ${mib(oversized.bytes)} for the output of layer ${oversized.layer} (${oversized.shape.join('x')} per image), ` +
        `over this GPU's ${mib(oversized.limit)} per buffer: lower data.batchSize to at most ${oversized.maxBatch}`,
    );
  }
  const trainable = trained.model.trainableWeights.map((w) => w.read() as tf.Variable);
  // The test set after each epoch: on the replicas too, when there are some (its rows split between them).
  const logitsOf = replicas?.batchLogits() ?? modelLogits(model);
  ctx.emit({
    type: 'job-start', time: Date.now(), job: job.id, label: job.label, epochs: stage.epochs, startEpoch: epochsDone, batchesPerEpoch: steps,
    ...(history.length > 0 ? { history: [...history] } : {}),
  });

  let lastEvaluation: { predictions: Int32Array; logits: Float32Array } | undefined;
  const schedule = (stage.optimizer.schedule ?? { type: 'constant' }) as ScheduleConfig;
  const interval = ctx.batchEventInterval ?? 200;
  const evalBatches = evaluationBatches(dataset.test.count, batchSize);
  for (let epoch = epochsDone; epoch < stage.epochs; epoch++) {
    ctx.emit({ type: 'epoch-start', time: Date.now(), job: job.id, epoch: epoch + 1, epochs: stage.epochs, batches: steps, evalBatches });
    const started = performance.now();
    let lossSum = 0;
    const termSums: Record<string, number> = {};
    let seen = 0;
    // The first batches of an epoch are slow (warm-up) or too few to time: no rate before one interval.
    const batchEventDue = every(interval);
    batchEventDue(true);
    const breathe = breather();
    let lr = stage.optimizer.lr;
    let batchIndex = 0;
    const lossFn = lossAt(epoch);
    const stream = epochBatches(dataset.train, { batchSize, shape: dataset.shape, transforms: trainTransforms, seed: stage.seed, epoch, shuffle: true });
    for (let next = stream.next(); !next.done;) {
      const batch = next.value;
      if (ctx.signal?.aborted) throw new TrainingAborted();
      lr = lrAt(schedule, stage.optimizer.lr, epoch * steps + batchIndex, stage.epochs * steps, steps);
      optimizer.setLearningRate(lr);
      const trainingStep = epoch * steps + batchIndex;
      setTrainingStep(model, trainingStep);
      const offset = seen;
      let loss: number;
      let terms: [string, number][];
      if (replicas) {
        // The next batch is loaded and augmented while the replicas compute this one.
        const teacherLogits = teacherLogitsData(ctx.teacher, batch, epoch, offset);
        ({ loss, terms } = await replicas.step({ ...batch, teacherLogits, trainingStep, epoch }, optimizer, () => (next = stream.next())));
      } else {
        let termTensors: [string, Tensor][] = [];
        const lossValue = tf.tidy(() => {
          const x = tf.tensor4d(batch.x, [batch.n, ...batch.shape]);
          const labels = tf.tensor1d(batch.y, 'int32');
          const teacher = teacherOutputs(ctx.teacher, x, epoch, offset, batch.n);
          const step = lossAndGradients(trained, trainable, lossFn, { x, labels, ...teacher });
          termTensors = step.terms;
          optimizer.applyGradients(step.grads);
          return step.value;
        });
        loss = (await lossValue.data())[0];
        lossValue.dispose();
        terms = [];
        for (const [name, term] of termTensors) {
          terms.push([name, (await term.data())[0]]);
          term.dispose();
        }
        next = stream.next();
      }
      for (const [name, value] of terms) termSums[name] = (termSums[name] ?? 0) + value * batch.n;
      if (!Number.isFinite(loss)) {
        throw new TrainingError(
          `${job.label}: the loss is ${loss} at epoch ${epoch + 1}, batch ${batchIndex + 1}: training diverged (try a lower optimizer.lr)`,
        );
      }
      lossSum += loss * batch.n;
      seen += batch.n;
      batchIndex++;
      await breathe(); // the UI redraws, Ctrl-C and `q` are seen mid-epoch
      if (batchEventDue(batchIndex === steps)) {
        const now = performance.now();
        const imgPerSec = seen / ((now - started) / 1000);
        ctx.emit({ type: 'batch', time: Date.now(), job: job.id, epoch: epoch + 1, batch: batchIndex, batches: steps, loss: lossSum / seen, imgPerSec });
      }
    }
    const trainSeconds = (performance.now() - started) / 1000;
    replicas?.syncModel(); // the running statistics the replicas computed, for the evaluation and checkpoint
    const evalEventDue = every(interval);
    const { loss: testLoss, accuracy, predictions, logits } = await evaluate(logitsOf, dataset.test, dataset.shape, testTransforms, {
      batchSize,
      signal: ctx.signal,
      onAbort: () => new TrainingAborted(),
      onProgress: (batch, batches) => {
        if (evalEventDue(batch === batches)) ctx.emit({ type: 'eval', time: Date.now(), job: job.id, epoch: epoch + 1, batch, batches });
      },
    });
    lastEvaluation = { predictions, logits };
    const metrics: EpochMetrics = {
      epoch: epoch + 1,
      loss: lossSum / seen,
      testLoss,
      testAccuracy: accuracy,
      imgPerSec: seen / trainSeconds,
      seconds: (performance.now() - started) / 1000,
      lr,
      ...(Object.keys(termSums).length > 0 ? { terms: Object.fromEntries(Object.entries(termSums).map(([name, sum]) => [name, sum / seen])) } : {}),
    };
    history.push(metrics);
    ctx.emit({ type: 'epoch-end', time: Date.now(), job: job.id, epochs: stage.epochs, ...metrics });
    await ctx.onEpochEnd?.({ epochsDone: epoch + 1, model: trained.model, optimizer, history });
  }
  if (stage.load) {
    // Nothing trains: the one row of a loaded model is its evaluation (its loss is the test loss).
    const started = performance.now();
    const { loss, accuracy, predictions, logits } = await evaluate(logitsOf, dataset.test, dataset.shape, testTransforms, { batchSize, signal: ctx.signal, onAbort: () => new TrainingAborted() });
    lastEvaluation = { predictions, logits };
    const seconds = (performance.now() - started) / 1000;
    history.push({ epoch: 0, loss, testLoss: loss, testAccuracy: accuracy, imgPerSec: 0, seconds });
  }
  optimizer.dispose();
  // A job resumed after its last epoch has not evaluated in this process.
  const { predictions, logits: testLogits } = lastEvaluation
    ?? (await evaluate(logitsOf, dataset.test, dataset.shape, testTransforms, { batchSize, signal: ctx.signal, onAbort: () => new TrainingAborted() }));
  const evaluation = evaluationOf(dataset.test.labels, predictions, dataset.classes, dataset.classNames);
  return { model, history, summary: summarize(job, params, history, ctx.backend), evaluation, testLogits };
}

/** A loaded stage's weights, from the files it names (checked to fit when the experiment was loaded). */
async function loadWeights(model: LayersModel, files: NonNullable<Job['stage']['load']>): Promise<void> {
  const loaded = await loadTrainedModel(files);
  try {
    model.setWeights(loaded.getWeights());
  } finally {
    loaded.dispose();
  }
}

function teacherOutputs(
  teacher: TeacherSource | undefined, x: Tensor, epoch: number, offset: number, n: number,
): { teacherLogits?: Tensor; teacherFeatures?: Record<string, Tensor> } {
  if (!teacher) return {};
  if (teacher.kind === 'live') {
    const { logits, features } = forward(teacher.model, x, false);
    return { teacherLogits: logits, ...(features ? { teacherFeatures: features } : {}) };
  }
  return { teacherLogits: tf.tensor2d(storedLogits(teacher, epoch, offset, n), [n, teacher.classes]) };
}

/** The stored logits of `n` images from `offset` in `epoch`'s stream. */
function storedLogits(teacher: TeacherSource & { kind: 'stored' }, epoch: number, offset: number, n: number): Float32Array {
  const start = (epoch * teacher.samplesPerEpoch + offset) * teacher.classes;
  return teacher.logits.subarray(start, start + n * teacher.classes);
}

/** The teacher's logits as numbers, for the replicas (a live teacher runs here, on the whole batch). */
function teacherLogitsData(teacher: TeacherSource | undefined, batch: { x: Float32Array; n: number; shape: number[] }, epoch: number, offset: number): Float32Array | undefined {
  if (!teacher) return undefined;
  if (teacher.kind === 'stored') return storedLogits(teacher, epoch, offset, batch.n);
  return tf.tidy(() => forward(teacher.model, tf.tensor4d(batch.x, [batch.n, ...batch.shape] as [number, number, number, number]), false).logits.dataSync() as Float32Array);
}

export function summarize(job: Job, params: number, history: EpochMetrics[], backend: string): JobSummary {
  const last = history[history.length - 1];
  return {
    stage: job.stage.name,
    model: job.stage.model,
    params,
    epochs: history.length,
    finalAccuracy: last?.testAccuracy ?? 0,
    bestAccuracy: Math.max(0, ...history.map((h) => h.testAccuracy)),
    finalLoss: last?.testLoss ?? 0,
    seconds: history.reduce((s, h) => s + h.seconds, 0),
    imgPerSec: history.length ? history.reduce((s, h) => s + h.imgPerSec, 0) / history.length : 0,
    backend,
  };
}
