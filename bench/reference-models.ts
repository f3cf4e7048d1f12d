// The reference models for the benchmarks, built exactly as `kdx run` builds them: the teacher and student
// of experiments/cifar10-kd.yaml, and the zoo of experiments/models/ (mdistiller's CIFAR models: residual
// blocks, batchNorm, depthwise and grouped convolutions), through the layer registry.
import { fileURLToPath } from 'node:url';
import type { LayersModel } from '../src/engine/tf.js';
import { loadExperiment } from '../src/config/load.js';
import { buildModel } from '../src/registry/model.js';
import type { ModelNode } from '../src/registry/types.js';

/** The zoo's models by file (experiments/models/<file>.yaml), each also the name of the stage that trains it. */
const ZOO_FILES = {
  resnet: ['resnet20', 'resnet32', 'resnet56', 'resnet110', 'resnet8x4', 'resnet32x4'],
  wrn: ['wrn_16_2', 'wrn_40_1', 'wrn_40_2'],
  vgg: ['vgg8_bn', 'vgg13_bn'],
  mobilenetv2: ['MobileNetV2'],
  shufflenetv1: ['ShuffleV1'],
  shufflenetv2: ['ShuffleV2'],
} as const;
export type ZooModel = (typeof ZOO_FILES)[keyof typeof ZOO_FILES][number];
export const ZOO_MODELS = Object.values(ZOO_FILES).flat() as ZooModel[];
export type ReferenceKind = 'teacher' | 'student' | ZooModel;

/**
 * How ReLU is expressed: `separate` is the file as written (`conv2d` then `relu` layers); `fused` moves
 * each ReLU into the preceding conv2d/dense layer (activation: relu, tfjs's fused kernels), to compare.
 */
export type ReluStyle = 'fused' | 'separate';

export function isZooModel(kind: string): kind is ZooModel {
  return (ZOO_MODELS as string[]).includes(kind);
}

/** The experiment file that defines `kind` (a stage of that name trains it). */
export function referenceFile(kind: ReferenceKind): string {
  const file = isZooModel(kind)
    ? `models/${Object.entries(ZOO_FILES).find(([, models]) => (models as readonly string[]).includes(kind))![0]}.yaml`
    : 'cifar10-kd.yaml';
  return fileURLToPath(new URL(`../experiments/${file}`, import.meta.url));
}

/**
 * Trainable parameter counts of the PyTorch models at 32x32x3: the reference program's (10 classes) and
 * mdistiller's (100 classes; bench/torch_zoo.py checks its definitions against the same counts).
 */
export const REFERENCE_PARAMS: Record<ReferenceKind, number> = {
  teacher: 3_248_202, student: 1_116_970,
  resnet20: 278_324, resnet32: 472_756, resnet56: 861_620, resnet110: 1_736_564, resnet8x4: 1_233_540, resnet32x4: 7_433_860,
  wrn_16_2: 703_284, wrn_40_1: 569_780, wrn_40_2: 2_255_156, vgg8_bn: 3_965_028, vgg13_bn: 9_462_180,
  MobileNetV2: 812_836, ShuffleV1: 949_258, ShuffleV2: 1_355_528,
};

const experiments = new Map<string, Awaited<ReturnType<typeof loadExperiment>>['experiment']>();

async function layersOf(kind: ReferenceKind): Promise<ModelNode[]> {
  const file = referenceFile(kind);
  if (!experiments.has(file)) experiments.set(file, (await loadExperiment(file, { checkShapes: false })).experiment);
  return experiments.get(file)!.models[kind]!;
}

function fuseRelu(layers: ModelNode[]): ModelNode[] {
  const out: ModelNode[] = [];
  for (const layer of layers) {
    const previous = out[out.length - 1];
    const fusable = previous && !('block' in previous) && (previous.type === 'conv2d' || previous.type === 'dense') && !previous.args.activation;
    if (!('block' in layer) && layer.type === 'relu' && fusable) {
      out[out.length - 1] = { type: previous.type, args: { ...previous.args, activation: 'relu' } };
    } else out.push(layer);
  }
  return out;
}

/** Loads the model's file (once): call before buildReferenceModel. */
export async function loadReferenceModels(kinds: ReferenceKind[]): Promise<void> {
  for (const kind of kinds) await layersOf(kind);
}

export function buildReferenceModel(
  kind: ReferenceKind,
  inputShape: [number, number, number] = [32, 32, 3],
  opts: { relu?: ReluStyle; seed?: number } = {},
): LayersModel {
  const layers = experiments.get(referenceFile(kind))?.models[kind];
  if (layers == null) throw new Error(`${kind}: call loadReferenceModels first (or not a reference model)`);
  return buildModel(kind, opts.relu === 'fused' ? fuseRelu(layers) : layers, inputShape, opts.seed ?? 0).model;
}
