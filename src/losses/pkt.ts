// Probabilistic knowledge transfer (Passalis & Tefas, "Learning Deep Representations with Probabilistic
// Knowledge Transfer", ECCV 2018), as mdistiller's mdistiller/distillers/PKT.py `pkt_loss`: cosine
// similarities between the batch's flattened features, mapped to [0, 1] and normalised per row into a
// conditional distribution; the loss is the teacher-to-student KL divergence of those distributions.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkFeaturePair, flattenBatch, relationalShapeProblem, safeNorm, stopGradient } from './common.js';

/** The reference's epsilon, added to the norms and inside the log ratio. */
const PKT_EPS = 1e-7;

/** [batch, batch]: row i is the distribution over j of (cos(f_i, f_j) + 1) / 2. */
function conditionalDistribution(features: Tensor): Tensor {
  const flat = flattenBatch(features);
  // ||f|| + eps as the reference; the norm is floored only so that a zero row has a finite gradient.
  const unit = tf.div(flat, tf.add(safeNorm(flat, 1, 1e-37), PKT_EPS));
  const similarity = tf.div(tf.add(tf.matMul(unit, unit, false, true), 1), 2);
  return tf.div(similarity, tf.sum(similarity, 1, true));
}

/** mean(p_t * log((p_t + eps) / (p_s + eps))) over the [batch, batch] matrix; the teacher gets no gradient. */
export function pktLoss(studentFeatures: Tensor, teacherFeatures: Tensor): Scalar {
  checkFeaturePair('pkt', studentFeatures, teacherFeatures, relationalShapeProblem);
  return tf.tidy(() => {
    const student = conditionalDistribution(studentFeatures);
    const teacher = conditionalDistribution(stopGradient(teacherFeatures));
    const logRatio = tf.log(tf.div(tf.add(teacher, PKT_EPS), tf.add(student, PKT_EPS)));
    return tf.mean(tf.mul(teacher, logRatio)) as Scalar;
  });
}
