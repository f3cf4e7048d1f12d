// Data-parallel training of one job over worker threads: each replica thread has its own backend and a
// copy of the model, and computes the loss and gradients of its rows of every batch (replica-thread.ts).
// The main thread splits nothing itself: it writes the whole batch to shared memory, prepares the next
// one while the replicas compute, sums their gradients in replica order, applies the one optimizer update
// and writes the new weights back for every replica. batchNorm and dropout see the whole batch through
// the replica context (engine/replica.ts), so it is the training of one thread up to the order of float
// sums, and the same bytes on every run with the same thread count. The same replicas compute a model's
// logits for inference (the test set, a teacher's stored logits), each its rows of the batch.
import { Worker } from 'node:worker_threads';
import { tf } from '../engine/tf.js';
import type { LayersModel } from '../engine/tf.js';
import { UserError } from '../errors.js';
import type { KdxOptimizer } from '../registry/types.js';
import type { BatchLogits } from './evaluate.js';
import type { JobDescription } from './reload-job.js';
import { loadWeights, ReplicaMemory, saveWeights, type StepKind } from './replica-memory.js';
import type { ReplicaMessage, ReplicaThreadData } from './replica-thread.js';

/** A replica's own error, as a user's mistake (the same as on one thread) or kdx's bug (with its stack). */
export class ReplicaError extends UserError {}

export interface ReplicaPoolOptions {
  job: JobDescription;
  threads: number;
  batchSize: number;
  /** [h, w, c] of the model's input. */
  inputShape: number[];
  classes: number;
  /** Only logits are asked of it (no training step): no room for gradients. */
  inferenceOnly?: boolean;
}

export interface ReplicaStepInput {
  x: Float32Array;
  y: Int32Array | Float32Array | Uint8Array | number[];
  n: number;
  teacherLogits?: Float32Array;
  /** The step number seeded layers (dropout) draw their masks from. */
  trainingStep: number;
  /** 0-based: the loss terms' weights are this epoch's. */
  epoch: number;
}

// The replica thread runs TypeScript: it registers the same loader as bin/kdx.js before importing its
// module (a worker does not inherit loader hooks registered with module.register).
const THREAD_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(workerData.loader ? import(workerData.loader).then((api) => api.register()) : Promise.resolve())
  .then(() => import(workerData.entry));
