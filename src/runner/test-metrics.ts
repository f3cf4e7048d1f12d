// The test-set metrics KD papers report beside top-1, measured once on the final model: top-5 accuracy,
// expected calibration error, and for a distilled stage its top-1 agreement with its teacher (the
// weighted ensemble for several) and the mean KL(teacher || student) of their softmax outputs.
import { tf } from '../engine/tf.js';
import type { Tensor } from '../engine/tf.js';
import type { BatchTransform, DataSplit, ImageShape } from '../registry/types.js';
import { epochBatches } from '../data/stream.js';
import { breather } from './pace.js';
import type { BatchLogits } from './evaluate.js';

export interface TestMetrics {
  /** Share of test images whose label is among the 5 largest logits (all of them with 5 classes or fewer). */
  top5Accuracy: number;
  /** Expected calibration error over 15 equal-width confidence bins (Guo et al. 2017). */
  ece: number;
  /** Share of test images where the student's and the teacher's top-1 classes agree. */
  teacherAgreement?: number;
  /** Mean over test images of KL(softmax(teacher) || softmax(student)), in nats, at temperature 1. */
  teacherKL?: number;
}

export const ECE_BINS = 15;

/** A teacher as the metrics see it: its logits and its weight in the ensemble's averaged logits. */
export interface WeightedTeacher {
  logitsOf: BatchLogits;
  weight: number;
}

/** `logits`: the model's on the split, [count, classes] row by row (the final evaluation's). */
export async function testMetrics(
  logits: Float32Array,
  teachers: WeightedTeacher[],
  split: DataSplit,
  shape: ImageShape,
  transforms: BatchTransform[],
  batchSize: number,
): Promise<TestMetrics> {
  const confidences = new Float32Array(split.count);
  const correct = new Uint8Array(split.count);
  let top5 = 0;
  let agree = 0;
  let kl = 0;
  let offset = 0;
  const breathe = breather();
  const classes = logits.length / split.count;
  for (const batch of epochBatches(split, { batchSize, shape, transforms, seed: 0, epoch: 0, shuffle: false })) {
    const batchLogits = tf.tensor2d(logits.subarray(offset * classes, (offset + batch.n) * classes), [batch.n, classes]);
    const teacherOutputs: Tensor[] = [];
    for (const teacher of teachers) teacherOutputs.push(await teacher.logitsOf(batch));
    const sums = tf.tidy(() => {
      const labels = tf.tensor1d(batch.y, 'int32');
      const probs = tf.softmax(batchLogits);
      const predicted = tf.argMax(batchLogits, 1);
      const k = Math.min(5, batchLogits.shape[1]!);
      const inTop5 = tf.any(tf.equal(tf.topk(batchLogits, k).indices, tf.expandDims(labels, 1)), 1);
      const columns: Tensor[] = [tf.max(probs, 1), tf.cast(tf.equal(predicted, labels), 'float32'), tf.cast(inTop5, 'float32')];
      if (teachers.length > 0) {
        const teacherLogits = tf.addN(teachers.map((t, i) => tf.mul(teacherOutputs[i], t.weight)));
        const teacherLog = tf.logSoftmax(teacherLogits);
        const studentLog = tf.logSoftmax(batchLogits);
        columns.push(
          tf.cast(tf.equal(tf.argMax(teacherLogits, 1), predicted), 'float32'),
          tf.sum(tf.mul(tf.exp(teacherLog), tf.sub(teacherLog, studentLog)), 1),
        );
      }
      return tf.stack(columns, 1);
    });
    tf.dispose([batchLogits, ...teacherOutputs]);
    const values = (await sums.data()) as Float32Array;
    sums.dispose();
    const width = teachers.length > 0 ? 5 : 3;
    for (let i = 0; i < batch.n; i++) {
      const row = values.subarray(i * width, (i + 1) * width);
      confidences[offset + i] = row[0];
      correct[offset + i] = row[1];
      top5 += row[2];
      if (teachers.length > 0) {
        agree += row[3];
        kl += row[4];
      }
    }
    offset += batch.n;
    await breathe();
  }
  const n = Math.max(split.count, 1);
  return {
    top5Accuracy: top5 / n,
    ece: expectedCalibrationError(confidences, correct),
    ...(teachers.length > 0 ? { teacherAgreement: agree / n, teacherKL: kl / n } : {}),
  };
}

/**
 * Σ over bins of (images in the bin / all) · |accuracy in the bin − mean confidence in the bin|, with
 * confidences in `bins` equal-width bins of (0, 1] (a confidence on an edge goes to the lower bin, as
 * in Guo et al.'s and torchmetrics' code).
 */
export function expectedCalibrationError(confidences: ArrayLike<number>, correct: ArrayLike<number>, bins = ECE_BINS): number {
  const count = new Float64Array(bins);
  const hits = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  for (let i = 0; i < confidences.length; i++) {
    const c = confidences[i];
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
    count[bin]++;
    hits[bin] += correct[i];
    confidence[bin] += c;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] > 0) ece += (count[b] / confidences.length) * Math.abs(hits[b] / count[b] - confidence[b] / count[b]);
  }
  return ece;
}
