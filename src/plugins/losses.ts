// Built-in losses: softmax cross-entropy (with PyTorch's label smoothing) and Hinton knowledge
// distillation, computed in log space exactly as the reference PyTorch program does; DKD and DIST (their
// math in src/losses/) next to a weighted cross-entropy, as mdistiller's distillers compose them.
import { tf } from '../engine/tf.js';
import type { Tensor, Scalar } from '../engine/tf.js';
import type { LossFactory, LossInputs } from '../registry/types.js';
import { builtinFeatureLosses } from './feature-losses.js';
import { DIST_DEFAULTS, distLoss, DKD_DEFAULTS, dkdLoss, klDivergenceSum, stopGradient } from '../losses/index.js';

export { stopGradient };

// ---------------------------------------------------------------------------------------------
// Argument helpers (the schema validates files; these guard calls from code and user plugins)

function numberArg(
  loss: string,
  args: Record<string, unknown>,
  key: string,
  fallback: number,
  check: (v: number) => boolean,
  rule: string,
): number {
  const value = args[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new Error(`loss ${loss}: ${key} ${rule} (got ${JSON.stringify(value)})`);
  }
  return value;
}

function checkLogits(logits: Tensor, what: string): void {
  if (logits.rank !== 2) throw new Error(`${what} must be [batch, classes] (got shape [${logits.shape}])`);
}

/** The teacher logits a distillation loss was given; a stage without a teacher is a caller's mistake. */
function teacherLogitsOf(loss: string, inputs: LossInputs): Tensor {
  if (inputs.teacherLogits === undefined) throw new Error(`loss ${loss} needs the teacher logits (the stage has no teacher)`);
  return inputs.teacherLogits;
}

function intLabels(labels: Tensor): Tensor {
  return labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy

export interface CrossEntropyOptions {
  /** PyTorch's `label_smoothing`: the target is (1 - eps) * onehot + eps / classes. Default 0. */
  labelSmoothing?: number;
}

/**
 * Mean softmax cross-entropy of `logits` [batch, classes] against int class indices `labels` [batch],
 * as `torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps)`:
 * per example (1 - eps) * -log p[y] + eps * mean_k(-log p[k]), averaged over the batch.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, labelSmoothing = 0): Scalar {
  checkLogits(logits, 'logits');
  return tf.tidy(() => {
    const classes = logits.shape[1] as number;
    const logProbs = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(intLabels(labels).flatten(), classes).toFloat();
    const nll = tf.neg(tf.sum(tf.mul(oneHot, logProbs), 1));
    if (labelSmoothing === 0) return tf.mean(nll) as Scalar;
    const smooth = tf.neg(tf.mean(logProbs, 1));
    return tf.mean(tf.add(tf.mul(nll, 1 - labelSmoothing), tf.mul(smooth, labelSmoothing))) as Scalar;
  });
}

export const crossEntropyLoss: LossFactory = {
  description: 'mean softmax cross-entropy against class labels; {labelSmoothing: 0} as in PyTorch',
  needsTeacher: false,
  create(args) {
    const labelSmoothing = numberArg('crossEntropy', args, 'labelSmoothing', 0, (v) => v >= 0 && v <= 1, 'must be in [0, 1]');
    return ({ logits, labels }: LossInputs) => crossEntropy(logits, labels, labelSmoothing);
  },
};

// ---------------------------------------------------------------------------------------------
// Knowledge distillation (Hinton et al.)

export interface KdOptions {
  /** Softmax temperature T. Default 4. */
  temperature?: number;
  /** Weight of the soft (distillation) term; the hard term gets 1 - alpha. Default 0.7. */
  alpha?: number;
}

export interface KdLossParts {
  /** KL(softmax(t/T) || softmax(s/T)) (batchmean) * T^2. */
  soft: Scalar;
  /** Cross-entropy of the student logits against the labels. */
  hard: Scalar;
  /** alpha * soft + (1 - alpha) * hard: the value minimised. */
  total: Scalar;
}

/**
 * The parts of the KD loss, for logging (and the total, for training). The teacher logits are cut from
 * the gradient tape, so only the student logits receive gradients. The caller owns (and disposes) the
 * three scalars.
 */
export function kdLossParts(
  logits: Tensor,
  teacherLogits: Tensor,
  labels: Tensor,
  { temperature = 4, alpha = 0.7 }: KdOptions = {},
): KdLossParts {
  checkLogits(logits, 'student logits');
  checkLogits(teacherLogits, 'teacher logits');
  if (logits.shape[0] !== teacherLogits.shape[0] || logits.shape[1] !== teacherLogits.shape[1]) {
    throw new Error(
      `student logits [${logits.shape}] and teacher logits [${teacherLogits.shape}] must have the same shape`,
    );
  }
  const [soft, hard, total] = tf.tidy(() => {
    const batch = logits.shape[0] as number;
    const lS = tf.logSoftmax(tf.div(logits, temperature));
    const lT = tf.logSoftmax(tf.div(stopGradient(teacherLogits), temperature));
    // PyTorch kl_div(lS, softmax(t/T), reduction='batchmean') = sum(pT * (log pT - lS)) / batch.
    const kl = tf.div(klDivergenceSum(lT, lS), batch);
    const soft = tf.mul(kl, temperature * temperature) as Scalar;
    const hard = crossEntropy(logits, labels);
    const total = tf.add(tf.mul(soft, alpha), tf.mul(hard, 1 - alpha)) as Scalar;
    return [soft, hard, total];
  });
  return { soft, hard, total };
}

