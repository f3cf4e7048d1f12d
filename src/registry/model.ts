// Builds a model from a layer list and infers its shapes layer by layer from the dataset's input shape.
// A layer list whose shapes do not fit is reported at the offending layer, before anything trains.
import { tf } from '../engine/tf.js';
import type { LayersModel } from '../engine/tf.js';
import { registry } from './index.js';
import type { ImageShape, LayerSpec, StepSeeded } from './types.js';

export interface LayerRow {
  index: number;
  type: string;
  /** Output shape per image (no batch axis). */
  outputShape: number[];
  params: number;
}

export interface BuiltModel {
  model: LayersModel;
  rows: LayerRow[];
  params: number;
  outputShape: number[];
}

/** A layer that cannot be built or does not fit its input. `index` is the layer's position in the list. */
export class LayerShapeError extends Error {
  constructor(readonly index: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Seeds of a model's layers: derived from the stage seed and position, so equal specs build equal models. */
export function layerSeed(seed: number, index: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

export function buildModel(name: string, layers: LayerSpec[], inputShape: ImageShape, seed: number): BuiltModel {
  const input = tf.input({ shape: inputShape, name: 'input' });
  let current: ReturnType<typeof tf.input> = input;
  let shape: number[] = [...inputShape];
  const rows: LayerRow[] = [];
  layers.forEach((spec, index) => {
    let layer;
    try {
      layer = registry.layers.get(spec.type).create(spec.args, { seed: layerSeed(seed, index), inputShape: shape });
      // tfjs names layers from a process-wide counter: a model built after another would save other
      // names (and other bytes). Named by position, the same list saves the same model.json anywhere.
      (layer as { name: string }).name = `${String(index).padStart(3, '0')}_${spec.type}`;
      current = layer.apply(current) as typeof current;
    } catch (error) {
      throw new LayerShapeError(index, `${spec.type} does not fit its input of shape [${shape.join(', ')}]: ${plain(error)}`, { cause: error });
    }
    const next = (current.shape as (number | null)[]).slice(1) as number[];
    if (next.some((d) => !(d > 0))) {
      throw new LayerShapeError(index, `${spec.type} turns an input of shape [${shape.join(', ')}] into [${next.join(', ')}]: the input is too small for it`);
    }
    shape = next;
    rows.push({ index, type: spec.type, outputShape: shape, params: layer.countParams() });
  });
  const model = tf.model({ inputs: input, outputs: current, name });
  return { model, rows, params: model.countParams(), outputShape: shape };
}

/** Tells every step-seeded layer of `model` (see StepSeeded) which training step comes next. */
export function setTrainingStep(model: LayersModel, step: number): void {
  for (const layer of model.layers) {
    if (typeof (layer as Partial<StepSeeded>).setStep === 'function') (layer as unknown as StepSeeded).setStep(step);
  }
}

/** tfjs error messages name internal layer ids; keep the first sentence. */
function plain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').replace(/^Input \d+ is incompatible with layer [\w-]+: /, '').trim();
}

/** Shapes and parameter counts only: builds the model, reads the table, frees the weights. */
export function describeModel(name: string, layers: LayerSpec[], inputShape: ImageShape, seed = 0): Omit<BuiltModel, 'model'> {
  const { model, ...description } = buildModel(name, layers, inputShape, seed);
  model.dispose();
  return description;
}
