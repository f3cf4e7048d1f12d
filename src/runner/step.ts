// One training step's arithmetic: the forward pass, the loss and its gradients for one batch. It is the
// seam between what is trained (model, loss, teacher) and how (one thread, or data-parallel replicas
// that each compute it on a shard of the batch); it neither updates weights nor reads data.
import { tf } from '../engine/tf.js';
import type { NamedTensorMap, Scalar, Tensor } from '../engine/tf.js';
import type { LossFactory, LossInputs } from '../registry/types.js';
import { forward, type TapModel } from './taps.js';

/** A loss as a function that also gives its terms when it has several. */
export type StepLoss = (inputs: LossInputs) => { total: Scalar; terms?: Record<string, Scalar> };

export function lossWithTerms(factory: LossFactory, args: Record<string, unknown>): StepLoss {
  if (factory.createWithTerms) return factory.createWithTerms(args);
  const loss = factory.create(args);
  return (inputs) => ({ total: loss(inputs) });
}

export interface StepBatch {
  /** [n, h, w, c] inputs, after the transforms. */
  x: Tensor;
  /** [n] int32 labels. */
  labels: Tensor;
  /** [n, classes] teacher logits, for distilling stages. */
  teacherLogits?: Tensor;
  /** The teacher's taps by name (inference mode), for feature losses. */
  teacherFeatures?: Record<string, Tensor>;
  /** This batch's part of the loss: a data-parallel replica's rows / the whole batch's (default 1), so
   * the replicas' gradients sum to the whole batch's. */
  share?: number;
}

export interface StepResult {
  /** The differentiated loss (the loss's total plus the model's regularization losses). */
  value: Scalar;
  grads: NamedTensorMap;
  /** The loss's named terms, kept past tf.tidy: the caller disposes them. */
  terms: [string, Tensor][];
}

/** Loss and gradients of `trainable` for one batch, in training mode. Call inside tf.tidy. `model` gives
 * the logits and the student's taps the loss reads (src/runner/taps.ts). */
export function lossAndGradients(model: TapModel, trainable: tf.Variable[], loss: StepLoss, batch: StepBatch): StepResult {
  let terms: [string, Tensor][] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { logits, features } = forward(model, batch.x, true);
    const parts = loss({ logits, labels: batch.labels, teacherLogits: batch.teacherLogits, features, teacherFeatures: batch.teacherFeatures });
    // Kept past the tidy scopes to be read by the caller; only the total is differentiated.
    terms = Object.entries(parts.terms ?? {}).map(([name, term]) => [name, tf.keep(term)]);
    let total: Tensor = parts.total;
    for (const extra of model.model.calculateLosses()) total = tf.add(total, extra);
    return (batch.share === undefined ? total : tf.mul(total, batch.share)) as Scalar;
  }, trainable);
  return { value, grads, terms };
}
