// The contracts of everything a registry holds. Built-ins (src/plugins/) and user plugins implement
// these same interfaces.
import type { Tensor, Scalar, layers } from '@tensorflow/tfjs';

/** A named tensor, as tf.Optimizer's applyGradients/getWeights use (tfjs-core's NamedTensor, which
 * @tensorflow/tfjs does not re-export). */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}
import type { KdxEvent } from '../events.js';

/** Height, width, channels: images are stored and batched channels-last (NHWC). */
export type ImageShape = [number, number, number];

// ---------------------------------------------------------------------------------------------
// Datasets

/** One split of a dataset, held in memory. */
export interface DataSplit {
  /** count * h * w * c values, NHWC; Uint8Array holds 0..255 pixels, Float32Array values already in [0, 1]. */
  images: Uint8Array | Float32Array;
  /** count class indices. */
  labels: Uint8Array;
  count: number;
}

export interface LoadedDataset {
  name: string;
  shape: ImageShape;
  classes: number;
  classNames?: string[];
  train: DataSplit;
  test: DataSplit;
}

/** What a dataset loader gets: where to look, the seed, and a way to report long waits. */
export interface DatasetContext {
  /** `data.root` from the experiment file, if given. */
  root?: string;
  seed: number;
  /** The dataset's own options from the file (`data.options`), e.g. the synthetic shape. */
  options: Record<string, unknown>;
  /** Progress of downloads, unpacking, loading: `task` events. */
  emit: (event: Extract<KdxEvent, { type: 'task' }>) => void;
  signal?: AbortSignal;
}

export interface DatasetFactory {
  description: string;
  /** Known without loading anything, so `kdx plan` can infer shapes before any data is read. */
  inputShape(options: Record<string, unknown>): ImageShape;
  classes(options: Record<string, unknown>): number;
  /** The images in each split, where known without loading (a stage's subset is then checked at
   * `kdx validate`; otherwise when the data is loaded). */
  splitSizes?(options: Record<string, unknown>): { train: number; test: number };
  load(ctx: DatasetContext): Promise<LoadedDataset>;
}

// ---------------------------------------------------------------------------------------------
// Transforms: whole-batch operations on typed arrays, deterministic for a given random stream.

/** A seeded random stream: uniform floats in [0, 1). */
export interface Random {
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
}

export interface Batch {
  /** n * h * w * c floats, NHWC. */
  x: Float32Array;
  n: number;
  shape: ImageShape;
}

export type BatchTransform = (batch: Batch, random: Random) => Batch;

export interface TransformFactory {
  description: string;
  /** Builds the transform from its arguments in the file (already validated by the schema). */
  create(args: Record<string, unknown>, inputShape: ImageShape): BatchTransform;
  /** The shape a batch has after this transform (most keep it). */
  outputShape?(args: Record<string, unknown>, inputShape: ImageShape): ImageShape;
}

// ---------------------------------------------------------------------------------------------
// Layers

/** A layer as written in a file, normalised: `relu` -> {type: 'relu', args: {}}. */
export interface LayerSpec {
  type: string;
  args: Record<string, unknown>;
}

/**
 * A model as the builder takes it: layers, and blocks that branch and merge. A file's short forms, list
 * splices and reusable blocks are already expanded (src/config/models.ts).
 */
export type ModelNode = LayerSpec | ResidualNode | BranchesNode | RepeatNode | BlockUseNode | TapNode;

/** `body(x) + shortcut(x)`, then `after`. */
export interface ResidualNode {
  block: 'residual';
  body: ModelNode[];
  /**
   * auto: x itself when the body keeps the shape, else a 1x1 convolution and batchNorm that match it;
   * identity: x itself; ifSameShape: x itself when the body keeps the shape, else no shortcut at all; or layers.
   */
  shortcut: ShortcutMode | ModelNode[];
  after: ModelNode[];
}

export const shortcutModes = ['auto', 'identity', 'ifSameShape'] as const;
export type ShortcutMode = (typeof shortcutModes)[number];

/** Branches concatenated along the channels: each sees the whole input (concat), or its share of the
 * input's channels (split). */
export interface BranchesNode {
  block: 'concat' | 'split';
  branches: ModelNode[][];
}

export interface RepeatNode {
  block: 'repeat';
  times: number;
  layers: ModelNode[];
}

/** A reusable block of the file used with arguments; `layers` is its expansion. Named in `kdx plan`. */
export interface BlockUseNode {
  block: 'use';
  name: string;
  args: Record<string, unknown>;
  layers: ModelNode[];
}

