// Layers TensorFlow.js lacks, that the models of the KD literature need: grouped convolution (ShuffleNet),
// channel shuffle, and a slice of the channels (ShuffleNetV2's split). Each is registered with
// tf.serialization, so a saved model.json that uses them loads again.
import { tf } from '../engine/tf.js';
import type { Tensor } from '../engine/tf.js';
import { currentReplica, type Replica } from '../engine/replica.js';
import { BATCH_NORM_GRAD_INPUT, BATCH_NORM_GRAD_SUMS, BATCH_NORM_MOMENTS, BATCH_NORM_NORMALIZE, hasFusedBatchNorm } from '../engine/batch-norm-kernel.js';

type Shape = (number | null)[];
type Weight = ReturnType<InstanceType<typeof tf.layers.Layer>['addWeight']>;
type LayerArgs = { name?: string; trainable?: boolean };
/** A layer's input: one tensor, or a list holding one. */
type Inputs = Tensor | Tensor[];
const single = (inputs: Inputs): Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);
const singleShape = (shape: Shape | Shape[]): Shape => (Array.isArray(shape[0]) ? (shape[0] as Shape) : (shape as Shape));

/** Up to this many groups, a grouped convolution runs as one convolution with a block-diagonal kernel. */
const BLOCK_DIAGONAL_GROUPS = 4;

export interface GroupedConv2DArgs extends LayerArgs {
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
  groups: number;
  useBias: boolean;
  /** Seed of the kernel's initialiser. */
  seed?: number;
}

/**
 * PyTorch's Conv2d with `groups`: the channels are cut into `groups` parts and each part convolved by its
 * own filters. One kernel [kh, kw, in/groups, filters] holds the groups side by side along its last axis,
 * so the parameter count (and the fan-in of the initialiser) is PyTorch's.
 */
export class GroupedConv2D extends tf.layers.Layer {
  static className = 'KdxGroupedConv2D';
  private kernel?: Weight;
  private bias?: Weight;

  constructor(readonly options: GroupedConv2DArgs) {
    super(options);
  }

  override build(inputShape: Shape | Shape[]): void {
    const channels = singleShape(inputShape)[3] as number;
    const { groups, filters } = this.options;
    if (channels % groups !== 0) throw new Error(`groups ${groups} does not divide the ${channels} input channels`);
    if (filters % groups !== 0) throw new Error(`groups ${groups} does not divide the ${filters} filters`);
    const [kh, kw] = this.options.kernelSize;
    // PyTorch's default (kaiming_uniform, a = sqrt(5)): uniform in +-1/sqrt(fan_in), fan_in = kh*kw*in/groups.
    const init = tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: this.options.seed });
    this.kernel = this.addWeight('kernel', [kh, kw, channels / groups, filters], 'float32', init);
    if (this.options.useBias) this.bias = this.addWeight('bias', [filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const [batch, h, w] = singleShape(inputShape);
    const out = (size: number | null, k: number, s: number) =>
      size === null ? null : this.options.padding === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
    return [batch, out(h, this.options.kernelSize[0], this.options.strides[0]), out(w, this.options.kernelSize[1], this.options.strides[1]), this.options.filters];
  }

  override call(inputs: Inputs): Tensor {
    return tf.tidy(() => {
      const x = single(inputs) as tf.Tensor4D;
      const { groups, strides, padding } = this.options;
      const kernel = this.kernel!.read() as tf.Tensor4D;
      const ks = tf.split(kernel, groups, 3);
      let y: Tensor;
      if (groups <= BLOCK_DIAGONAL_GROUPS) {
        // One convolution with the groups' kernels on the diagonal of a full kernel, zeros elsewhere:
        // `groups` times the multiply-adds, but no split of the activations along the channels, which
        // tfjs-wasm does element by element (the split, its gradient and 3 small convolutions cost ShuffleNet
        // more than the extra work).
        const inPerGroup = kernel.shape[2];
        const full = ks.map((k, g) => tf.pad(k, [[0, 0], [0, 0], [g * inPerGroup, (groups - 1 - g) * inPerGroup], [0, 0]]));
        y = tf.conv2d(x, tf.concat(full, 3) as tf.Tensor4D, strides, padding);
      } else {
        const xs = tf.split(x, groups, 3);
        y = tf.concat(xs.map((part, g) => tf.conv2d(part as tf.Tensor4D, ks[g] as tf.Tensor4D, strides, padding)), 3);
      }
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override getConfig() {
    const { name: _name, trainable: _trainable, ...own } = this.options;
    return { ...super.getConfig(), ...own };
  }
}

/**
 * ShuffleNet's channel shuffle: [.., groups * k] -> [.., groups, k] -> [.., k, groups] -> [.., groups * k],
 * the NHWC form of PyTorch's reshape-permute-reshape.
 */
export class ChannelShuffle extends tf.layers.Layer {
  static className = 'KdxChannelShuffle';

  constructor(readonly options: LayerArgs & { groups: number }) {
    super(options);
  }

  override build(inputShape: Shape | Shape[]): void {
    const channels = singleShape(inputShape)[3] as number;
    if (channels % this.options.groups !== 0) throw new Error(`groups ${this.options.groups} does not divide the ${channels} channels`);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: Inputs): Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, h, w, c] = x.shape;
      const g = this.options.groups;
      return tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, g, c / g]), [0, 1, 2, 4, 3]), [n, h, w, c]);
    });
  }

  override getConfig() {
    return { ...super.getConfig(), groups: this.options.groups };
  }
}

