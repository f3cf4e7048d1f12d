// A replica thread of a data-parallel job (see replicas.ts): it rebuilds the job's model and loss from the
// job's description, then computes, for every step the main thread starts, the loss and gradients of its
// shard of the batch (runner/step.ts, the same step as one thread) into shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend, type BackendName } from '../engine/backend.js';
import { asReplica } from '../engine/replica.js';
import { tf } from '../engine/tf.js';
import { datasetShape } from '../config/load.js';
import { asUserError } from '../errors.js';
import { buildModel, setTrainingStep } from '../registry/model.js';
import { loadWeights, ReplicaFailed, ReplicaMemory, saveWeights, shardOf, type ReplicaBuffers } from './replica-memory.js';
import { reloadJob, type JobDescription } from './reload-job.js';
import { stageLoss } from './stage-loss.js';
import { lossAndGradients } from './step.js';
import { studentTapModel } from './taps.js';

export interface ReplicaThreadData {
  index: number;
  job: JobDescription;
  /** The tfjs backend to select (the main thread's). */
  backend: string;
  buffers: ReplicaBuffers;
}

/** Replica thread -> main thread, once: ready to train, or failed. */
export type ReplicaMessage = { type: 'ready' } | { type: 'error'; message: string; user: boolean };

async function serve(data: ReplicaThreadData): Promise<void> {
  const memory = new ReplicaMemory(data.buffers);
  const { index } = data;
  const { threads, imageSize, classes, outputWidth } = memory.layout;
  try {
    await selectBackend(data.backend as BackendName);
    const { job } = await reloadJob(data.job);
    const { inputShape } = datasetShape(job.experiment);
    if (inputShape.reduce((a, b) => a * b, 1) !== imageSize) {
      throw new Error(`replica ${index}: images of ${imageSize} values, but the model takes ${inputShape.join('x')}`);
    }
    const built = buildModel(job.stage.model, job.layers, inputShape, job.stage.seed);
    const { model } = built;
    const tapped = studentTapModel(built, job.stage, job.experiment, inputShape);
    const lossAt = stageLoss(job.stage.loss);
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    parentPort!.postMessage({ type: 'ready' } satisfies ReplicaMessage);

    let sequence = 0;
    let weightsLoaded = -1; // the version of the trainable weights this replica's model holds
    let statisticsStale = false; // it sat out a training step: its batchNorm running statistics lag replica 0's
    for (;;) {
      const next = memory.awaitStep(sequence);
      if (next === undefined) break;
      sequence = next;
      const step = memory.step(sequence);
      const replicas = Math.min(threads, step.rows);
      if (index >= replicas) {
        // A batch smaller than the threads: the first `rows` replicas compute it. This one says it is done
        // too, so the main thread never starts the next step while it still reads this one's fields.
        if (step.kind === 'train') statisticsStale = true;
        memory.done();
        continue;
      }
      const { offset, rows } = shardOf(step.rows, replicas, index);
      // Replica 0 computes every step and wrote its running statistics at the end of the last one.
      if (statisticsStale && !step.allWeights) loadWeights(model.nonTrainableWeights, memory.frozen);
      statisticsStale = false;
      // After every training step; not between the batches of an evaluation, whose weights do not change.
      if (memory.trainableVersion() !== weightsLoaded) {
        weightsLoaded = memory.trainableVersion();
        loadWeights(model.trainableWeights, memory.trainable);
      }
      if (step.allWeights) loadWeights(model.nonTrainableWeights, memory.frozen);
      const x = () => tf.tensor4d(step.images.slice(offset * imageSize, (offset + rows) * imageSize), [rows, ...inputShape]);
      if (step.kind === 'infer') {
        // Inference is row by row: no batch statistics to share, no gradients.
        const logits = tf.tidy(() => (model.apply(x(), { training: false }) as tf.Tensor).dataSync() as Float32Array);
        memory.outputs.set(logits, offset * outputWidth);
        memory.done();
        continue;
      }
      setTrainingStep(model, step.trainingStep);
      let calls = 0;
      const replica = { offset, batch: step.rows, allReduce: (values: Float32Array) => memory.allReduce(index, replicas, calls++, values) };
      const share = rows / step.rows;
      const gradients = memory.gradientsOf(index);
      const { value, terms } = tf.tidy(() => {
        const labels = tf.tensor1d(step.labels.slice(offset, offset + rows), 'int32');
        const teacherLogits = step.teacherLogits && tf.tensor2d(step.teacherLogits.slice(offset * classes, (offset + rows) * classes), [rows, classes]);
        const result = asReplica(replica, () => lossAndGradients(tapped, trainable, lossAt(step.epoch), { x: x(), labels, teacherLogits, share }));
        trainable.forEach((variable, i) => gradients[i].set(result.grads[variable.name].dataSync() as Float32Array));
        return { value: result.value.dataSync()[0], terms: result.terms };
      });
      memory.writeScalars(index, value, terms.map(([name, term]) => [name, term.dataSync()[0] * share]));
      terms.forEach(([, term]) => term.dispose());
      // Every replica computed the same running statistics from the same all-reduced sums: one reports them.
      if (index === 0) saveWeights(model.nonTrainableWeights, memory.frozen);
      memory.done();
    }
    tapped.dispose();
    model.dispose();
  } catch (error) {
    // Another replica failed and woke this one from a barrier: that one says why.
    if (error instanceof ReplicaFailed) return;
    const user = asUserError(error);
    const message = user ? user.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    parentPort!.postMessage({ type: 'error', message, user: user !== undefined } satisfies ReplicaMessage);
    memory.fail(); // after the message: the main thread and the other replicas stop waiting
  }
}

await serve(workerData as ReplicaThreadData);
