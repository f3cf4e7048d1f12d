// The validated, typed, normalised experiment the rest of kdx works with. Its raw shape comes from the
// schema (schema-types.ts is generated from it); this module only turns short forms into one form.
import type { KdxExperiment, SlurmResources } from './schema-types.js';
import type { ModelNode, OptimizerConfig } from '../registry/types.js';
import type { BackendName } from '../engine/backend.js';

export type ExperimentFile = KdxExperiment;

/** A named entry written as `name` or `{name: arguments}`, normalised. */
export interface NamedSpec {
  type: string;
  args: Record<string, unknown>;
}

/** A term's weight: a number, or one that grows linearly over the first `warmup` epochs to `value`. */
export type LossWeight = number | { value: number; warmup: number };

/** One term of a weighted loss list; its `args` are its loss's (with `pairs` for a feature loss). */
export interface LossTerm extends NamedSpec {
  weight: LossWeight;
}

/** A stage's loss: one loss as written `{name: arguments}`, or a weighted list of terms, summed. */
export type LossSpec = NamedSpec | LossTerm[];

export interface StageSpec {
  name: string;
  model: string;
  epochs: number;
  /** The stages whose models are distilled into this one; several make an ensemble whose logits are
   * averaged with these weights (normalised to sum to 1, in the file's order). Absent for a stage that distils nothing. */
  teachers?: TeacherRef[];
  /** A model trained elsewhere that this stage loads instead of training (epochs is then 0). */
  load?: { modelJson: string; hash: string };
  loss: LossSpec;
  optimizer: OptimizerConfig;
  /** Ordering edges (not counting the teacher). */
  needs: string[];
  seed: number;
  /** The stage's own training data: a subset of the training split, and its batch size. */
  data: StageData;
}

export interface TeacherRef {
  stage: string;
  weight: number;
}

/** Which part of the training split a stage trains on (the label space is always the dataset's). */
export type SubsetSpec = { first: number } | { fraction: number; seed: number } | { classes: number[] };

export interface StageData {
  batchSize: number;
  subset?: SubsetSpec;
}

export interface DataSpec {
  dataset: string;
  root?: string;
  options: Record<string, unknown>;
  batchSize: number;
  limit?: { train?: number; test?: number };
  train: NamedSpec[];
  test: NamedSpec[];
}

export interface Experiment {
  name: string;
  /** The file it was read from (absolute). */
  file: string;
  /** The `KEY=VALUE` overrides applied to the file, so a worker process can load the same experiment. */
  overrides: string[];
  /** The top-level seed: the dataset's (synthetic data is generated from it) and every stage's default. */
  seed: number;
  /** A repeated-seeds run's seeds (`seeds:`), each the default seed of the stages in one replica. */
  seeds?: number[];
  /** In one replica of a repeated-seeds run: its seed, which the stages without their own use. */
  trainingSeed?: number;
  params: Record<string, unknown>;
  /** Absolute paths of plugin modules. */
  plugins: string[];
  /** sha256 of each plugin module's text, in the order of `plugins`: part of every job key. */
  pluginDigests: string[];
  backend: BackendName;
  /** `runtime.threads`: data-parallel threads per job, resolved when the run starts (runner/threads.ts). */
  threads: 'auto' | number;
  data: DataSpec;
  optimizer: OptimizerConfig;
  /** Each model's layers and blocks, expanded (see src/config/models.ts). */
  models: Record<string, ModelNode[]>;
  stages: Record<string, StageSpec>;
  sweep?: { grid: Record<string, unknown[] | string> };
  /** Each stage's Slurm resources (runtime.slurm, then the stage's own, merged): `--executor slurm` only. */
  slurm: Record<string, SlurmResources>;
}

export type { SlurmResources };

/** `relu` -> {type: relu, args: {}}; `{dense: 512}` -> {type: dense, args: {units: 512}}. */
export function normalizeNamed(entry: unknown, shorthand?: (type: string) => string | undefined): NamedSpec {
  if (typeof entry === 'string') return { type: entry, args: {} };
  const [type, value] = Object.entries(entry as Record<string, unknown>)[0];
  if (value === null || value === undefined) return { type, args: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { type, args: { [shorthand?.(type) ?? 'value']: value } };
  return { type, args: { ...(value as Record<string, unknown>) } };
}

/** The model whose taps a distilling stage's feature losses read: its first teacher's (a stage with
 * feature losses has one teacher; config/feature-checks.ts refuses more). */
export function featureTeacherModel(experiment: Experiment, stage: StageSpec): string {
  return experiment.stages[stage.teachers![0].stage].model;
}