`;
const threadEntry = new URL(import.meta.url.endsWith('.ts') ? './replica-thread.ts' : './replica-thread.js', import.meta.url).href;
const loader = import.meta.url.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined;

export class ReplicaPool {
  private readonly workers: Worker[] = [];
  /** Rejects with the first replica's failure. */
  private readonly failure: Promise<never>;
  private readonly ready: Promise<void>[] = [];
  private closing = false;
  private sequence = 0;
  /** The replicas load every weight at the next step (the first, and after the model changed outside). */
  private allWeights = true;

  private constructor(private readonly model: LayersModel, private readonly memory: ReplicaMemory, options: ReplicaPoolOptions) {
    this.failure = new Promise<never>((_, reject) => {
      for (let index = 0; index < options.threads; index++) {
        const data: ReplicaThreadData & { entry: string; loader?: string } = {
          index, job: options.job, backend: tf.getBackend(), buffers: memory.buffers, entry: threadEntry, loader,
        };
        const worker = new Worker(THREAD_BOOTSTRAP, { eval: true, workerData: data });
        this.workers.push(worker);
        this.ready.push(new Promise((resolve) => worker.once('message', (m: ReplicaMessage) => m.type === 'ready' && resolve())));
        worker.on('message', (message: ReplicaMessage) => {
          if (message.type === 'error') reject(message.user ? new ReplicaError(message.message) : new Error(`replica ${index}: ${message.message}`));
        });
        worker.on('error', (error) => {
          memory.fail();
          reject(error);
        });
        worker.on('exit', (code) => {
          // A replica woken by another's failure ends quietly: the failing one says why.
          if (this.closing || (code === 0 && memory.failed())) return;
          memory.fail();
          reject(new Error(`replica thread ${index} exited with code ${code}`));
        });
      }
    });
    this.failure.catch(() => {}); // a pool closed early may fail unobserved
  }

  /** Starts `options.threads` replicas of `model`'s job; resolves when each has built its model. */
  static async start(model: LayersModel, options: ReplicaPoolOptions): Promise<ReplicaPool> {
    const sizes = (weights: { shape: (number | null)[] }[]) => weights.map((w) => (w.shape as number[]).reduce((a, b) => a * b, 1));
    const memory = new ReplicaMemory({
      threads: options.threads,
      batchSize: options.batchSize,
      imageSize: options.inputShape.reduce((a, b) => a * b, 1),
      classes: options.classes,
      outputWidth: (model.outputs[0].shape as number[])[1],
      trainableSizes: sizes(model.trainableWeights),
      gradients: !options.inferenceOnly,
      frozenSizes: sizes(model.nonTrainableWeights),
      // batchNorm exchanges at most 2 x its channels plus a count; its channels are a vector weight's size.
      reduceCapacity: 2 * Math.max(1, ...sizes(model.weights.filter((w) => w.shape.length === 1))) + 1,
    });
    const pool = new ReplicaPool(model, memory, options);
    try {
      await Promise.race([Promise.all(pool.ready), pool.failure]);
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * One training step on the whole batch: the replicas compute the gradients of their shards while
   * `meanwhile` runs (the next batch is prepared), then one optimizer update. Returns the batch's loss
   * and loss terms.
   */
  async step(input: ReplicaStepInput, optimizer: KdxOptimizer, meanwhile?: () => void): Promise<{ loss: number; terms: [string, number][] }> {
    const { model, memory } = this;
    const replicas = await this.run('train', input, meanwhile);
    const grads = memory.summedGradients(replicas);
    const trainable = model.trainableWeights;
    tf.tidy(() => optimizer.applyGradients(Object.fromEntries(trainable.map((w, i) => [(w.read() as tf.Variable).name, tf.tensor(grads[i], w.shape as number[])]))));
    saveWeights(trainable, memory.trainable);
    memory.trainableWritten();
    return memory.summedScalars(replicas);
  }

  /**
   * The model's logits (inference mode) of `n` images, [n, width] row by row: each replica computes its
   * rows with the weights of the last step. For the test set after an epoch, and a teacher's logits.
   */
  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    await this.run('infer', { x, y: [], n, trainingStep: 0, epoch: 0 });
    return this.memory.outputs.slice(0, n * this.memory.layout.outputWidth);
  }

  /** logits() as the evaluation and the teacher's logits take it. */
  batchLogits(): BatchLogits {
    const width = this.memory.layout.outputWidth;
    return async (batch) => tf.tensor2d(await this.logits(batch.x, batch.n), [batch.n, width]);
  }

  /** Starts a step of `kind` on `input` and resolves with the number of replicas that computed it. */
  private async run(kind: StepKind, input: ReplicaStepInput, meanwhile?: () => void): Promise<number> {
    const { model, memory } = this;
    const sequence = ++this.sequence;
    if (this.allWeights) {
      saveWeights(model.trainableWeights, memory.trainable);
      memory.trainableWritten();
      saveWeights(model.nonTrainableWeights, memory.frozen);
    }
    memory.writeInputs(sequence, input.x, input.y, input.teacherLogits);
    memory.start(sequence, { kind, rows: input.n, trainingStep: input.trainingStep, epoch: input.epoch, allWeights: this.allWeights, teacher: input.teacherLogits !== undefined });
    this.allWeights = false;
    meanwhile?.();
    // Every replica says when it is done, also one that sat out a batch smaller than the threads.
    await Promise.race([memory.finished(memory.layout.threads), this.failure]);
    if (memory.failed()) {
      // The failing replica's message is on its way.
      await Promise.race([this.failure, new Promise((resolve) => setTimeout(resolve, 5000))]);
      throw new Error('a replica thread failed without saying why');
    }
    return Math.min(memory.layout.threads, input.n);
  }

  /** Gives the main thread's model the replicas' non-trainable weights (batchNorm's running statistics). */
  syncModel(): void {
    if (this.sequence > 0) loadWeights(this.model.nonTrainableWeights, this.memory.frozen);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.memory.stop();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
