// Generated from schemas/experiment.schema.json by `npm run gen:types`. Do not edit.

/**
 * A transform: `horizontalFlip`, or {name: {arguments}}.
 */
export type Transform =
  | string
  | {
      /**
       * Pad each image with zeros, then crop a random size x size window (torchvision RandomCrop).
       */
      randomCrop?: {
        /**
         * Side of the crop, in pixels.
         */
        size: number;
        /**
         * Zero padding added on every side before cropping.
         */
        padding?: number;
      };
      /**
       * Mirror each image left-right with probability p.
       */
      horizontalFlip?: {
        /**
         * Probability of a flip.
         */
        p?: number;
      };
      /**
       * Per channel (x - mean) / std, on pixels already scaled to [0, 1].
       */
      normalize?: {
        /**
         * Mean of each channel.
         *
         * @minItems 1
         */
        mean: [number, ...number[]];
        /**
         * Standard deviation of each channel.
         *
         * @minItems 1
         */
        std: [number, ...number[]];
      };
    };
/**
 * Transforms of the training stream, in order (augmentation, normalisation).
 */
export type TransformList = Transform[];
/**
 * Transforms of the test stream, in order (usually only normalisation).
 */
export type TransformList1 = Transform[];
/**
 * A list of layers and blocks, or {from: FILE, model: NAME}: a model of another file (with that file's blocks).
 *
 * @minItems 1
 */
export type Model =
  | [Layer, ...Layer[]]
  | {
      /**
       * The file to import the model from, relative to this file.
       */
      from: string;
      /**
       * The model's name in that file; defaults to this model's name.
       */
      model?: string;
    };
/**
 * A layer: a name (`relu`, `flatten`) or {name: arguments}; a block (residual, concat, split, repeat, or one of `blocks`); a tap naming the output so far (`{tap: NAME}`); or a list of these, spliced in place.
 */
export type Layer =
  | string
  | {
      /**
       * 2-D convolution over height and width: {filters, kernel, strides, padding, groups, activation, bias}.
       */
      conv2d?: {
        /**
         * Output channels, at most 65,536 (as dense's units); or give expand.
         */
        filters?: number;
        /**
         * Output channels as a multiple of the input channels, instead of filters (MobileNetV2's expansion).
         */
        expand?: number;
        kernel?: Size2;
        strides?: Size21;
        /**
         * same keeps the size at stride 1; valid adds none.
         */
        padding?: 'same' | 'valid';
        /**
         * Grouped convolution, as PyTorch's: the channels are cut into groups, each convolved by its own filters; groups = input channels is a depthwise convolution. Default 1.
         */
        groups?: number;
        activation?: ActivationName;
        /**
         * Add a learned bias.
         */
        bias?: boolean;
      };
      /**
       * Depthwise convolution: each input channel convolved by its own multiplier filters.
       */
      depthwiseConv2d?: {
        kernel?: Size22;
        strides?: Size23;
        /**
         * same keeps the size at stride 1; valid adds none.
         */
        padding?: 'same' | 'valid';
        /**
         * Output channels per input channel.
         */
        multiplier?: number;
        activation?: ActivationName;
        /**
         * Add a learned bias.
         */
        bias?: boolean;
      };
      /**
       * ShuffleNet's channel shuffle: groups, or {groups}.
       */
      channelShuffle?:
        | number
        | {
            /**
             * Groups whose channels are interleaved.
             */
            groups: number;
          };
      /**
       * Fully connected layer: units, or {units, activation, bias}.
       */
      dense?:
        | number
        | {
            /**
             * Output width, at most 65,536 (a wider layer is a typo more often than not, and its weights seldom fit in memory).
             */
            units: number;
            activation?: ActivationName;
            /**
             * Add a learned bias.
             */
            bias?: boolean;
          };
      maxPool2d?: Pool;
      avgPool2d?: Pool1;
      globalAvgPool2d?: NoArgs;
      flatten?: NoArgs1;
      /**
       * Dropout: rate, or {rate}.
       */
      dropout?:
        | number
        | {
            /**
             * Fraction of units dropped in training.
             */
            rate: number;
          };
      /**
       * Batch normalisation over the channels.
       */
      batchNorm?: {
        /**
         * PyTorch's meaning: weight of the new batch statistics (0.1).
         */
        momentum?: number;
        /**
         * Added to the variance.
         */
        epsilon?: number;
      };
      relu?: NoArgs2;
      sigmoid?: NoArgs3;
      tanh?: NoArgs4;
      gelu?: NoArgs5;
      elu?: NoArgs6;
      softmax?: NoArgs7;
      /**
       * max(x, alpha * x).
       */
      leakyRelu?: {
        /**
         * Slope for x < 0.
         */
        alpha?: number;
      };
      /**
       * A residual block: body(x) + shortcut(x), then after. body: its layers. shortcut: auto (x itself when the body keeps the shape, else a strided 1x1 conv2d and batchNorm that match it; the default), identity, ifSameShape (x itself when the body keeps the shape, else no shortcut), or layers. after: layers applied to the sum, e.g. relu.
       */
      residual?: {
        body: Layer;
        shortcut?: Layer;
        after?: Layer;
      };
      /**
       * Parallel branches applied to the same input, their outputs concatenated along the channels. Each branch is a layer or a list of layers; [] passes the input through.
       *
       * @minItems 2
       */
      concat?: [Layer, Layer, ...Layer[]];
      /**
       * The input's channels cut into as many equal parts as there are branches, each part through its branch, the outputs concatenated (ShuffleNetV2). Each branch is a layer or a list of layers; [] passes the input through.
       *
       * @minItems 2
       */
      split?: [Layer, Layer, ...Layer[]];
      /**
       * The same layers applied several times in a row, each time with its own weights: {times, layers}.
       */
      repeat?: {
        /**
         * How many times.
         */
        times: number;
        layers: Layer;
      };
      /**
       * Names the output of the entry before it, for feature losses (`- tap: s1`); it adds no layer. A tap reached several times (in a repeat, or a block used more than once) names each output NAME@1, NAME@2, ...
       */
      tap?: string;
    }
  | Layer[];
