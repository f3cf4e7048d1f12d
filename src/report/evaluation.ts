// A stage's final predictions on the test set, as saved next to its model (evaluation.json): the
// confusion matrix, and the predicted classes themselves, so that a report can measure how often a
// distilled student agrees with its teacher without loading either model.

export const EVALUATION_FILE = 'evaluation.json';

export interface StageEvaluation {
  split: 'test';
  classes: number;
  classNames?: string[];
  /** confusion[true][predicted]: counts of test examples. */
  confusion: number[][];
  /** The predicted class of every test example, in the test set's order. */
  predictions: number[];
}

export function evaluationOf(labels: ArrayLike<number>, predictions: ArrayLike<number>, classes: number, classNames?: string[]): StageEvaluation {
  if (labels.length !== predictions.length) throw new Error(`${labels.length} labels but ${predictions.length} predictions`);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) confusion[labels[i]][predictions[i]]++;
  return { split: 'test', classes, ...(classNames ? { classNames } : {}), confusion, predictions: Array.from(predictions) };
}

/** The fraction of examples on which two stages predict the same class; undefined if they saw different sets. */
export function agreement(a: StageEvaluation, b: StageEvaluation): number | undefined {
  if (a.predictions.length !== b.predictions.length || a.predictions.length === 0) return undefined;
  let same = 0;
  for (let i = 0; i < a.predictions.length; i++) if (a.predictions[i] === b.predictions[i]) same++;
  return same / a.predictions.length;
}
