// Relational knowledge distillation (Park et al., "Relational Knowledge Distillation", CVPR 2019), as
// mdistiller's mdistiller/distillers/RKD.py `rkd_loss` (Euclidean, not squared, distances): on flattened
// features, the student's pairwise distances (each matrix divided by its mean) and the angles of every
// triplet should match the teacher's, under a smooth L1 (Huber, delta 1) penalty.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkFeaturePair, flattenBatch, l2Normalize, relationalShapeProblem, stopGradient } from './common.js';

export interface RkdOptions {
  /** Weight of the distance term. mdistiller's default: 25. */
  distanceWeight: number;
  /** Weight of the angle term. mdistiller's default: 50. */
  angleWeight: number;
}

/** mdistiller's defaults (mdistiller/engine/cfg.py, CFG.RKD). */
export const RKD_DEFAULTS: RkdOptions = { distanceWeight: 25, angleWeight: 50 };

/** mdistiller's CFG.RKD.PDIST.EPSILON: squared distances are clamped to at least this. */
const SQUARED_DISTANCE_FLOOR = 1e-12;

/** PyTorch's F.smooth_l1_loss (beta 1, mean): 0.5 d^2 where |d| < 1, |d| - 0.5 elsewhere. */
function smoothL1(a: Tensor, b: Tensor): Scalar {
  const absolute = tf.abs(tf.sub(a, b));
  const quadratic = tf.minimum(absolute, 1);
  return tf.mean(tf.add(tf.mul(tf.square(quadratic), 0.5), tf.sub(absolute, quadratic))) as Scalar;
}

/** [batch, batch] Euclidean distances of the rows of `flat`, zero on the diagonal, divided by their off-diagonal mean. */
function normalisedDistances(flat: Tensor): Tensor {
  const batch = flat.shape[0]!;
  const squaredNorms = tf.sum(tf.square(flat), 1);
  const gram = tf.matMul(flat, flat, false, true);
  const squared = tf.sub(tf.add(tf.reshape(squaredNorms, [batch, 1]), tf.reshape(squaredNorms, [1, batch])), tf.mul(gram, 2));
  const offDiagonal = tf.sub(1, tf.eye(batch));
  const distances = tf.mul(tf.sqrt(tf.maximum(squared, SQUARED_DISTANCE_FLOOR)), offDiagonal);
  // The reference's mean of the positive entries: every off-diagonal distance is >= 1e-6 > 0.
  return tf.div(distances, tf.div(tf.sum(distances), batch * (batch - 1)));
}

/**
 * [batch^3] cosines of the angle at i between j and k, for every triplet (i, j, k): the unit vectors
 * e_j - e_i, e_k - e_i (zero when j = i) dotted. Holds batch^2 x features values at once, as the
 * reference: meant for pooled features, as mdistiller uses it.
 */
function angles(flat: Tensor): Tensor {
  const [batch, size] = flat.shape as [number, number];
  const differences = tf.sub(tf.reshape(flat, [1, batch, size]), tf.reshape(flat, [batch, 1, size]));
  const units = l2Normalize(differences, 2);
  return tf.reshape(tf.matMul(units, units, false, true), [-1]);
}

/**
 * distanceWeight * smoothL1(distances) + angleWeight * smoothL1(angles) on features flattened per example;
 * the teacher gets no gradient. A batch of one has no relations: the loss is 0.
 */
export function rkdLoss(studentFeatures: Tensor, teacherFeatures: Tensor, options: RkdOptions): Scalar {
  checkFeaturePair('rkd', studentFeatures, teacherFeatures, relationalShapeProblem);
  return tf.tidy(() => {
    const student = flattenBatch(studentFeatures);
    // The reference divides by the mean of no distances (NaN); zero, still connected to the student so
    // that its gradient (zero) exists.
    if (student.shape[0] < 2) return tf.mul(tf.sum(student), 0) as Scalar;
    const teacher = flattenBatch(stopGradient(teacherFeatures));
    const distanceLoss = smoothL1(normalisedDistances(student), normalisedDistances(teacher));
    const angleLoss = smoothL1(angles(student), angles(teacher));
    return tf.add(tf.mul(distanceLoss, options.distanceWeight), tf.mul(angleLoss, options.angleWeight)) as Scalar;
  });
}
