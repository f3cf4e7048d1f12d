// Builds a model from its layers and blocks and infers its shapes from the dataset's input shape, by
// applying every layer to a symbolic input (tfjs' functional API). A layer or block whose shapes do not
// fit is reported as that node, before anything trains.
import { tf } from '../engine/tf.js';
import type { LayersModel } from '../engine/tf.js';
import { registry } from './index.js';
import type { ImageShape, LayerSpec, ModelNode, StepSeeded } from './types.js';
import { ChannelSlice } from '../plugins/channel-layers.js';
import { contentHash } from '../util/hash.js';
import { tapOutputNames } from './taps.js';

type SymbolicTensor = ReturnType<typeof tf.input>;
type Layer = InstanceType<typeof tf.layers.Layer>;

export interface LayerRow {
  /** Position in the model's top-level list. */
  index: number;
  /** The layer's type, or a block's description (`basic(filters=16)`, `repeat 3 x basic(...)`). */
  type: string;
  /** Output shape per image (no batch axis). */
  outputShape: number[];
  /** Trainable parameters (as PyTorch counts them: batchNorm's running statistics are not). */
  params: number;
}

export interface BuiltModel {
  /** The model as trained and saved: one output, the logits. */
  model: LayersModel;
  /** The tapped outputs by tap name (see TapNode), for a model that also outputs them (src/runner/taps.ts). */
  taps: Record<string, SymbolicTensor>;
  /** Each tap's shape per image. */
  tapShapes: Record<string, number[]>;
  rows: LayerRow[];
  /** Trainable parameters of the whole model. */
  params: number;
  outputShape: number[];
}