/**
 * Kernel size: n or [h, w].
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size2 = number | [number, number];
/**
 * Stride: n or [h, w].
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size21 = number | [number, number];
/**
 * Activation applied by the layer itself.
 */
export type ActivationName = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'gelu' | 'elu' | 'softmax';
/**
 * Kernel size: n or [h, w].
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size22 = number | [number, number];
/**
 * Stride: n or [h, w].
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size23 = number | [number, number];
/**
 * Max pooling: size, or {size, strides, padding}.
 */
export type Pool =
  | number
  | {
      size: Size24;
      strides?: Size25;
      /**
       * same or valid.
       */
      padding?: 'same' | 'valid';
    };
/**
 * Window: n or [h, w].
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size24 = number | [number, number];
/**
 * Stride; defaults to the window size.
 *
 * @minItems 2
 * @maxItems 2
 */
export type Size25 = number | [number, number];
/**
 * Average pooling: size, or {size, strides, padding}.
 */
export type Pool1 =
  | number
  | {
      size: Size24;
      strides?: Size25;
      /**
       * same or valid.
       */
      padding?: 'same' | 'valid';
    };
/**
 * Average over height and width.
 */
export type NoArgs = {} | null;
/**
 * Flatten to one dimension per image.
 */
export type NoArgs1 = {} | null;
/**
 * max(0, x).
 */
export type NoArgs2 = {} | null;
/**
 * Logistic sigmoid.
 */
export type NoArgs3 = {} | null;
/**
 * Hyperbolic tangent.
 */
export type NoArgs4 = {} | null;
/**
 * Gaussian error linear unit.
 */
export type NoArgs5 = {} | null;
/**
 * Exponential linear unit.
 */
export type NoArgs6 = {} | null;
/**
 * Softmax over the last axis.
 */
export type NoArgs7 = {} | null;
/**
 * Defaults to kd when a teacher is given, crossEntropy otherwise. A list of terms is their weighted sum.
 *
 * @minItems 1
 */
