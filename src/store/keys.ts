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
 */
export const TRAINING_SEMANTICS = 4;

/** What the data stream of a stage depends on: the dataset (and the seed it is loaded with, which
 * generates synthetic data), its subset, batching, transforms, and the stage's stream seed. */
export function streamSpec(experiment: Experiment, seed: number) {
  const { dataset, options, batchSize, limit, train, test } = experiment.data;
  return { dataset, options, datasetSeed: experiment.seed, batchSize, limit, train, test, seed };
}

export interface JobKeyParts {
  experiment: Experiment;
  stage: StageSpec;
  layers: ModelNode[];
  /** The backend's label (`wasm`, `tensorflow (GPU)`...): the same file trains to other bytes elsewhere. */
  backend: string;
  teacherKey?: string;
  needKeys: string[];
}

export function jobKey(parts: JobKeyParts): string {
  const { experiment, stage } = parts;
  return contentHash({
    kind: 'job',
    semantics: TRAINING_SEMANTICS,
    backend: parts.backend,
    // A plugin's code shapes its layers, losses or data: editing it must train again.
    plugins: experiment.pluginDigests,
    layers: parts.layers,
    epochs: stage.epochs,
    // A stage that loads a model trained elsewhere: its files (and so every dependant) by their hash.
    ...(stage.load ? { load: stage.load.hash } : {}),
    loss: stage.loss,
    optimizer: stage.optimizer,
    stream: streamSpec(experiment, stage.seed),
    teacher: parts.teacherKey,
    // Ordering edges count too: otherwise a stage equal to another but for its `needs` would be the same
    // job, and its ordering would be lost.
    needs: [...parts.needKeys].sort(),
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

/** The key of the logits a distilling stage reads: its teacher's key, its own data stream and epochs. */
export function teacherLogitsKey(experiment: Experiment, stage: StageSpec, teacherKey: string): string {
  return logitsKey({ teacher: teacherKey, data: streamSpec(experiment, stage.seed), epochs: stage.epochs });
}
