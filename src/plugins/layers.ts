// The built-in layers. Each maps the file's arguments to a TensorFlow.js layer; shapes are inferred by
// applying the layers in order (src/registry/model.ts); a layer sees only its own input's shape (for
// PyTorch's fan-in initialisation).
import { tf } from '../engine/tf.js';
import type { LayerContext, LayerFactory, StepSeeded } from '../registry/types.js';
import { BatchNorm, ChannelShuffle, GroupedConv2D } from './channel-layers.js';
import { currentReplica } from '../engine/replica.js';

type Args = Record<string, unknown>;
type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'gelu' | 'elu' | 'softmax';

/**
 * PyTorch's default initialisation of Conv2d and Linear: weights by kaiming_uniform with a = sqrt(5) and
 * biases alike, both uniform in +-1/sqrt(fan_in), where fan_in is the inputs feeding one output (input
 * channels x kernel height x kernel width for a convolution).
 */
function torchLikeInit(ctx: LayerContext, fanIn: number) {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: ctx.seed }),
    // The bias has its own stream, so it is not a copy of the kernel's first values.
    biasInitializer: tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: (ctx.seed ^ 0x5bd1e995) >>> 0 }),
  };
}

/**
 * Dropout whose masks are a function of the layer's seed and the training step, so a run is reproducible
 * to the byte, also when resumed (tfjs's own dropout draws from an unseeded generator, or, seeded, reuses
 * one mask at every step). The training loop calls setStep before each step. It saves as tfjs's own
 * `Dropout` (inference is the identity either way), so saved models load anywhere.
 */
export class SeededDropout extends tf.layers.Layer implements StepSeeded {
  static className = 'Dropout';
  readonly rate: number;
  private readonly baseSeed: number;
  private step = 0;

  constructor(config: { rate: number; seed: number; name?: string }) {
    super({ name: config.name });
    this.rate = config.rate;
    this.baseSeed = config.seed;
  }

  setStep(step: number): void {
    this.step = step;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate <= 0) return input;
    if (this.rate >= 1) return tf.zerosLike(input);
    return tf.tidy(() => {
      const seed = (this.baseSeed ^ Math.imul(this.step + 1, 0x9e3779b1)) >>> 0;
      // A data-parallel replica draws the whole batch's mask and keeps its own rows, so the masks are
      // those of one thread.
      const replica = currentReplica();
      const shape = replica ? [replica.batch, ...input.shape.slice(1)] : input.shape;
      let uniform = tf.randomUniform(shape, 0, 1, 'float32', seed);
      if (replica) uniform = tf.slice(uniform, replica.offset, input.shape[0]);
      const keep = tf.cast(tf.greaterEqual(uniform, this.rate), input.dtype);
      return tf.mul(input, tf.mul(keep, 1 / (1 - this.rate)));
    });
  }

  getConfig() {
    return { ...super.getConfig(), rate: this.rate, noiseShape: null, seed: null };
  }
}

const pair = (value: unknown): [number, number] => (Array.isArray(value) ? [value[0], value[1]] : [Number(value), Number(value)]);

function activationLayer(activation: Activation, description: string): LayerFactory {
  return { description, create: () => tf.layers.activation({ activation }) };
}

function pooling(kind: 'max' | 'avg'): LayerFactory {
  return {
    description: `${kind === 'max' ? 'Max' : 'Average'} pooling over height and width.`,
    shorthand: 'size',
    create(args: Args) {
      const config = {
        poolSize: pair(args.size),
        strides: pair(args.strides ?? args.size),
        padding: (args.padding as 'same' | 'valid' | undefined) ?? 'valid',
      };
      return kind === 'max' ? tf.layers.maxPooling2d(config) : tf.layers.averagePooling2d(config);
    },
  };
}

/** What conv2d and dense share: activation, bias, and PyTorch's initialisation for `fanIn` inputs per output. */
function weightedLayerArgs(args: Args, ctx: LayerContext, fanIn: number) {
  return {
    activation: (args.activation as Activation | undefined) ?? 'linear',
    useBias: (args.bias as boolean | undefined) ?? true,
    ...torchLikeInit(ctx, fanIn),
  };
}

/** Channels (the last axis) of a layer's input. */
const channelsOf = (ctx: LayerContext) => ctx.inputShape[ctx.inputShape.length - 1];

/**
 * A depthwise kernel [kh, kw, channels, multiplier] is PyTorch's Conv2d with groups = channels, whose fan-in
 * is kh * kw; tfjs counts kh * kw * channels, hence the scale.
 */
function depthwiseArgs({ kernelInitializer: _, ...rest }: ReturnType<typeof weightedLayerArgs>, channels: number, ctx: LayerContext) {
  const init = tf.initializers.varianceScaling({ scale: channels / 3, mode: 'fanIn', distribution: 'uniform', seed: ctx.seed });
  return { ...rest, depthwiseInitializer: init };
}