export type Loss =
  | string
  | {
      /**
       * Softmax cross-entropy with the labels.
       */
      crossEntropy?: {
        /**
         * Label smoothing, as in PyTorch.
         */
        labelSmoothing?: number;
      };
      /**
       * Hinton distillation: alpha * KL(softmax(t/T) || softmax(s/T)) * T^2 + (1 - alpha) * cross-entropy.
       */
      kd?: {
        /**
         * Softening temperature T.
         */
        temperature?: number;
        /**
         * Weight of the soft (teacher) term.
         */
        alpha?: number;
      };
      /**
       * Decoupled knowledge distillation (Zhao et al. 2022, as mdistiller): ceWeight * cross-entropy + alpha * TCKD + beta * NCKD, where TCKD is the KL divergence of the teacher's and student's target/non-target probabilities and NCKD that of their distributions over the non-target classes, both at temperature T and times T^2. Defaults are mdistiller's; its linear warm-up of the DKD term (20 epochs) needs a list of terms: [crossEntropy, {dkd: {weight: {value: 1, warmup: 20}}}].
       */
      dkd?: {
        /**
         * Weight of the cross-entropy with the labels next to the distillation term (mdistiller's CE_WEIGHT).
         */
        ceWeight?: number;
        /**
         * Weight of the target-class term TCKD.
         */
        alpha?: number;
        /**
         * Weight of the non-target-class term NCKD.
         */
        beta?: number;
        /**
         * Softening temperature T.
         */
        temperature?: number;
      };
      /**
       * DIST (Huang et al. 2022): ceWeight * cross-entropy + T^2 * (beta * inter-class + gamma * intra-class relation loss), each 1 - the mean Pearson correlation of the student's and teacher's softmax(logits / T): per example across classes (inter), per class across the batch (intra). Defaults are torchdistill's (mdistiller has no DIST).
       */
      dist?: {
        /**
         * Weight of the cross-entropy with the labels next to the distillation term (mdistiller's CE_WEIGHT).
         */
        ceWeight?: number;
        /**
         * Weight of the inter-class relation loss.
         */
        beta?: number;
        /**
         * Weight of the intra-class relation loss.
         */
        gamma?: number;
        /**
         * Softening temperature T.
         */
        temperature?: number;
      };
    }
  | [LossTerm, ...LossTerm[]];
/**
 * One term of a weighted loss list: {name: {weight, ...its options}}, or a bare name (weight 1). Logit terms: crossEntropy, kd, dkd, dist (their distillation term alone: the list's crossEntropy carries the labels); feature terms compare tapped outputs: hint, attention, rkd, similarity, pkt.
 */
export type LossTerm =
  | string
  | {
      /**
       * Softmax cross-entropy with the labels.
       */
      crossEntropy?: {
        weight?: LossWeight;
        /**
         * Label smoothing, as in PyTorch.
         */
        labelSmoothing?: number;
      };
      /**
       * Hinton's distillation term alone: KL(softmax(t/T) || softmax(s/T)) * T^2.
       */
      kd?: {
        weight?: LossWeight1;
        /**
         * Softening temperature T.
         */
        temperature?: number;
      };
      /**
       * Decoupled KD's term alone: alpha * TCKD + beta * NCKD (mdistiller's dkd_loss). mdistiller warms its weight up over 20 epochs: weight: {value: 1, warmup: 20}.
       */
      dkd?: {
        weight?: LossWeight2;
        /**
         * Weight of the target-class term TCKD.
         */
        alpha?: number;
        /**
         * Weight of the non-target-class term NCKD.
         */
        beta?: number;
        /**
         * Softening temperature T.
         */
        temperature?: number;
      };
      /**
       * DIST's term alone: T^2 * (beta * inter-class + gamma * intra-class relation loss).
       */
      dist?: {
        weight?: LossWeight3;
        /**
         * Weight of the inter-class relation loss.
         */
        beta?: number;
        /**
         * Weight of the intra-class relation loss.
         */
        gamma?: number;
        /**
         * Softening temperature T.
         */
        temperature?: number;
      };
      /**
       * FitNets: mean squared error between the teacher's tap and the student's, mapped to the teacher's channels by a learned regressor (a 1x1 convolution, or a dense layer for flat features) trained with the student and left out of the saved model. mdistiller's weight: 100.
       */
      hint?: {
        weight?: LossWeight4;
        pairs: TapPairs;
        /**
         * Map the student's tap to the teacher's channels with a learned regressor; without it the shapes must be equal.
         */
        regressor?: boolean;
      };
      /**
       * Attention transfer (AT, Zagoruyko & Komodakis): mean squared difference of the L2-normalised channel means of f^p; the larger map is average-pooled to the smaller. mdistiller's weight: 1000.
       */
      attention?: {
        weight?: LossWeight5;
        pairs: TapPairs1;
        /**
         * The power p of f^p.
         */
        p?: number;
      };
      /**
       * Relational KD (Park et al.): distances and angles between the batch's embeddings (each tap flattened). mdistiller's weight: 1.
       */
      rkd?: {
        weight?: LossWeight6;
        pairs: TapPairs2;
        /**
         * Weight of the distance term.
         */
        distanceWeight?: number;
        /**
         * Weight of the angle term.
         */
        angleWeight?: number;
      };
      /**
       * Similarity-preserving KD (SP, Tung & Mori): row-normalised batch Gram matrices. mdistiller's weight: 3000.
       */
      similarity?: {
        weight?: LossWeight7;
        pairs: TapPairs3;
      };
      /**
       * Probabilistic knowledge transfer (PKT, Passalis & Tefas): KL divergence between cosine-similarity distributions. mdistiller's weight: 30000.
       */
      pkt?: {
        weight?: LossWeight8;
        pairs: TapPairs4;
      };
    };
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight1 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight2 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight3 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight4 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * [student tap, teacher tap] pairs; with the regressor their spatial sizes must be equal.
 *
 * @minItems 1
 */