/** Channels [start, start + size) of an NHWC tensor: one part of a channel split. */
export class ChannelSlice extends tf.layers.Layer {
  static className = 'KdxChannelSlice';

  constructor(readonly options: LayerArgs & { start: number; size: number }) {
    super(options);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...singleShape(inputShape).slice(0, 3), this.options.size];
  }

  override call(inputs: Inputs): Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      return tf.slice(x, [0, 0, 0, this.options.start], [-1, -1, -1, this.options.size]);
    });
  }

  override getConfig() {
    return { ...super.getConfig(), start: this.options.start, size: this.options.size };
  }
}

for (const layer of [GroupedConv2D, ChannelShuffle, ChannelSlice]) tf.serialization.registerClass(layer);

export interface BatchNormArgs extends LayerArgs {
  /** PyTorch's meaning: the weight of a batch's statistics in the running averages (0.1). */
  momentum: number;
  epsilon: number;
}

/**
 * Batch normalisation over the channels (the last axis), as PyTorch's BatchNorm2d: batch statistics in
 * training (the running variance updated with the unbiased one), running statistics in inference. Its
 * gradient is the closed form, `gamma / std * (dy - mean(dy) - xhat * mean(dy * xhat))`: a few whole-tensor
 * operations where tfjs differentiates through its moments and FusedBatchNorm, which on wasm took a third
 * of a MobileNetV2 training step (on wasm, fused kernels that give the operations' bytes). Weights, in tfjs' order: gamma, beta, moving mean, moving variance.
 */
export class BatchNorm extends tf.layers.Layer {
  static className = 'KdxBatchNorm';
  private gamma?: Weight;
  private beta?: Weight;
  private movingMean?: Weight;
  private movingVariance?: Weight;

