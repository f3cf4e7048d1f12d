// DIST (Huang et al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022), as the paper's
// reference code and torchdistill's DISTLoss: instead of matching probabilities exactly, the student's
// softened probabilities are asked to correlate (Pearson) with the teacher's, across classes for each
// example (inter-class relation) and across the batch for each class (intra-class relation).
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkLogitPair, safeNorm, stopGradient } from './common.js';

export interface DistOptions {
  /** Weight of the inter-class relation loss. */
  beta: number;
  /** Weight of the intra-class relation loss. */
  gamma: number;
  /** Softmax temperature tau. */
  temperature: number;
}

/** torchdistill's DISTLoss defaults (the paper's ImageNet setting); mdistiller has no DIST. */
export const DIST_DEFAULTS: DistOptions = { beta: 1, gamma: 1, temperature: 1 };

/** The reference's cosine similarity adds this to the product of the norms. */
const COSINE_EPS = 1e-8;

/** 1 - mean over rows of the Pearson correlation between the rows of a and b ([rows, n] each). */
function oneMinusMeanPearson(a: Tensor, b: Tensor): Scalar {
  const centredA = tf.sub(a, tf.mean(a, 1, true));
  const centredB = tf.sub(b, tf.mean(b, 1, true));
  const dot = tf.sum(tf.mul(centredA, centredB), 1);
  // A constant row has norm 0: floored at the smallest normal float32 squared away, for a finite gradient.
  const norms = tf.mul(safeNorm(centredA, 1, 1e-37), safeNorm(centredB, 1, 1e-37)).reshape([-1]);
  return tf.sub(1, tf.mean(tf.div(dot, tf.add(norms, COSINE_EPS)))) as Scalar;
}

/**
 * T^2 * (beta * (1 - mean_i pearson(y_s[i,:], y_t[i,:])) + gamma * (1 - mean_k pearson(y_s[:,k], y_t[:,k])))
 * with y = softmax(logits / T), for student and teacher logits [batch, classes] (the teacher gets no gradient).
 */
export function distLoss(studentLogits: Tensor, teacherLogits: Tensor, options: DistOptions): Scalar {
  checkLogitPair('dist', studentLogits, teacherLogits);
  const { beta, gamma, temperature } = options;
  return tf.tidy(() => {
    const probsStudent = tf.softmax(tf.div(studentLogits, temperature));
    const probsTeacher = tf.softmax(tf.div(stopGradient(teacherLogits), temperature));
    const inter = oneMinusMeanPearson(probsStudent, probsTeacher);
    const intra = oneMinusMeanPearson(tf.transpose(probsStudent), tf.transpose(probsTeacher));
    return tf.mul(tf.add(tf.mul(inter, beta), tf.mul(intra, gamma)), temperature * temperature) as Scalar;
  });
}