export type TapPairs = [[string, string], ...[string, string][]];
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight5 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * [student tap, teacher tap] pairs of [h, w, c] maps; the channels may differ, one size must be a whole multiple of the other.
 *
 * @minItems 1
 */
export type TapPairs1 = [[string, string], ...[string, string][]];
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight6 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * [student tap, teacher tap] pairs; any shapes.
 *
 * @minItems 1
 */
export type TapPairs2 = [[string, string], ...[string, string][]];
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight7 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * [student tap, teacher tap] pairs; any shapes.
 *
 * @minItems 1
 */
export type TapPairs3 = [[string, string], ...[string, string][]];
/**
 * Weight of this term in the sum: a number, or {value, warmup}.
 */
export type LossWeight8 =
  | number
  | {
      /**
       * The weight once warmed up.
       */
      value?: number;
      /**
       * Epochs over which the weight grows linearly to value: value * min(epoch / warmup, 1), epochs counted from 1 (as mdistiller).
       */
      warmup: number;
    };
/**
 * [student tap, teacher tap] pairs; any shapes.
 *
 * @minItems 1
 */
export type TapPairs4 = [[string, string], ...[string, string][]];

/**
 * One knowledge-distillation experiment: models as layer lists, the data, the optimizer and a DAG of stages. Run it with `kdx run FILE`.
 */
