// Every key of the store, in one place. A key hashes exactly what determines the bytes stored under it,
// and nothing else (not a stage's name, not the run's name, not params a stage does not read):
//
//   job key     a finished stage: its layers, epochs, loss, optimizer, data stream, teacher's and needs' job
//               keys, the backend, the plugin modules' contents, and kdx's training semantics version;
//   logits key  a teacher's outputs on a student's training stream: the teacher's job key, the stream,
//               and how many epochs of it.
import type { Experiment, StageSpec } from '../config/experiment.js';
import type { ModelNode } from '../registry/types.js';
import { contentHash } from '../util/hash.js';
import { withoutTaps } from '../registry/taps.js';

/**
 * The version of what training computes. Bump it in any change that alters a result for the same file,
 * seed and backend (an initialisation, a kernel, the data stream, a loss), so that no entry trained by
 * older code is ever served as current.
 *
 * 2: seeded dropout (masks from the stage seed and the step); PyTorch's default bias initialisation.
 * 3: the test set is evaluated in batches of data.batchSize (was 256), so test losses change in their last
 *    bits; batchNorm as PyTorch's (running variance unbiased, closed-form gradient); wasm Tile and
 *    depthwise gradient kernels; grouped convolutions.
 * 4: wasm SIMD filter gradients (conv and depthwise: other summation orders) and Mean over leading axes
 *    (batchNorm's batch statistics, summed in doubles).
 * 5: wasm 3x3 stride-1 convolutions (forward, input and filter gradients) by Winograd's algorithm: other
 *    last bits everywhere, teacher logits and evaluations included.
 * 6: wasm strided input gradients (conv and depthwise) by output phase, and 1x1 stride-1 ones as a matrix
 *    product: other summation orders. (The fused batchNorm kernels, Slice and SplitV give the same bytes.)
 */
export const TRAINING_SEMANTICS = 6;

/** What the data stream of a stage depends on: the dataset (and the seed it is loaded with, which
 * generates synthetic data), its limit, the stage's subset and batch size, the transforms, and the
 * stage's stream seed. A stage without a subset hashes as before subsets existed. */
export function streamSpec(experiment: Experiment, stage: StageSpec) {
  const { dataset, options, limit, train, test } = experiment.data;
  const { batchSize, subset } = stage.data;
  // A loaded model trains nothing: no stream seed, so the replicas of a repeated-seeds run share it.
  return { dataset, options, datasetSeed: experiment.seed, batchSize, limit, train, test, ...(stage.load ? {} : { seed: stage.seed }), ...(subset ? { subset } : {}) };
}

export interface JobKeyParts {
  experiment: Experiment;
  stage: StageSpec;
  layers: ModelNode[];
  /** The backend's label (`wasm`, `tensorflow (GPU)`...): the same file trains to other bytes elsewhere. */
  backend: string;
  /** Each teacher's job key with its weight, in the file's order. */
  teachers?: { key: string; weight: number }[];
  needKeys: string[];
  /** Data-parallel threads training the job: sums in another order, so other last bits (1 by default). */
  threads?: number;
  /** For a loss that reads taps: the student's and teacher's layers with those taps, i.e. where they sit. */
  featureTaps?: { student: ModelNode[]; teacher: ModelNode[] };
}

export function jobKey(parts: JobKeyParts): string {
  const { experiment, stage } = parts;
  return contentHash({
    kind: 'job',
    semantics: TRAINING_SEMANTICS,
    backend: parts.backend,
    // One thread adds nothing: a job's one-thread key is the same whatever --threads (and whether auto chose it).
    ...((parts.threads ?? 1) > 1 ? { threads: parts.threads } : {}),
    // A plugin's code shapes its layers, losses or data: editing it must train again.
    plugins: experiment.pluginDigests,
    // Taps only name outputs for the loss (which the key holds): a tapped model trains the same bytes.
    layers: withoutTaps(parts.layers),
    epochs: stage.epochs,
    // A stage that loads a model trained elsewhere: its files (and so every dependant) by their hash.
    ...(stage.load ? { load: stage.load.hash } : {}),
    loss: stage.loss,
    optimizer: stage.optimizer,
    stream: streamSpec(experiment, stage),
    // One teacher hashes as its key alone, as before ensembles existed.
    teacher: parts.teachers?.length === 1 ? parts.teachers[0].key : parts.teachers,
    // Ordering edges count too: otherwise a stage equal to another but for its `needs` would be the same
    // job, and its ordering would be lost.
    needs: [...parts.needKeys].sort(),
    ...(parts.featureTaps ? { featureTaps: parts.featureTaps } : {}),
  });
}

/**
 * Key for teacher logits: they depend on the teacher (its job key, which covers the backend), the data
 * stream that produced the inputs (dataset, transforms, seed, batch order) and which epochs of it — not
 * on T, alpha or the student.
 */
export function logitsKey(parts: { teacher: string; data: unknown; epochs: unknown }): string {
  return contentHash({ kind: 'teacher-logits', semantics: TRAINING_SEMANTICS, teacher: parts.teacher, data: parts.data, epochs: parts.epochs });
}

/** The key of the logits a distilling stage reads from one of its teachers: that teacher's key, the
 * stage's own data stream (subset included) and epochs. */
export function teacherLogitsKey(experiment: Experiment, stage: StageSpec, teacherKey: string): string {
  return logitsKey({ teacher: teacherKey, data: streamSpec(experiment, stage), epochs: stage.epochs });
}
