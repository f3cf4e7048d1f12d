// FitNets hints (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015), as mdistiller's
// mdistiller/distillers/FitNet.py: the mean squared error between the student's hint layer, mapped to the
// teacher's shape by a learned regressor, and the teacher's guided layer. The regressor belongs to the
// student's training graph and is applied by the caller; here both tensors have the same shape.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkFeaturePair, stopGradient } from './common.js';

/** Why per-example shapes cannot be compared by a hint loss (they must be equal), or undefined. */
export function hintShapeProblem(student: number[], teacher: number[]): string | undefined {
  if (student.length === teacher.length && student.every((n, i) => n === teacher[i])) return undefined;
  return `hint compares features of the same shape (got student [${student}], teacher [${teacher}]): map the student's to the teacher's with a regressor`;
}

/** mean((f_s - f_t)^2) over every element; the teacher gets no gradient. */
export function hintLoss(studentFeatures: Tensor, teacherFeatures: Tensor): Scalar {
  checkFeaturePair('hint', studentFeatures, teacherFeatures, hintShapeProblem);
  return tf.tidy(() => tf.mean(tf.squaredDifference(studentFeatures, stopGradient(teacherFeatures))) as Scalar);
}

/** Why a student tap cannot be mapped to a teacher tap by hint's regressor (a 1x1 convolution on maps, a
 * dense layer on flat features: it changes the channels only), or undefined. */
export function hintRegressorShapeProblem(student: number[], teacher: number[]): string | undefined {
  const spatial = (shape: number[]) => shape.slice(0, -1).join('x');
  if (student.length === teacher.length && spatial(student) === spatial(teacher)) return undefined;
  return `hint's regressor maps the channels only, so the student's tap [${student}] and the teacher's [${teacher}] must have the same ${student.length === 3 ? 'height and width' : 'rank'}: tap layers of the same size`;
}

/** The name under which the student's features reach the loss after the regressor of a hint pair. */
export const regressorOutput = (studentTap: string, teacherTap: string): string => `${studentTap}>${teacherTap}`;