/**
 * A name for the output of the node before it (`- tap: s1`), for feature losses; it adds no layer and
 * changes nothing the model computes. A tap reached several times (inside a repeat, or a block used more
 * than once) names each output: `s1@1`, `s1@2`, ...
 */
export interface TapNode {
  block: 'tap';
  name: string;
}

/** What a layer factory gets besides its arguments. */
export interface LayerContext {
  /** Seed for this layer's initialisers and randomness (derived from the stage's seed and the layer's index). */
  seed: number;
  /** The shape the layer receives, per image (no batch axis), e.g. [32, 32, 3]: for arguments relative to the
   * input (groups, expand) and for initialisers that depend on fan-in. */
  inputShape: number[];
}

/**
 * A layer whose training-time randomness (dropout masks...) is drawn from its seed and the step, so runs
 * are reproducible and a resumed run equals an uninterrupted one. The training loop calls setStep with
 * the global step (epoch x batches per epoch + batch) before each step.
 */
export interface StepSeeded {
  setStep(step: number): void;
}

export interface LayerFactory {
  description: string;
  /** The argument that the short form `{name: value}` sets (`dense: 512` -> units). */
  shorthand?: string;
  create(args: Record<string, unknown>, ctx: LayerContext): layers.Layer;
}

// ---------------------------------------------------------------------------------------------
// Losses

export interface LossInputs {
  /** [batch, classes] student logits. */
  logits: Tensor;
  /** [batch] int32 class indices. */
  labels: Tensor;
  /** [batch, classes] teacher logits (never receive gradients), for distillation losses. */
  teacherLogits?: Tensor;
  /** The student's tapped outputs by tap name (and a hint regressor's output by `regressorOutput`). */
  features?: Record<string, Tensor>;
  /** The teacher's tapped outputs by tap name, computed in inference mode (never receive gradients). */
  teacherFeatures?: Record<string, Tensor>;
}

export interface LossFactory {
  description: string;
  /** Whether the loss needs a teacher's logits. */
  needsTeacher: boolean;
  /**
   * A feature loss: it compares tapped outputs, named by its `pairs` argument ([student tap, teacher tap]
   * pairs), read from LossInputs.features and teacherFeatures. Written only as a term of a weighted list.
   */
  features?: FeatureLossShapes;
  /**
   * Arguments that reduce the loss to its distillation term alone, for a weighted list of terms, which
   * gives the cross-entropy its own weight (kd: {alpha: 1}; dkd, dist: {ceWeight: 0}).
   */
  asTerm?: Record<string, unknown>;
  create(args: Record<string, unknown>): (inputs: LossInputs) => Scalar;
  /**
   * For a loss made of several terms (KD: `soft` and `hard`): the same loss, with its terms by name, so
   * training can log each (per epoch, for the report's learning curves). The caller owns all the scalars.
   */
  createWithTerms?(args: Record<string, unknown>): (inputs: LossInputs) => { total: Scalar; terms: Record<string, Scalar> };
  /**
   * True for a loss that is not a mean over the rows of a batch (DIST's intra-class relation correlates
   * the whole batch): a stage with it trains on one thread, since data-parallel replicas each hold rows.
   */
  batchCoupled?: boolean;
}

/** How a feature loss's taps must agree, checked when a file is validated (per-example shapes). */
export interface FeatureLossShapes {
  /** Why a student tap of shape `student` cannot be compared with a teacher tap of shape `teacher`. */
  shapeProblem(student: number[], teacher: number[], args: Record<string, unknown>): string | undefined;
  /** Whether the student's side is first mapped to the teacher tap's shape by a learned regressor (hint). */
  regressor?(args: Record<string, unknown>): boolean;
}

// ---------------------------------------------------------------------------------------------
// Optimizers

export interface OptimizerConfig {
  name: string;
  lr: number;
  [option: string]: unknown;
}

/** A stateful optimizer whose state can be checkpointed and restored exactly. */
export interface KdxOptimizer {
  /** Applies one step of gradients (name -> gradient) to the variables they belong to. */
  applyGradients(gradients: NamedTensor[] | Record<string, Tensor>): void;
  setLearningRate(lr: number): void;
  /** State to checkpoint (moments, step count), as named tensors. */
  getWeights(): Promise<NamedTensor[]>;
  setWeights(weights: NamedTensor[]): Promise<void>;
  dispose(): void;
}

export interface OptimizerFactory {
  description: string;
  /** Every option's default (not lr), filled in after a stage's optimizer is merged over the experiment's. */
  defaults?: Record<string, unknown>;
  create(config: OptimizerConfig): KdxOptimizer;
}