export const builtinLayers: Record<string, LayerFactory> = {
  conv2d: {
    description: '2-D convolution (NHWC), grouped as PyTorch\'s with `groups`.',
    create: (args, ctx) => {
      const channels = ctx.inputShape[2];
      if (channels === undefined) throw new Error(`expected ndim=4, found ndim=${ctx.inputShape.length + 1}`);
      if (args.filters === undefined && args.expand === undefined) throw new Error('conv2d needs filters (or expand, a multiple of the input channels)');
      const groups = (args.groups as number | undefined) ?? 1;
      const filters = args.filters === undefined ? channels * (args.expand as number) : (args.filters as number);
      if (channels % groups !== 0) throw new Error(`groups ${groups} does not divide the ${channels} input channels`);
      if (filters % groups !== 0) throw new Error(`groups ${groups} does not divide the ${filters} filters`);
      const kernelSize = pair(args.kernel ?? 3);
      const geometry = {
        kernelSize,
        strides: pair(args.strides ?? 1),
        padding: (args.padding as 'same' | 'valid' | undefined) ?? 'valid',
      };
      // PyTorch's fan-in of a grouped convolution: the input channels of one group times the kernel's area.
      const weighted = weightedLayerArgs(args, ctx, (channels / groups) * kernelSize[0] * kernelSize[1]);
      if (groups === 1) return tf.layers.conv2d({ filters, ...geometry, ...weighted });
      // One group per channel is a depthwise convolution, which tfjs has (and runs much faster): the same
      // weights, output channel c * multiplier + m in both.
      if (groups === channels) {
        return tf.layers.depthwiseConv2d({ depthMultiplier: filters / channels, ...geometry, ...depthwiseArgs(weighted, channels, ctx) });
      }
      if (weighted.activation !== 'linear') throw new Error('a grouped conv2d takes no activation: add the activation layer after it');
      return new GroupedConv2D({ filters, groups, ...geometry, useBias: weighted.useBias, seed: ctx.seed });
    },
  },
  depthwiseConv2d: {
    description: 'Depthwise 2-D convolution: each input channel convolved by its own `multiplier` filters.',
    create: (args, ctx) => {
      const kernelSize = pair(args.kernel ?? 3);
      return tf.layers.depthwiseConv2d({
        kernelSize,
        strides: pair(args.strides ?? 1),
        padding: (args.padding as 'same' | 'valid' | undefined) ?? 'valid',
        depthMultiplier: (args.multiplier as number | undefined) ?? 1,
        ...depthwiseArgs(weightedLayerArgs(args, ctx, kernelSize[0] * kernelSize[1]), ctx.inputShape[2], ctx),
      });
    },
  },
  channelShuffle: {
    description: 'ShuffleNet\'s channel shuffle: interleave the channels of `groups` groups.',
    shorthand: 'groups',
    create: (args) => new ChannelShuffle({ groups: args.groups as number }),
  },
  dense: {
    description: 'Fully connected layer over the last axis.',
    shorthand: 'units',
    create: (args, ctx) =>
      tf.layers.dense({
        units: args.units as number,
        ...weightedLayerArgs(args, ctx, channelsOf(ctx)),
      }),
  },
  maxPool2d: pooling('max'),
  avgPool2d: pooling('avg'),
  globalAvgPool2d: { description: 'Average over height and width.', create: () => tf.layers.globalAveragePooling2d({}) },
  flatten: { description: 'Flatten each image to one dimension.', create: () => tf.layers.flatten() },
  dropout: {
    description: 'Dropout (training only).',
    shorthand: 'rate',
    create: (args, ctx) => new SeededDropout({ rate: args.rate as number, seed: ctx.seed }),
  },
  batchNorm: {
    description: 'Batch normalisation over the channels, as PyTorch\'s (momentum in PyTorch terms).',
    create: (args) =>
      new BatchNorm({
        momentum: (args.momentum as number | undefined) ?? 0.1,
        epsilon: (args.epsilon as number | undefined) ?? 1e-5,
      }),
  },
  relu: activationLayer('relu', 'max(0, x).'),
  sigmoid: activationLayer('sigmoid', 'Logistic sigmoid.'),
  tanh: activationLayer('tanh', 'Hyperbolic tangent.'),
  gelu: activationLayer('gelu', 'Gaussian error linear unit.'),
  elu: activationLayer('elu', 'Exponential linear unit.'),
  softmax: activationLayer('softmax', 'Softmax over the last axis.'),
  leakyRelu: {
    description: 'max(x, alpha * x).',
    create: (args) => tf.layers.leakyReLU({ alpha: (args.alpha as number | undefined) ?? 0.01 }),
  },
};
