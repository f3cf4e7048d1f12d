// Similarity-preserving KD (Tung & Mori, "Similarity-Preserving Knowledge Distillation", ICCV 2019), as
// mdistiller's mdistiller/distillers/SP.py `similarity_loss`: the batch's Gram matrix of flattened
// features, each row L2-normalised, should be the same for student and teacher. It compares examples with
// each other, so the student's and teacher's feature shapes are free.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkFeaturePair, flattenBatch, l2Normalize, relationalShapeProblem, stopGradient } from './common.js';

/** Row-normalised Gram matrix [batch, batch] of flattened features. */
function similarityMatrix(features: Tensor): Tensor {
  const flat = flattenBatch(features);
  return l2Normalize(tf.matMul(flat, flat, false, true), 1);
}

/** sum((G_t - G_s)^2) / batch^2; the teacher gets no gradient. */
export function similarityLoss(studentFeatures: Tensor, teacherFeatures: Tensor): Scalar {
  checkFeaturePair('similarity', studentFeatures, teacherFeatures, relationalShapeProblem);
  return tf.tidy(() => {
    const batch = studentFeatures.shape[0]!;
    const difference = tf.sub(similarityMatrix(stopGradient(teacherFeatures)), similarityMatrix(studentFeatures));
    return tf.div(tf.sum(tf.square(difference)), batch * batch) as Scalar;
  });
}
