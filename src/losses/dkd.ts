// Decoupled knowledge distillation (Zhao et al., "Decoupled Knowledge Distillation", CVPR 2022), as
// mdistiller's mdistiller/distillers/DKD.py `dkd_loss`: the classical KD loss split into a target-class
// term (TCKD) and a non-target-class term (NCKD), weighted by alpha and beta. The cross-entropy term and
// the linear warm-up that mdistiller's DKD distiller adds around it are composed by the caller.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkLogitPair, klDivergenceSum, stopGradient } from './common.js';

export interface DkdOptions {
  /** Weight of the target-class term TCKD. mdistiller's default: 1. */
  alpha: number;
  /** Weight of the non-target-class term NCKD. mdistiller's default: 8. */
  beta: number;
  /** Softmax temperature T. mdistiller's default: 4. */
  temperature: number;
}

/** mdistiller's defaults (mdistiller/engine/cfg.py, CFG.DKD). */
export const DKD_DEFAULTS: DkdOptions = { alpha: 1, beta: 8, temperature: 4 };

/**
 * mdistiller masks the target class out of a softmax by subtracting 1000 from its logit: exp(-1000)
 * is 0 in float32 as in float64, so the softmax is over the other classes only, and every log stays finite.
 */
const MASK_OUT = 1000;

/**
 * alpha * TCKD + beta * NCKD for student logits [batch, classes] against teacher logits (which get no
 * gradient) and int class labels [batch]:
 * - TCKD = KL(b_t || b_s) * T^2 / batch, where b = [p_target, 1 - p_target] from softmax(z / T);
 * - NCKD = KL(q_t || q_s) * T^2 / batch, where q = softmax over the non-target classes of z / T.
 * Computed in log space: log(1 - p_target) is the log-sum-exp of the non-target log-probabilities.
 */
export function dkdLoss(studentLogits: Tensor, teacherLogits: Tensor, labels: Tensor, options: DkdOptions): Scalar {
  checkLogitPair('dkd', studentLogits, teacherLogits);
  const [batch, classes] = studentLogits.shape as [number, number];
  if (labels.size !== batch) throw new Error(`dkd: ${labels.size} labels for a batch of ${batch}`);
  const { alpha, beta, temperature } = options;
  return tf.tidy(() => {
    const intLabels = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
    const targetMask = tf.oneHot(tf.reshape(intLabels, [-1]), classes).toFloat();
    const nonTargetShift = tf.mul(targetMask, -MASK_OUT);
    const scaledStudent = tf.div(studentLogits, temperature);
    const scaledTeacher = tf.div(stopGradient(teacherLogits), temperature);

    // [log p_target, log(1 - p_target)] per example: mdistiller's cat_mask, then log.
    const binaryLogProbs = (scaled: Tensor): Tensor => {
      const logProbs = tf.logSoftmax(scaled);
      const target = tf.sum(tf.mul(logProbs, targetMask), 1, true);
      const nonTarget = tf.logSumExp(tf.add(logProbs, nonTargetShift), 1, true);
      return tf.concat([target, nonTarget], 1);
    };
    const tckd = klDivergenceSum(binaryLogProbs(scaledTeacher), binaryLogProbs(scaledStudent));
    const nckd = klDivergenceSum(
      tf.logSoftmax(tf.add(scaledTeacher, nonTargetShift)),
      tf.logSoftmax(tf.add(scaledStudent, nonTargetShift)),
    );
    const scale = (temperature * temperature) / batch;
    return tf.mul(tf.add(tf.mul(tckd, alpha), tf.mul(nckd, beta)), scale) as Scalar;
  });
}
