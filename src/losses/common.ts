// Helpers shared by the distillation losses in this folder: cutting the teacher from the gradient tape,
// shape checks, and the few reductions several losses use. Pure functions of tensors; no registry here.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';

const stopGradientOp = tf.customGrad((x) => ({
  value: tf.clone(x as Tensor),
  gradFunc: (dy: Tensor) => tf.zerosLike(dy),
}));

/**
 * The same values as `x`, through which no gradient flows (tfjs has no stopGradient op): whatever
 * produced `x` gets a zero gradient from this path. Variables not on the path from the differentiated
 * variables to the loss (a teacher run outside the student's var list) are never visited at all.
 */
export function stopGradient<T extends Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

/** Throws unless `student` and `teacher` are [batch, classes] logits of the same shape. */
export function checkLogitPair(loss: string, student: Tensor, teacher: Tensor): void {
  if (student.rank !== 2) throw new Error(`${loss}: student logits must be [batch, classes] (got shape [${student.shape}])`);
  if (teacher.rank !== 2) throw new Error(`${loss}: teacher logits must be [batch, classes] (got shape [${teacher.shape}])`);
  if (student.shape[0] !== teacher.shape[0] || student.shape[1] !== teacher.shape[1]) {
    throw new Error(`${loss}: student logits [${student.shape}] and teacher logits [${teacher.shape}] must have the same shape`);
  }
}

/**
 * Throws unless the two feature tensors hold the same batch (first axis) and `shapeProblem`, the loss's
 * rule on the per-example shapes, accepts them.
 */
export function checkFeaturePair(
  loss: string,
  student: Tensor,
  teacher: Tensor,
  shapeProblem: (student: number[], teacher: number[]) => string | undefined,
): void {
  if (student.rank < 2 || teacher.rank < 2) {
    throw new Error(`${loss}: features must be [batch, ...] (got student [${student.shape}], teacher [${teacher.shape}])`);
  }
  if (student.shape[0] !== teacher.shape[0]) {
    throw new Error(`${loss}: student features [${student.shape}] and teacher features [${teacher.shape}] hold different batch sizes`);
  }
  const problem = shapeProblem(student.shape.slice(1), teacher.shape.slice(1));
  if (problem !== undefined) throw new Error(`${loss}: ${problem}`);
}

/** [batch, ...] -> [batch, rest]: PyTorch's `f.view(batch, -1)`. */
export function flattenBatch(x: Tensor): tf.Tensor2D {
  return tf.reshape(x, [x.shape[0] as number, -1]) as tf.Tensor2D;
}

/**
 * The Euclidean norm along `axis` (kept), floored at sqrt(floorOfSquare): sqrt(max(sum x^2, floor)).
 * tf.norm's gradient at a zero vector is 0/0 = NaN; through the floor it is 0, and the value is the same
 * wherever the norm exceeds the floor.
 */
export function safeNorm(x: Tensor, axis: number, floorOfSquare: number): Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, true), floorOfSquare));
}

/** PyTorch's `F.normalize(x, p=2, dim=axis, eps)`: x / max(||x||, eps), with a zero gradient at x = 0. */
export function l2Normalize(x: Tensor, axis: number, eps = 1e-12): Tensor {
  return tf.div(x, safeNorm(x, axis, eps * eps));
}

/**
 * sum(exp(logP) * (logP - logQ)) over every element: KL(P || Q) summed over the batch, i.e. PyTorch's
 * `F.kl_div(logQ, P, reduction='sum')`, computed from log-probabilities so it stays finite when P has
 * (near-)zero entries.
 */
export function klDivergenceSum(logP: Tensor, logQ: Tensor): Scalar {
  return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
}

/**
 * The shape rule of relational losses (rkd, similarity, pkt): they compare examples with each other
 * within a batch, so any per-example student and teacher shapes can be compared.
 */
export function relationalShapeProblem(): string | undefined {
  return undefined;
}
