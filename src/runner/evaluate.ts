// Evaluation of a model over a split (the test set after every epoch). It can take longer than an epoch
// of training (10,000 test images against a few hundred training images), so it reports progress,
// keeps the event loop turning and stops when the run is stopped.
import { tf } from '../engine/tf.js';
import type { LayersModel, Tensor } from '../engine/tf.js';
import type { BatchTransform, DataSplit, ImageShape } from '../registry/types.js';
import { batchesPerEpoch, epochBatches } from '../data/stream.js';
import { crossEntropy } from '../plugins/losses.js';
import { breather } from './pace.js';

export interface EvaluateOptions {
  /**
   * Images per forward pass. The training batch size is a size the model is known to fit, and a forward
   * pass of it takes a fraction of a training step: a stop request waits for at most that long.
   */
  batchSize: number;
  /** Stops evaluation before the next batch; it then throws `onAbort()`'s error. */
  signal?: AbortSignal;
  onAbort?: () => Error;
  /** Called after every batch with the batches done and the total. */
  onProgress?: (batch: number, batches: number) => void;
}

/** A model's logits (inference mode) for a batch of images: computed on this thread (modelLogits), or by
 * a job's data-parallel replicas (ReplicaPool.batchLogits). The caller disposes the tensor. */
export type BatchLogits = (batch: { x: Float32Array; n: number; shape: ImageShape }) => Promise<Tensor>;

export function modelLogits(model: LayersModel): BatchLogits {
  return async (batch) => tf.tidy(() => model.apply(tf.tensor4d(batch.x, [batch.n, ...batch.shape]), { training: false }) as Tensor);
}

/** Batches an evaluation of `count` images takes. */
export function evaluationBatches(count: number, batchSize: number): number {
  return batchesPerEpoch(count, batchSize, false);
}

/** Mean cross-entropy, top-1 accuracy, the predicted classes and the logits ([count, classes], row by row)
 * over a split, in inference mode. */
export async function evaluate(
  logitsOf: BatchLogits,
  split: DataSplit,
  shape: ImageShape,
  transforms: BatchTransform[],
  options: EvaluateOptions,
): Promise<{ loss: number; accuracy: number; predictions: Int32Array; logits: Float32Array }> {
  const predictions = new Int32Array(split.count);
  let all: Float32Array | undefined;
  const batches = evaluationBatches(split.count, options.batchSize);
  const breathe = breather();
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  let done = 0;
  for (const batch of epochBatches(split, { batchSize: options.batchSize, shape, transforms, seed: 0, epoch: 0, shuffle: false })) {
    if (options.signal?.aborted) throw options.onAbort?.() ?? new Error('evaluation stopped');
    const logits = await logitsOf(batch);
    const [sums, predicted] = tf.tidy(() => {
      const labels = tf.tensor1d(batch.y, 'int32');
      const ce = tf.mul(crossEntropy(logits, labels), batch.n); // the batch's sum
      const classes = tf.argMax(logits, 1);
      const hits = tf.sum(tf.cast(tf.equal(classes, labels), 'float32'));
      return [tf.stack([ce, hits]), classes];
    });
    const width = logits.shape[1]!;
    all ??= new Float32Array(split.count * width);
    all.set(await logits.data() as Float32Array, count * width);
    logits.dispose();
    const [loss, right] = await sums.data();
    predictions.set(await predicted.data() as Int32Array, count);
    sums.dispose();
    predicted.dispose();
    lossSum += loss;
    correct += right;
    count += batch.n;
    done++;
    options.onProgress?.(done, batches);
    await breathe();
  }
  return { loss: lossSum / Math.max(count, 1), accuracy: correct / Math.max(count, 1), predictions, logits: all ?? new Float32Array(0) };
}
