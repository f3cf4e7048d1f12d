// A stage's loss as the training step calls it: one loss as written, or a weighted list of terms summed,
// each weight at its epoch's value (a warm-up grows it over the first epochs). The terms are logged as
// they enter the sum (weighted), as mdistiller logs its losses: they add up to the loss minimised.
import { tf } from '../engine/tf.js';
import type { Scalar } from '../engine/tf.js';
import type { LossSpec, LossTerm, LossWeight } from '../config/experiment.js';
import { registry } from '../registry/index.js';
import { lossWithTerms, type StepLoss } from './step.js';

/** A term's weight at a 0-based epoch: a warm-up gives value * min((epoch + 1) / warmup, 1), as
 * mdistiller's DKD (whose epochs count from 1). */
export function termWeight(weight: LossWeight, epoch: number): number {
  if (typeof weight === 'number') return weight;
  return weight.value * Math.min((epoch + 1) / weight.warmup, 1);
}

/** Each term's name in the logs: its loss's, numbered from the second of the same loss (`kd`, `kd_2`). */
export function termNames(terms: Pick<LossTerm, 'type'>[]): string[] {
  const seen = new Map<string, number>();
  return terms.map(({ type }) => {
    const count = (seen.get(type) ?? 0) + 1;
    seen.set(type, count);
    return count === 1 ? type : `${type}_${count}`;
  });
}

/** The stage's loss for each epoch. Built once: the losses are created here, the weights read per epoch. */
export function stageLoss(spec: LossSpec): (epoch: number) => StepLoss {
  if (!Array.isArray(spec)) {
    const loss = lossWithTerms(registry.losses.get(spec.type), spec.args);
    return () => loss;
  }
  const names = termNames(spec);
  const terms = spec.map((term) => {
    const factory = registry.losses.get(term.type);
    return { weight: term.weight, loss: factory.create({ ...term.args, ...factory.asTerm }) };
  });
  return (epoch) => {
    const weights = terms.map((term) => termWeight(term.weight, epoch));
    return (inputs) => {
      const weighted = terms.map((term, i) => tf.mul(term.loss(inputs), weights[i]) as Scalar);
      const total = (weighted.length === 1 ? weighted[0] : tf.addN(weighted)) as Scalar;
      return { total, terms: Object.fromEntries(names.map((name, i) => [name, weighted[i]])) };
    };
  };
}