export interface KdxExperiment {
  /**
   * Path or URL of this schema, for editors.
   */
  $schema?: string;
  /**
   * A file (relative to this one) this file starts from: its keys are merged under this file's, mappings key by key, any other value replaced.
   */
  extends?: string;
  /**
   * Name of the experiment, used in run directory names. Defaults to the file's name without extension.
   */
  name?: string;
  /**
   * Seed of the model initialisation and the data stream (shuffling, augmentation).
   */
  seed?: number;
  /**
   * Train every stage under several seeds and report mean ± std per stage and the KD gain with a 95% interval: a count N (the seeds `seed`, `seed`+1, ..., `seed`+N-1) or a list of seeds. `--seeds N` on the command line overrides it.
   */
  seeds?: number | [number, ...number[]];
  /**
   * Named values that the rest of the file reads as ${name}; sweeps and --set change them. A value that is exactly one ${name} keeps the type of the parameter.
   */
  params?: {
    [k: string]: number | string | boolean | unknown[];
  };
  /**
   * JavaScript or TypeScript modules (paths relative to this file) that register more layers, losses, optimizers, datasets or transforms.
   */
  plugins?: string[];
  /**
   * Where and how the experiment runs.
   */
  runtime?: {
    /**
     * TensorFlow.js backend: auto tries tensorflow on a GPU (tfjs-node-gpu), then webgpu on a hardware adapter, then wasm, then cpu. webgpu by name also takes a software adapter (SwiftShader).
     */
    backend?: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
    /**
     * Data-parallel threads per job: each trains a replica of the model on part of every batch. Results are reproducible for a given thread count (it is part of the job key); the tensorflow backend always uses one (libtensorflow has its own thread pool). --threads overrides it.
     */
    threads?: string | number;
    slurm?: SlurmResources;
  };
  data: Data;
  optimizer?: Optimizer;
  /**
   * Reusable blocks by name: layers with parameters, used in a layer list like a layer, `{basic: {filters: 32, strides: 2}}`.
   */
  blocks?: {
    [k: string]: BlockDefinition;
  };
  /**
   * Architectures by name: each a list of layers and blocks applied in order, or {from: FILE, model: NAME} to import one from another file. Shapes and parameter counts are inferred from the dataset's input shape. A name starts with a letter or _ and holds letters, digits, _ and -.
   */
  models: {
    [k: string]: Model;
  };
  /**
   * The stages to run, by name. A stage trains one model; with `teacher` it distils a finished stage's model into it. A name starts with a letter or _ and holds letters, digits, _ and -.
   */
  stages: {
    [k: string]: Stage;
  };
  /**
   * The default grid of `kdx sweep` (its --grid wins).
   */
  sweep?: {
    /**
     * Key (a params name or a dotted path) -> list of values, or "range(start, stop, step)" (stop excluded, as in Python).
     */
    grid?: {
      /**
       * The values this key takes.
       *
       * @minItems 1
       */
      [k: string]: [unknown, ...unknown[]] | string;
    };
  };
  /**
   * Ignored by kdx: a home for YAML anchors (`x-conv: &conv {kernel: 3, padding: same}`). Only at the top level; anywhere else an x- key is an unknown key.
   *
   * This interface was referenced by `KdxExperiment`'s JSON-Schema definition
   * via the `patternProperty` "^x-".
   */
  [k: string]:
    | {
        [k: string]: unknown;
      }
    | string
    | number
    | [number, ...number[]]
    | {
        [k: string]: number | string | boolean | unknown[];
      }
    | string[]
    | {
        /**
         * TensorFlow.js backend: auto tries tensorflow on a GPU (tfjs-node-gpu), then webgpu on a hardware adapter, then wasm, then cpu. webgpu by name also takes a software adapter (SwiftShader).
         */
        backend?: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
        /**
         * Data-parallel threads per job: each trains a replica of the model on part of every batch. Results are reproducible for a given thread count (it is part of the job key); the tensorflow backend always uses one (libtensorflow has its own thread pool). --threads overrides it.
         */
        threads?: string | number;
        slurm?: SlurmResources;
      }
    | Data
    | Optimizer
    | {
        [k: string]: BlockDefinition;
      }
    | {
        [k: string]: Model;
      }
    | {
        [k: string]: Stage;
      }
    | {
        /**
         * Key (a params name or a dotted path) -> list of values, or "range(start, stop, step)" (stop excluded, as in Python).
         */
        grid?: {
          /**
           * The values this key takes.
           *
           * @minItems 1
           */
          [k: string]: [unknown, ...unknown[]] | string;
        };
      }
    | undefined;
}
/**
 * What each job asks Slurm for under `--executor slurm` (a stage's own `slurm` merges over it key by key). Not part of any job key: where a job runs does not change its result.
 */
export interface SlurmResources {
  /**
   * sbatch --partition: the partition (queue) to run in; default: the cluster's default partition.
   */
  partition?: string;
  /**
   * sbatch --time: the time limit, as Slurm writes it (`30`, `1:00:00`, `1-12:00:00`). A job killed at its limit is failed with Slurm's reason and resumes from its last finished epoch on the next run.
   */
  time?: string;
  /**
   * sbatch --cpus-per-task.
   */
  cpus?: number;
  /**
   * sbatch --mem: memory per node (`4G`, `500M`).
   */
  mem?: string;
  /**
   * sbatch --gres: generic resources, e.g. `gpu:1`.
   */
  gres?: string;
  /**
   * sbatch --account: the account charged.
   */
  account?: string;
  /**
   * sbatch --qos: the quality of service.
   */
  qos?: string;
  /**
   * Further sbatch options, each one argument as on the command line (`--constraint=a100`, `--exclusive`).
   */
  extraArgs?: string[];
}
/**
 * The dataset, its batching and its transforms.
 */
