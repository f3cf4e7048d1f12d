// The distillation losses beyond Hinton's, as pure TensorFlow.js functions. The logit losses (dkd, dist)
// are registered as stage losses in src/plugins/losses.ts, the feature losses in
// src/plugins/feature-losses.ts from `featureLosses`: each loss's shape rule (for validating a file before
// anything runs), its computation, and mdistiller's weight for it.
import type { Tensor, Scalar } from '../engine/tf.js';
import { attentionLoss, attentionShapeProblem, ATTENTION_DEFAULTS } from './attention.js';
import { relationalShapeProblem } from './common.js';
import { hintLoss, hintShapeProblem } from './hint.js';
import { pktLoss } from './pkt.js';
import { rkdLoss, RKD_DEFAULTS } from './rkd.js';
import { similarityLoss } from './similarity.js';

export { klDivergenceSum, relationalShapeProblem, stopGradient } from './common.js';
export { dkdLoss, DKD_DEFAULTS, type DkdOptions } from './dkd.js';
export { distLoss, DIST_DEFAULTS, type DistOptions } from './dist.js';
export { attentionLoss, attentionShapeProblem, ATTENTION_DEFAULTS, type AttentionOptions } from './attention.js';
export { rkdLoss, RKD_DEFAULTS, type RkdOptions } from './rkd.js';
export { similarityLoss } from './similarity.js';
export { pktLoss } from './pkt.js';
export { hintLoss, hintRegressorShapeProblem, hintShapeProblem, regressorOutput } from './hint.js';

export interface FeatureLoss {
  /** Why a student feature of per-example shape `student` cannot be compared with a teacher's, or undefined. */
  shapeProblem(student: number[], teacher: number[]): string | undefined;
  /** Options the loss reads, with their defaults (mdistiller's). */
  defaults: Record<string, number>;
  /** The loss of [batch, ...] student features against the teacher's (which get no gradient). */
  compute(student: Tensor, teacher: Tensor, options: Record<string, number>): Scalar;
  /** mdistiller's weight of this loss next to a cross-entropy of weight 1 (CFG.<METHOD>.LOSS.FEAT_WEIGHT). */
  mdistillerWeight: number;
}

/** The feature losses by the names experiment files will use. */
export const featureLosses: Record<string, FeatureLoss> = {
  hint: { shapeProblem: hintShapeProblem, defaults: {}, compute: (s, t) => hintLoss(s, t), mdistillerWeight: 100 },
  attention: {
    shapeProblem: attentionShapeProblem,
    defaults: { ...ATTENTION_DEFAULTS },
    compute: (s, t, o) => attentionLoss(s, t, { ...ATTENTION_DEFAULTS, ...o }),
    mdistillerWeight: 1000,
  },
  rkd: {
    shapeProblem: relationalShapeProblem,
    defaults: { ...RKD_DEFAULTS },
    compute: (s, t, o) => rkdLoss(s, t, { ...RKD_DEFAULTS, ...o }),
    mdistillerWeight: 1,
  },
  similarity: { shapeProblem: relationalShapeProblem, defaults: {}, compute: (s, t) => similarityLoss(s, t), mdistillerWeight: 3000 },
  pkt: { shapeProblem: relationalShapeProblem, defaults: {}, compute: (s, t) => pktLoss(s, t), mdistillerWeight: 30000 },
};
