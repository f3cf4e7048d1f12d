// The reference models for the benchmarks, built exactly as `kdx run` builds them: the teacher and student
// of experiments/cifar10-kd.yaml, and resnet20 and resnet8x4 of the zoo (experiments/models/resnet.yaml,
// residual blocks and batchNorm), through the layer registry.
import { fileURLToPath } from 'node:url';
import type { LayersModel } from '../src/engine/tf.js';
import { loadExperiment } from '../src/config/load.js';
import { buildModel } from '../src/registry/model.js';
import type { ModelNode } from '../src/registry/types.js';

export type ReferenceKind = 'teacher' | 'student' | 'resnet20' | 'resnet8x4';

/**
 * How ReLU is expressed: `separate` is the file as written (`conv2d` then `relu` layers); `fused` moves
 * each ReLU into the preceding conv2d/dense layer (activation: relu, tfjs's fused kernels), to compare.
 */
export type ReluStyle = 'fused' | 'separate';

/** Trainable parameter counts of the PyTorch models at 32x32x3 (the reference program's; mdistiller's). */
export const REFERENCE_PARAMS: Record<ReferenceKind, number> = { teacher: 3_248_202, student: 1_116_970, resnet20: 278_324, resnet8x4: 1_233_540 };

const referenceFile = fileURLToPath(new URL('../experiments/cifar10-kd.yaml', import.meta.url));
const { experiment } = await loadExperiment(referenceFile, { checkShapes: false });
const zooFile = fileURLToPath(new URL('../experiments/models/resnet.yaml', import.meta.url));
const { experiment: zoo } = await loadExperiment(zooFile, { checkShapes: false });

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

export function buildReferenceModel(
  kind: ReferenceKind,
  inputShape: [number, number, number] = [32, 32, 3],
  opts: { relu?: ReluStyle; seed?: number } = {},
): LayersModel {
  const layers = kind === 'teacher' || kind === 'student' ? experiment.models[kind] : zoo.models[kind];
  return buildModel(kind, opts.relu === 'fused' ? fuseRelu(layers) : layers, inputShape, opts.seed ?? 0).model;
}