/** A layer or block that cannot be built or does not fit its input: `node` is the one at fault. */
export class LayerShapeError extends Error {
  constructor(
    readonly node: ModelNode,
    /** Position of the top-level entry that holds it. */
    readonly index: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Seeds of a model's layers: derived from the stage seed and the layer's position, so equal specs build
 * equal models. Positions count every layer built, in order, through blocks and repeats. */
export function layerSeed(seed: number, index: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

export const trainableParams = (layers: { trainableWeights: { shape: (number | null)[] }[] }[]): number =>
  layers.reduce((sum, layer) => sum + layer.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0), 0);

const shapeOf = (x: SymbolicTensor) => (x.shape as (number | null)[]).slice(1) as number[];
const show = (shape: number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Applies nodes to symbolic tensors, keeping every layer it creates (for parameter counts). */
class ModelBuilder {
  private built = 0;
  readonly layers: Layer[] = [];
  /** Every output reached by each tap name, in order. */
  readonly taps = new Map<string, SymbolicTensor[]>();
  /** Each tap reached, with the top-level entry that holds it (to report one that names the output). */
  readonly tapNodes: { node: ModelNode; name: string; index: number; x: SymbolicTensor }[] = [];
  /** The top-level entry being built, for errors. */
  index = 0;

  constructor(private readonly seed: number) {}

  list(nodes: ModelNode[], x: SymbolicTensor): SymbolicTensor {
    return nodes.reduce((current, node) => this.node(node, current), x);
  }

  node(node: ModelNode, x: SymbolicTensor): SymbolicTensor {
    if (!('block' in node)) return this.layer(node, x);
    switch (node.block) {
      case 'tap':
        this.taps.set(node.name, [...(this.taps.get(node.name) ?? []), x]);
        this.tapNodes.push({ node, name: node.name, index: this.index, x });
        return x;
      case 'use':
        return this.list(node.layers, x);
      case 'repeat': {
        let current = x;
        for (let i = 0; i < node.times; i++) current = this.list(node.layers, current);
        return current;
      }
      case 'residual': {
        const body = this.list(node.body, x);
        const [inShape, outShape] = [shapeOf(x), shapeOf(body)];
        let shortcut: SymbolicTensor | undefined;
        if (Array.isArray(node.shortcut)) shortcut = this.list(node.shortcut, x);
        else if (node.shortcut === 'identity' || sameShape(inShape, outShape)) shortcut = x;
        else if (node.shortcut === 'auto') shortcut = this.projection(node, x, inShape, outShape);
        const merged = shortcut === undefined ? body : this.merge(node, 'add', [body, shortcut]);
        return this.list(node.after, merged);
      }
      case 'concat':
        return this.merge(node, 'concat', node.branches.map((branch) => this.list(branch, x)));
      case 'split': {
        const channels = shapeOf(x)[2];
        const parts = node.branches.length;
        if (channels === undefined || channels % parts !== 0) {
          throw this.error(node, `split cannot cut an input of shape ${show(shapeOf(x))} into ${parts} equal parts of its channels`);
        }
        const size = channels / parts;
        const outputs = node.branches.map((branch, i) => this.list(branch, this.apply(node, new ChannelSlice({ start: i * size, size }), x)));
        return this.merge(node, 'concat', outputs);
      }
    }
  }

  private layer(spec: LayerSpec, x: SymbolicTensor): SymbolicTensor {
    const inputShape = shapeOf(x);
    let layer: Layer;
    try {
      layer = registry.layers.get(spec.type).create(spec.args, { seed: layerSeed(this.seed, this.built), inputShape });
    } catch (error) {
      throw this.error(spec, `${spec.type} does not fit its input of shape ${show(inputShape)}: ${plain(error)}`, error);
    }
    this.built++;
    const y = this.apply(spec, layer, x, spec.type);
    const next = shapeOf(y);
    if (next.some((d) => !(d > 0))) {
      throw this.error(spec, `${spec.type} turns an input of shape ${show(inputShape)} into ${show(next)}: the input is too small for it`);
    }
    return y;
  }

  private apply(node: ModelNode, layer: Layer, x: SymbolicTensor | SymbolicTensor[], what = 'the layer'): SymbolicTensor {
    // tfjs names layers from a process-wide counter: a model built after another would save other names
    // (and other bytes). Named by position, the same layers save the same model.json in any process.
    (layer as { name: string }).name = `${String(this.layers.length).padStart(3, '0')}_${what === 'the layer' ? layer.getClassName() : what}`;
    try {
      const y = layer.apply(x) as SymbolicTensor;
      this.layers.push(layer);
      return y;
    } catch (error) {
      const input = Array.isArray(x) ? x.map((t) => show(shapeOf(t))).join(' and ') : show(shapeOf(x));
      throw this.error(node, `${what} does not fit its input of shape ${input}: ${plain(error)}`, error);
    }
  }

  /** The shortcut `auto` adds when the body changes the shape: a strided 1x1 convolution and batchNorm. */
  private projection(node: ModelNode, x: SymbolicTensor, inShape: number[], outShape: number[]): SymbolicTensor {
    const [h, w] = inShape;
    const [oh, ow, channels] = outShape;
    const stride = h / oh;
    if (outShape.length !== 3 || inShape.length !== 3 || !Number.isInteger(stride) || w / ow !== stride) {
      throw this.error(node, `the body turns ${show(inShape)} into ${show(outShape)}: no strided 1x1 convolution matches that, so shortcut auto cannot; give the shortcut's layers`);
    }
    const conv = { type: 'conv2d', args: { filters: channels, kernel: 1, strides: stride, padding: 'valid', bias: false } };
    return this.list([conv, { type: 'batchNorm', args: {} }], x);
  }

  private merge(node: ModelNode & { block: string }, how: 'add' | 'concat', inputs: SymbolicTensor[]): SymbolicTensor {
    if (inputs.length === 1) return inputs[0];
    const shapes = inputs.map(shapeOf);
    const names = node.block === 'residual' ? ['the body', 'the shortcut'] : shapes.map((_, i) => `branch ${i + 1}`);
    const described = shapes.map((s, i) => `${names[i]} gives ${show(s)}`).join(', ');
    if (how === 'add' && !shapes.every((s) => sameShape(s, shapes[0]))) {
      throw this.error(node, `${described}: they must be equal to be added`);
    }
    if (how === 'concat' && !shapes.every((s) => s.length === shapes[0].length && sameShape(s.slice(0, -1), shapes[0].slice(0, -1)))) {
      throw this.error(node, `${described}: only the channels may differ to concatenate them`);
    }
    return this.apply(node, how === 'add' ? tf.layers.add() : tf.layers.concatenate({ axis: -1 }), inputs);
  }

  private error(node: ModelNode, message: string, cause?: unknown): LayerShapeError {
    return new LayerShapeError(node, this.index, message, cause === undefined ? undefined : { cause });
  }
}

export function buildModel(name: string, nodes: ModelNode[], inputShape: ImageShape, seed: number): BuiltModel {
  const input = tf.input({ shape: inputShape, name: 'input' });
  const builder = new ModelBuilder(seed);
  const rows: LayerRow[] = [];
  let current = input;
  nodes.forEach((node, index) => {
    builder.index = index;
    const before = builder.layers.length;
    current = builder.node(node, current);
    rows.push({ index, type: describeNode(node), outputShape: shapeOf(current), params: trainableParams(builder.layers.slice(before)) });
  });
  // A tap of the output would be a second name for the logits, which every loss reads already; as an
  // extra output of the same tensor it breaks tfjs' gradients (a null tensor deep in training).
  const atOutput = builder.tapNodes.find((tap) => tap.x === current);
  if (atOutput) {
    const { node, name: tap, index } = atOutput;
    throw new LayerShapeError(node, index, `tap "${tap}" comes after the model's last layer: it would name the logits, which the losses read already; tap a feature before the last layer`);
  }
  const model = tf.model({ inputs: input, outputs: current, name });
  macsByModel.set(macsKey(nodes, inputShape), macsOfRows(rows));
  const taps = tapsByName(builder.taps);
  const tapShapes = Object.fromEntries(Object.entries(taps).map(([tap, x]) => [tap, shapeOf(x)]));
  return { model, taps, tapShapes, rows, params: trainableParams(model.layers), outputShape: shapeOf(current) };
}

/** A tap reached once is its name; one reached n times names each output `name@1` ... `name@n`. */
function tapsByName(reached: Map<string, SymbolicTensor[]>): Record<string, SymbolicTensor> {
  const taps: Record<string, SymbolicTensor> = {};
  for (const [name, outputs] of reached) tapOutputNames(name, outputs.length).forEach((tap, i) => (taps[tap] = outputs[i]));
  return taps;
}

/** One line for a plan's table: a layer's type, or what a block is. */
export function describeNode(node: ModelNode): string {
  if (!('block' in node)) return node.type;
  switch (node.block) {
    case 'tap':
      return `tap ${node.name}`;
    case 'use':
      return `${node.name}(${Object.entries(node.args).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')})`;
    case 'repeat':
      return `repeat ${node.times} x ${node.layers.length === 1 ? describeNode(node.layers[0]) : `[${node.layers.map(describeNode).join(', ')}]`}`;
    default:
      return node.block;
  }
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

/** Multiply-adds of one image's forward pass, roughly: each layer's (or block's) weights times the
 * positions of its output they are applied at. */
function macsOfRows(rows: LayerRow[]): number {
  return rows.reduce((sum, row) => sum + row.params * (row.outputShape.length === 3 ? row.outputShape[0] * row.outputShape[1] : 1), 0);
}

/** macsOfRows of every model built in this process, by its layers and input shape: a run's shape checks
 * have built its models already, so asking for their cost builds nothing again. */
const macsByModel = new Map<string, number>();
const macsKey = (nodes: ModelNode[], inputShape: ImageShape) => contentHash({ nodes, inputShape });

/** Forward multiply-adds of one image through the model (built once to know them, if it never was). */
export function forwardMacs(name: string, nodes: ModelNode[], inputShape: ImageShape): number {
  if (!macsByModel.has(macsKey(nodes, inputShape))) describeModel(name, nodes, inputShape);
  return macsByModel.get(macsKey(nodes, inputShape))!;
}

/** Shapes and parameter counts only: builds the model, reads the table, frees the weights. */
export function describeModel(name: string, nodes: ModelNode[], inputShape: ImageShape, seed = 0): Omit<BuiltModel, 'model' | 'taps'> {
  const { model, taps: _taps, ...description } = buildModel(name, nodes, inputShape, seed);
  model.dispose();
  return description;
}
