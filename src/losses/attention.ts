// Attention transfer (Zagoruyko & Komodakis, "Paying More Attention to Attention", ICLR 2017), as
// mdistiller's mdistiller/distillers/AT.py `single_stage_at_loss`: a feature map's attention map is the
// mean over channels of f^p at each position, flattened and L2-normalised; the loss is the mean squared
// difference of the student's and the teacher's maps. Channels may differ; positions must correspond.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import { checkFeaturePair, flattenBatch, l2Normalize, stopGradient } from './common.js';

export interface AttentionOptions {
  /** The power p of f^p. mdistiller's default: 2. */
  p: number;
}

export const ATTENTION_DEFAULTS: AttentionOptions = { p: 2 };

/**
 * Why per-example NHWC shapes [h, w, c] cannot be compared by attention transfer, or undefined. The
 * channel counts are free. Different sizes must be whole multiples: as mdistiller, the larger map is
 * average-pooled to the smaller (adaptive pooling, which is plain pooling when the sizes divide).
 */
export function attentionShapeProblem(student: number[], teacher: number[]): string | undefined {
  if (student.length !== 3 || teacher.length !== 3) {
    return `attention needs [height, width, channels] feature maps (got student [${student}], teacher [${teacher}])`;
  }
  const [sh, sw] = student;
  const [th, tw] = teacher;
  const divides = (big: number[], small: number[]) =>
    big[0]! >= small[0]! && big[1]! >= small[1]! && big[0]! % small[0]! === 0 && big[1]! % small[1]! === 0;
  if (divides([sh!, sw!], [th!, tw!]) || divides([th!, tw!], [sh!, sw!])) return undefined;
  return `attention maps of ${sh}x${sw} (student) and ${th}x${tw} (teacher) positions do not correspond: one size must be a whole multiple of the other`;
}

/** Average-pools NHWC `x` down to `height` x `width` positions (both divide x's). */
function poolTo(x: Tensor, height: number, width: number): Tensor {
  const [batch, h, w, c] = x.shape as [number, number, number, number];
  if (h === height && w === width) return x;
  // Mean over each (h/height) x (w/width) window through a reshape: no pooling-gradient kernel needed.
  return tf.mean(tf.reshape(x, [batch, height, h / height, width, w / width, c]), [2, 4]);
}

/** [batch, h, w, c] -> [batch, h*w]: mean over channels of f^p, L2-normalised per example. */
function attentionMap(features: Tensor, p: number): Tensor {
  return l2Normalize(flattenBatch(tf.mean(tf.pow(features, p), 3)), 1);
}

/** mean((at(f_s) - at(f_t))^2) over batch and positions, for NHWC features; the teacher gets no gradient. */
export function attentionLoss(studentFeatures: Tensor, teacherFeatures: Tensor, options: AttentionOptions): Scalar {
  checkFeaturePair('attention', studentFeatures, teacherFeatures, attentionShapeProblem);
  return tf.tidy(() => {
    const height = Math.min(studentFeatures.shape[1]!, teacherFeatures.shape[1]!);
    const width = Math.min(studentFeatures.shape[2]!, teacherFeatures.shape[2]!);
    const student = attentionMap(poolTo(studentFeatures, height, width), options.p);
    const teacher = attentionMap(poolTo(stopGradient(teacherFeatures), height, width), options.p);
    return tf.mean(tf.square(tf.sub(student, teacher))) as Scalar;
  });
}