  constructor(readonly options: BatchNormArgs) {
    super(options);
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const channels = shape[shape.length - 1] as number;
    this.gamma = this.addWeight('gamma', [channels], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tf.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', tf.initializers.ones(), undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: Inputs, kwargs: { training?: boolean }): Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const gamma = this.gamma!.read();
      const beta = this.beta!.read();
      const { epsilon, momentum } = this.options;
      if (!kwargs.training) {
        const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.movingVariance!.read(), epsilon)));
        return tf.add(tf.mul(tf.sub(x, this.movingMean!.read()), scale), beta);
      }
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      // On wasm, fused kernels (engine/batch-norm-kernel.ts) compute what the operations below compute.
      const fused = hasFusedBatchNorm();
      // A data-parallel replica holds some rows of the batch: its statistics are those of the whole batch.
      const replica = currentReplica();
      const { mean, variance, count } = replica ? replicatedMoments(x, axes, replica) : batchMoments(x, axes, fused);
      // Running statistics: PyTorch's update, with the unbiased variance.
      const unbiased = tf.mul(variance, count / Math.max(count - 1, 1));
      this.movingMean!.write(tf.add(tf.mul(this.movingMean!.read(), 1 - momentum), tf.mul(mean, momentum)));
      this.movingVariance!.write(tf.add(tf.mul(this.movingVariance!.read(), 1 - momentum), tf.mul(unbiased, momentum)));
      const rstd = tf.rsqrt(tf.add(variance, epsilon));
      const xhatOf = (input: Tensor, mean: Tensor, rstd: Tensor) => tf.mul(tf.sub(input, mean), rstd);
      const normalize = tf.customGrad((input, g, b, save) => {
        // The backward pass runs after this call's tidy: what it reads must be saved, not closed over. It
        // recomputes xhat from x (the same values) rather than keeping a second activation-sized tensor.
        (save as (tensors: Tensor[]) => void)([input as Tensor, mean, rstd, tf.mul(g as Tensor, rstd)]);
        const value = fused
          ? tf.engine().runKernel(BATCH_NORM_NORMALIZE, { x: input as Tensor, mean, rstd, gamma: g as Tensor, beta: b as Tensor }) as Tensor
          : tf.add(tf.mul(xhatOf(input as Tensor, mean, rstd), g as Tensor), b as Tensor);
        return {
          value,
          gradFunc: (dy: Tensor, saved: Tensor[]) => {
            const [x, mean, rstd, scale] = saved as [Tensor, Tensor, Tensor, Tensor];
            const xhat = fused ? null : xhatOf(x, mean, rstd);
            const [dbeta, dgamma] = fused
              ? tf.engine().runKernel(BATCH_NORM_GRAD_SUMS, { dy, x, mean, rstd }) as Tensor[]
              : [tf.sum(dy, axes), tf.sum(tf.mul(dy, xhat!), axes)];
            // dx needs both sums over the whole batch; gamma's and beta's gradients are this replica's
            // part, summed over the replicas with every other gradient.
            const [sumDy, sumDyXhat] = replica ? allReduceTensors(replica, [dbeta!, dgamma!]) : [dbeta!, dgamma!];
            const dx = fused
              ? tf.engine().runKernel(BATCH_NORM_GRAD_INPUT, { dy, x, mean, rstd, scale, sumDy: sumDy!, sumDyXhat: sumDyXhat! },
                { count } as unknown as tf.NamedAttrMap) as Tensor
              : tf.mul(tf.sub(tf.sub(dy, tf.div(sumDy!, count)), tf.mul(xhat!, tf.div(sumDyXhat!, count))), scale);
            return [dx, dgamma!, dbeta!];
          },
        };
      });
      return normalize(x, gamma, beta);
    });
  }

  override getConfig() {
    return { ...super.getConfig(), momentum: this.options.momentum, epsilon: this.options.epsilon };
  }
}

tf.serialization.registerClass(BatchNorm);

/** Sums of equal-shaped float tensors over every replica, in one exchange. */
function allReduceTensors(replica: Replica, tensors: Tensor[]): Tensor[] {
  const sizes = tensors.map((t) => t.size);
  const packed = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const t of tensors) {
    packed.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  const summed = replica.allReduce(packed);
  at = 0;
  return tensors.map((t) => {
    const part = tf.tensor(summed.slice(at, at + t.size), t.shape);
    at += t.size;
    return part;
  });
}

/** tf.moments over the leading axes, by the fused kernel where the backend has it. */
function batchMoments(x: Tensor, axes: number[], fused: boolean): { mean: Tensor; variance: Tensor; count: number } {
  const count = x.size / (x.shape[x.shape.length - 1] as number);
  if (!fused) return { ...tf.moments(x, axes), count };
  const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }) as Tensor[];
  return { mean: mean!, variance: variance!, count };
}

/**
 * tf.moments over the whole batch when this thread holds some of its rows: the mean from the summed
 * per-channel sums and row counts, then the variance from the summed squared deviations from it (two
 * passes, as tf.moments, not E[x^2] - mean^2, which cancels).
 */
function replicatedMoments(x: Tensor, axes: number[], replica: Replica): { mean: Tensor; variance: Tensor; count: number } {
  const channels = x.shape[x.shape.length - 1] as number;
  const sums = new Float32Array(channels + 1);
  sums.set(tf.sum(x, axes).dataSync() as Float32Array);
  sums[channels] = x.size / channels;
  const total = replica.allReduce(sums);
  const count = total[channels];
  const mean = tf.div(tf.tensor1d(total.slice(0, channels)), count);
  const [squares] = allReduceTensors(replica, [tf.sum(tf.square(tf.sub(x, mean)), axes)]);
  return { mean, variance: tf.div(squares, count), count };
}
