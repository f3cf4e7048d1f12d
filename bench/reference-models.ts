// The seed experiment's teacher and student, built directly with tf.layers for the benchmarks.
// Temporary: the lead will build them from experiments/cifar10-kd.yaml through the layer registry.
import { tf } from '../src/engine/tf.js';

export type ReferenceKind = 'teacher' | 'student';

/**
 * How ReLU is expressed: `fused` puts activation:'relu' on the conv/dense layer (tfjs-layers then calls the
 * fused kernels, FusedConv2D / _FusedMatMul with the activation inside); `separate` adds tf.layers.reLU()
 * layers after linear conv/dense layers, as the YAML's `relu` entries would.
 */
export type ReluStyle = 'fused' | 'separate';

/** Published parameter counts of the seed models at 32x32x3. */
export const REFERENCE_PARAMS: Record<ReferenceKind, number> = { teacher: 3_248_202, student: 1_116_970 };

const ARCH: Record<ReferenceKind, { convBlocks: number[][]; dense: number }> = {
  teacher: { convBlocks: [[64, 64], [128, 128], [256, 256]], dense: 512 },
  student: { convBlocks: [[32, 32], [64, 64]], dense: 256 },
};

export function buildReferenceModel(
  kind: ReferenceKind,
  inputShape: [number, number, number] = [32, 32, 3],
  opts: { relu?: ReluStyle; classes?: number; seed?: number } = {},
): tf.Sequential {
  const relu = opts.relu ?? 'fused';
  const classes = opts.classes ?? 10;
  const seed = opts.seed;
  const init = (n: number) => (seed == null ? undefined : tf.initializers.glorotUniform({ seed: seed + n }));
  let n = 0;
  const model = tf.sequential({ name: kind });
  const act = (): void => {
    if (relu === 'separate') model.add(tf.layers.reLU());
  };
  for (const block of ARCH[kind].convBlocks) {
    for (const filters of block) {
      model.add(tf.layers.conv2d({
        ...(n === 0 ? { inputShape } : {}),
        filters, kernelSize: 3, padding: 'same',
        activation: relu === 'fused' ? 'relu' : 'linear',
        kernelInitializer: init(n++),
      }));
      act();
    }
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: ARCH[kind].dense, activation: relu === 'fused' ? 'relu' : 'linear', kernelInitializer: init(n++) }));
  act();
  model.add(tf.layers.dropout({ rate: 0.5, seed }));
  model.add(tf.layers.dense({ units: classes, kernelInitializer: init(n++) }));
  return model;
}
