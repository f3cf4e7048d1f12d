// The feature losses (src/losses/) as stage-loss terms: each compares [student tap, teacher tap] pairs,
// named by its `pairs` argument, and sums over them. Written only as terms of a weighted list, next to a
// cross-entropy (mdistiller's distillers likewise add their feature term to a weighted cross-entropy).
import { tf } from '../engine/tf.js';
import type { Scalar, Tensor } from '../engine/tf.js';
import type { LossFactory, LossInputs } from '../registry/types.js';
import { featureLosses, hintRegressorShapeProblem, regressorOutput, type FeatureLoss } from '../losses/index.js';

/** The [student tap, teacher tap] pairs of a feature term's arguments. */
export function tapPairs(args: Record<string, unknown>): [string, string][] {
  const pairs = args.pairs;
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((t) => typeof t === 'string'))) {
    throw new Error(`a feature loss needs pairs: [[student tap, teacher tap], ...] (got ${JSON.stringify(pairs)})`);
  }
  return pairs as [string, string][];
}

/** Whether a hint term maps the student's taps through a learned regressor (its default). */
const usesRegressor = (args: Record<string, unknown>) => args.regressor !== false;

function tapOf(features: Record<string, Tensor> | undefined, name: string, whose: string, loss: string): Tensor {
  const tensor = features?.[name];
  if (tensor === undefined) throw new Error(`loss ${loss} needs the ${whose}'s tap "${name}", which the forward pass did not give`);
  return tensor;
}

function featureLossFactory(name: string, loss: FeatureLoss, description: string): LossFactory {
  const regressor = name === 'hint' ? usesRegressor : undefined;
  return {
    description,
    needsTeacher: true,
    features: {
      shapeProblem: (student, teacher, args) =>
        regressor?.(args) ? hintRegressorShapeProblem(student, teacher) : loss.shapeProblem(student, teacher),
      ...(regressor ? { regressor } : {}),
    },
    create(args) {
      const pairs = tapPairs(args);
      const options = Object.fromEntries(Object.keys(loss.defaults).map((key) => [key, (args[key] as number | undefined) ?? loss.defaults[key]]));
      const mapped = regressor?.(args) ?? false;
      return (inputs: LossInputs) =>
        tf.tidy(() => {
          const values = pairs.map(([s, t]) =>
            loss.compute(
              tapOf(inputs.features, mapped ? regressorOutput(s, t) : s, 'student', name),
              tapOf(inputs.teacherFeatures, t, 'teacher', name),
              options,
            ),
          );
          return (values.length === 1 ? values[0] : tf.addN(values)) as Scalar;
        });
    },
  };
}

/** The built-in feature losses under the names experiment files use. */
export const builtinFeatureLosses: Record<string, LossFactory> = {
  hint: featureLossFactory('hint', featureLosses.hint, 'FitNets: mean squared error between teacher taps and student taps mapped by a learned regressor (1x1 conv); {pairs, regressor: true}'),
  attention: featureLossFactory('attention', featureLosses.attention, 'attention transfer (AT, p = 2): mean squared difference of L2-normalised attention maps; {pairs, p: 2}'),
  rkd: featureLossFactory('rkd', featureLosses.rkd, 'relational KD: distance and angle relations of the batch; {pairs, distanceWeight: 25, angleWeight: 50}'),
  similarity: featureLossFactory('similarity', featureLosses.similarity, 'similarity-preserving KD (SP): row-normalised batch Gram matrices; {pairs}'),
  pkt: featureLossFactory('pkt', featureLosses.pkt, 'probabilistic knowledge transfer (PKT): KL between cosine-similarity distributions; {pairs}'),
};