export interface Data {
  /**
   * Registry name: cifar10, cifar100, fashion-mnist, mnist, synthetic, or one a plugin adds.
   */
  dataset: string;
  /**
   * Directory holding the dataset's files, relative to this file (then $KDX_DATA, then the user cache dir are searched).
   */
  root?: string;
  /**
   * The dataset's own options, e.g. synthetic's {shape: [32, 32, 3], classes: 10, train: 2048, test: 512}, or cifar100's {labels: coarse}.
   */
  options?: {};
  /**
   * Images per training step.
   */
  batchSize?: number;
  /**
   * Use only the first N images of a split, for quick runs.
   */
  limit?: {
    /**
     * Training images to use.
     */
    train?: number;
    /**
     * Test images to use.
     */
    test?: number;
  };
  train?: TransformList;
  test?: TransformList1;
}
/**
 * The optimizer of every stage (default adamw, lr 0.001). A stage's own optimizer merges over it key by key; defaults apply after the merge.
 */
export interface Optimizer {
  /**
   * adamw (the default), adam, sgd, or one a plugin adds. A stage that names another optimizer than the experiment starts from that optimizer's defaults, keeping the experiment's lr and schedule.
   */
  name?: string;
  /**
   * Base learning rate (default 0.001).
   */
  lr?: number;
  /**
   * Weight decay (decoupled for adamw; default 0.01 for adamw, 0 otherwise).
   */
  weightDecay?: number;
  /**
   * Adam's (beta1, beta2); default [0.9, 0.999].
   *
   * @minItems 2
   * @maxItems 2
   */
  betas?: [unknown, unknown];
  /**
   * Adam's epsilon; default 1e-8.
   */
  eps?: number;
  /**
   * SGD momentum; default 0.
   */
  momentum?: number;
  /**
   * SGD with Nesterov momentum.
   */
  nesterov?: boolean;
  schedule?: Schedule;
}
/**
 * Learning-rate schedule, evaluated at every step.
 */
export interface Schedule {
  /**
   * constant, step (multiply by gamma every stepSize epochs), multistep (multiply by gamma at each of the milestones) or cosine (to minLr, after optional warmup).
   */
  type: 'constant' | 'step' | 'multistep' | 'cosine';
  /**
   * step: epochs between decays.
   */
  stepSize?: number;
  /**
   * multistep: the epochs (counted from 0, as torch's MultiStepLR) at which the learning rate is multiplied by gamma, e.g. [150, 180, 210].
   *
   * @minItems 1
   */
  milestones?: [number, ...number[]];
  /**
   * step and multistep: factor applied at each decay (default 0.1).
   */
  gamma?: number;
  /**
   * cosine: epochs of linear warmup.
   */
  warmupEpochs?: number;
  /**
   * cosine: final learning rate.
   */
  minLr?: number;
}
/**
 * A reusable block: its parameters, and its layers, which read them as ${name}.
 */
export interface BlockDefinition {
  /**
   * Parameter name -> default value; ~ (null) for a parameter every use must give.
   */
  params?: {
    /**
     * The default value, or ~ when the parameter is required.
     */
    [k: string]: {
      [k: string]: unknown;
    };
  };
  /**
   * The block's layers (checked where the block is used, with its arguments filled in).
   *
   * @minItems 1
   */
  layers: [unknown, ...unknown[]];
}
/**
 * One training job of the DAG.
 */
