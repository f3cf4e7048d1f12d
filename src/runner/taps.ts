// Models that also output their taps, for feature losses. The student trains through a model that
// outputs its logits, the taps its loss reads and the outputs of hint's regressors (layers trained with
// the student, in its optimizer and checkpoints, but not in the saved model); a teacher whose taps are
// read is rebuilt from its layers with its trained weights and run in inference mode.
import { tf } from '../engine/tf.js';
import type { LayersModel, Tensor } from '../engine/tf.js';
import { featureTeacherModel, type Experiment, type LossSpec, type StageSpec } from '../config/experiment.js';
import { registry } from '../registry/index.js';
import { buildModel, describeModel, layerSeed, type BuiltModel } from '../registry/model.js';
import type { ImageShape, ModelNode } from '../registry/types.js';
import { keepingTaps } from '../registry/taps.js';
import { regressorOutput } from '../losses/index.js';
import { tapPairs } from '../plugins/feature-losses.js';

/** A model whose first output is the logits and whose other outputs are `outputs`, by name. It shares
 * its layers with another model (disposing it would dispose theirs): `dispose` frees what it owns. */
export interface TapModel {
  model: LayersModel;
  outputs: string[];
  dispose(): void;
}

/** What a loss reads besides the logits: the student's and the teacher's taps, and hint's regressors. */
export interface FeatureUse {
  student: string[];
  teacher: string[];
  /** [student tap, teacher tap] pairs whose student side goes through a learned regressor. */
  regressors: [string, string][];
}

export function featureUse(loss: LossSpec): FeatureUse {
  const use: FeatureUse = { student: [], teacher: [], regressors: [] };
  for (const term of Array.isArray(loss) ? loss : []) {
    const shapes = registry.losses.get(term.type).features;
    if (!shapes) continue;
    const mapped = shapes.regressor?.(term.args) ?? false;
    for (const [s, t] of tapPairs(term.args)) {
      if (mapped && !use.regressors.some(([a, b]) => a === s && b === t)) use.regressors.push([s, t]);
      else if (!mapped && !use.student.includes(s)) use.student.push(s);
      if (!use.teacher.includes(t)) use.teacher.push(t);
    }
  }
  return use;
}

/**
 * Where the taps a stage's loss reads sit: its student's and its teacher's layers with those taps alone
 * (others left out), for its job key. Moving such a tap changes what is distilled; adding another does not.
 */
export function featureTapLayers(experiment: Experiment, stage: StageSpec): { student: ModelNode[]; teacher: ModelNode[] } | undefined {
  const use = featureUse(stage.loss);
  if (use.student.length + use.teacher.length + use.regressors.length === 0 || !stage.teachers) return undefined;
  const names = (taps: string[]) => new Set(taps.map((tap) => tap.replace(/@\d+$/, '')));
  return {
    student: keepingTaps(experiment.models[stage.model], names([...use.student, ...use.regressors.map(([s]) => s)])),
    teacher: keepingTaps(experiment.models[featureTeacherModel(experiment, stage)], names(use.teacher)),
  };
}

/** Logits and named features of one forward pass of a TapModel. */
export function forward(tapped: TapModel, x: Tensor, training: boolean): { logits: Tensor; features?: Record<string, Tensor> } {
  const out = tapped.model.apply(x, { training });
  if (tapped.outputs.length === 0) return { logits: out as Tensor };
  const [logits, ...features] = out as Tensor[];
  return { logits, features: Object.fromEntries(tapped.outputs.map((name, i) => [name, features[i]])) };
}

/**
 * The model a stage trains through: the built model itself when its loss reads no student taps, else one
 * sharing its layers that also outputs them, with a regressor per hint pair (a 1x1 convolution on maps, a
 * dense layer on flat features, to the teacher tap's channels; seeded from the stage's seed).
 */
export function studentTapModel(built: BuiltModel, stage: StageSpec, experiment: Experiment, inputShape: ImageShape): TapModel {
  const use = featureUse(stage.loss);
  // The built model stays its creator's to dispose.
  if (use.student.length === 0 && use.regressors.length === 0) return { model: built.model, outputs: [], dispose: () => {} };
  const outputs = [...use.student];
  const tensors = use.student.map((tap) => built.taps[tap]);
  const regressors: { dispose(): unknown }[] = [];
  if (use.regressors.length > 0) {
    const teacherTaps = describeModel('teacher', experiment.models[featureTeacherModel(experiment, stage)], inputShape).tapShapes;
    use.regressors.forEach(([s, t], i) => {
      const from = built.tapShapes[s];
      const channels = teacherTaps[t][teacherTaps[t].length - 1];
      const seed = layerSeed(stage.seed, 1_000_000 + i);
      const layer = from.length === 3
        ? registry.layers.get('conv2d').create({ filters: channels, kernel: 1, strides: 1, padding: 'valid', bias: true }, { seed, inputShape: from })
        : registry.layers.get('dense').create({ units: channels, bias: true }, { seed, inputShape: from });
      (layer as { name: string }).name = `regressor${i}_${from.length === 3 ? 'conv2d' : 'dense'}`;
      regressors.push(layer);
      outputs.push(regressorOutput(s, t));
      tensors.push(layer.apply(built.taps[s]) as (typeof tensors)[number]);
    });
  }
  const model = tf.model({ inputs: built.model.inputs, outputs: [built.model.outputs[0], ...tensors] });
  return { model, outputs, dispose: () => regressors.forEach((layer) => layer.dispose()) };
}

/** The trained teacher rebuilt to also output the taps the stage's loss reads; `trained` is disposed. */
export function teacherTapModel(trained: LayersModel, experiment: Experiment, stage: StageSpec, inputShape: ImageShape): TapModel {
  const taps = featureUse(stage.loss).teacher;
  const teacher = featureTeacherModel(experiment, stage);
  const built = buildModel(teacher, experiment.models[teacher], inputShape, 0);
  try {
    built.model.setWeights(trained.getWeights());
  } finally {
    trained.dispose();
  }
  const model = tf.model({ inputs: built.model.inputs, outputs: [built.model.outputs[0], ...taps.map((tap) => built.taps[tap])] });
  return { model, outputs: taps, dispose: () => built.model.dispose() };
}