/** alpha * KL(softmax(t/T) || softmax(s/T)) * T^2 + (1 - alpha) * CE(s, y), as a scalar to minimise. */
export function kdLoss(logits: Tensor, teacherLogits: Tensor, labels: Tensor, options: KdOptions = {}): Scalar {
  return tf.tidy(() => kdLossParts(logits, teacherLogits, labels, options).total);
}

/** Reads and checks `{temperature, alpha}` as written in an experiment file. */
export function kdOptions(args: Record<string, unknown>): Required<KdOptions> {
  return {
    temperature: numberArg('kd', args, 'temperature', 4, (v) => v > 0, 'must be > 0'),
    alpha: numberArg('kd', args, 'alpha', 0.7, (v) => v >= 0 && v <= 1, 'must be in [0, 1]'),
  };
}

export const kdLossFactory: LossFactory = {
  description: 'Hinton distillation: alpha * KL(teacher/T || student/T) * T^2 + (1 - alpha) * cross-entropy; {temperature: 4, alpha: 0.7}',
  needsTeacher: true,
  asTerm: { alpha: 1 },
  create(args) {
    const options = kdOptions(args);
    return (inputs: LossInputs) => kdLoss(inputs.logits, teacherLogitsOf('kd', inputs), inputs.labels, options);
  },
  createWithTerms(args) {
    const options = kdOptions(args);
    return (inputs: LossInputs) => {
      const { soft, hard, total } = kdLossParts(inputs.logits, teacherLogitsOf('kd', inputs), inputs.labels, options);
      return { total, terms: { soft, hard } };
    };
  },
};

// ---------------------------------------------------------------------------------------------
// DKD and DIST: ceWeight * cross-entropy + the distillation term, as mdistiller's DKD distiller (its
// linear warm-up of the DKD term is a weighted list's `weight: {value, warmup}`, src/runner/stage-loss.ts).

/**
 * A loss of the form ceWeight * cross-entropy + a distillation term on the logits, the form mdistiller's
 * distillers share: reads ceWeight (mdistiller's CE_WEIGHT, default 1) and the term's own options.
 */
function withCrossEntropy<O>(
  name: string,
  description: string,
  readOptions: (args: Record<string, unknown>) => O,
  term: (logits: Tensor, teacherLogits: Tensor, labels: Tensor, options: O) => Scalar,
): LossFactory {
  return {
    description,
    needsTeacher: true,
    asTerm: { ceWeight: 0 },
    create(args) {
      const ceWeight = numberArg(name, args, 'ceWeight', 1, (v) => v >= 0, 'must be >= 0');
      const options = readOptions(args);
      return (inputs: LossInputs) => {
        const teacherLogits = teacherLogitsOf(name, inputs);
        return tf.tidy(() => {
          const distillation = term(inputs.logits, teacherLogits, inputs.labels, options);
          // As a term of a weighted list (ceWeight 0), the distillation term alone, to the bit.
          return ceWeight === 0 ? distillation : tf.add(tf.mul(crossEntropy(inputs.logits, inputs.labels), ceWeight), distillation);
        }) as Scalar;
      };
    },
  };
}

export const dkdLossFactory = withCrossEntropy(
  'dkd',
  'decoupled KD (Zhao et al. 2022): ceWeight * cross-entropy + alpha * TCKD + beta * NCKD; {ceWeight: 1, alpha: 1, beta: 8, temperature: 4} (mdistiller)',
  (args) => ({
    alpha: numberArg('dkd', args, 'alpha', DKD_DEFAULTS.alpha, (v) => v >= 0, 'must be >= 0'),
    beta: numberArg('dkd', args, 'beta', DKD_DEFAULTS.beta, (v) => v >= 0, 'must be >= 0'),
    temperature: numberArg('dkd', args, 'temperature', DKD_DEFAULTS.temperature, (v) => v > 0, 'must be > 0'),
  }),
  (logits, teacherLogits, labels, options) => dkdLoss(logits, teacherLogits, labels, options),
);

export const distLossFactory: LossFactory = {
  // Its intra-class relation correlates each class's probabilities across the whole batch.
  batchCoupled: true,
  ...withCrossEntropy(
    'dist',
    'DIST (Huang et al. 2022): ceWeight * cross-entropy + T^2 * (beta * inter-class + gamma * intra-class Pearson distance); {ceWeight: 1, beta: 1, gamma: 1, temperature: 1}',
    (args) => ({
      beta: numberArg('dist', args, 'beta', DIST_DEFAULTS.beta, (v) => v >= 0, 'must be >= 0'),
      gamma: numberArg('dist', args, 'gamma', DIST_DEFAULTS.gamma, (v) => v >= 0, 'must be >= 0'),
      temperature: numberArg('dist', args, 'temperature', DIST_DEFAULTS.temperature, (v) => v > 0, 'must be > 0'),
    }),
    (logits, teacherLogits, _labels, options) => distLoss(logits, teacherLogits, options),
  ),
};

/** The built-in losses under the names experiment files use. */
export const builtinLosses: Record<string, LossFactory> = {
  crossEntropy: crossEntropyLoss,
  kd: kdLossFactory,
  dkd: dkdLossFactory,
  dist: distLossFactory,
  ...builtinFeatureLosses,
};