export interface Stage {
  /**
   * Name of a model under `models` (with `load`: the architecture the loaded weights belong to).
   */
  model: string;
  /**
   * Training epochs.
   */
  epochs?: number;
  /**
   * The stage(s) whose trained models are frozen and distilled into this one: a stage name, or a list of them (an ensemble: their logits are averaged, weighted by `weight`, before the loss).
   */
  teacher?:
    | string
    | [
        (
          | string
          | {
              /**
               * Name of a stage.
               */
              stage: string;
              /**
               * Relative weight of this teacher's logits in the average (normalised over the list); default 1.
               */
              weight?: number;
            }
        ),
        ...(
          | string
          | {
              /**
               * Name of a stage.
               */
              stage: string;
              /**
               * Relative weight of this teacher's logits in the average (normalised over the list); default 1.
               */
              weight?: number;
            }
        )[]
      ];
  /**
   * Use a model trained elsewhere instead of training one: a tfjs model.json (its weight files next to it) or a directory holding one, such as a previous run's runs/<run>/stages/<stage>; relative to this file. Its weights must fit `model`; nothing trains (epochs are 0).
   */
  load?: string;
  /**
   * This stage's own data: a subset of the training split and its own batch size, merged over `data`. The test split is always whole, so stages stay comparable.
   */
  data?: {
    /**
     * Train on part of the training split (after data.limit): the first N images, a seeded random fraction, or chosen classes (the label space stays whole: the model still outputs every class).
     */
    subset?:
      | {
          /**
           * How many images, from the start of the split.
           */
          first: number;
        }
      | {
          /**
           * The share of the split to keep, in (0, 1].
           */
          fraction: number;
          /**
           * Seed of the draw; defaults to the stage's seed.
           */
          seed?: number;
        }
      | {
          /**
           * Class indices to keep.
           *
           * @minItems 1
           *
           * Items: A class index.
           */
          classes: [number, ...number[]];
        };
    /**
     * Images per training step for this stage; defaults to data.batchSize.
     */
    batchSize?: number;
  };
  loss?: Loss;
  optimizer?: Optimizer1;
  /**
   * Stages that must finish before this one (ordering only).
   */
  needs?: string[];
  /**
   * Seed of this stage; defaults to the experiment's.
   */
  seed?: number;
  slurm?: SlurmResources1;
}
/**
 * Merged key by key over the experiment's optimizer: `{momentum: 0.5}` changes only the momentum. Naming another optimizer starts from its defaults plus the experiment's lr and schedule.
 */
export interface Optimizer1 {
  /**
   * adamw (the default), adam, sgd, or one a plugin adds. A stage that names another optimizer than the experiment starts from that optimizer's defaults, keeping the experiment's lr and schedule.
   */
  name?: string;
  /**
   * Base learning rate (default 0.001).
   */
  lr?: number;
  /**
   * Weight decay (decoupled for adamw; default 0.01 for adamw, 0 otherwise).
   */
  weightDecay?: number;
  /**
   * Adam's (beta1, beta2); default [0.9, 0.999].
   *
   * @minItems 2
   * @maxItems 2
   */
  betas?: [unknown, unknown];
  /**
   * Adam's epsilon; default 1e-8.
   */
  eps?: number;
  /**
   * SGD momentum; default 0.
   */
  momentum?: number;
  /**
   * SGD with Nesterov momentum.
   */
  nesterov?: boolean;
  schedule?: Schedule;
}
/**
 * This stage's Slurm resources under `--executor slurm`, merged key by key over runtime.slurm (a teacher may ask for more time or a GPU).
 */
export interface SlurmResources1 {
  /**
   * sbatch --partition: the partition (queue) to run in; default: the cluster's default partition.
   */
  partition?: string;
  /**
   * sbatch --time: the time limit, as Slurm writes it (`30`, `1:00:00`, `1-12:00:00`). A job killed at its limit is failed with Slurm's reason and resumes from its last finished epoch on the next run.
   */
  time?: string;
  /**
   * sbatch --cpus-per-task.
   */
  cpus?: number;
  /**
   * sbatch --mem: memory per node (`4G`, `500M`).
   */
  mem?: string;
  /**
   * sbatch --gres: generic resources, e.g. `gpu:1`.
   */
  gres?: string;
  /**
   * sbatch --account: the account charged.
   */
  account?: string;
  /**
   * sbatch --qos: the quality of service.
   */
  qos?: string;
  /**
   * Further sbatch options, each one argument as on the command line (`--constraint=a100`, `--exclusive`).
   */
  extraArgs?: string[];
}
