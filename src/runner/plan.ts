// Experiment -> Plan: one job per stage, in execution order, each with a content key that hashes exactly
// what determines its result (see DESIGN.md, "Plan, hashes, cache"). A sweep's plan is the union of its
// trials' jobs, deduplicated by key.
import type { Experiment, StageSpec } from '../config/experiment.js';
import { executionOrder } from '../config/semantics.js';
import type { ModelNode } from '../registry/types.js';
import { contentHash, shortKey } from '../util/hash.js';

/** Bumped whenever a change to kdx changes what a job with the same key would produce. */
export const FORMAT_VERSION = 1;

export interface Job {
  /** Full content hash. */
  key: string;
  /** Short key: the id events use. */
  id: string;
  label: string;
  stage: StageSpec;
  layers: ModelNode[];
  experiment: Experiment;
  /** Id of the teacher's job. */
  teacher?: string;
  /** Ids of every job this one waits for (teacher and needs). */
  dependsOn: string[];
}

export interface Plan {
  jobs: Job[];
}

/** What the data stream of a stage depends on: the dataset (and the seed it is loaded with, which
 * generates synthetic data), its subset, batching, transforms, and the stage's stream seed. */
export function streamSpec(experiment: Experiment, seed: number) {
  const { dataset, options, batchSize, limit, train, test } = experiment.data;
  return { dataset, options, datasetSeed: experiment.seed, batchSize, limit, train, test, seed };
}

/** Plans one experiment: its jobs in execution order, labelled by stage (see planTrials for sweeps). */
export function planExperiment(experiment: Experiment): Plan {
  const byStage = new Map<string, Job>();
  for (const name of executionOrder(experiment.stages)) {
    const stage = experiment.stages[name];
    const teacher = stage.teacher === undefined ? undefined : byStage.get(stage.teacher)!;
    const key = contentHash({
      format: FORMAT_VERSION,
      layers: experiment.models[stage.model],
      epochs: stage.epochs,
      ...(stage.load ? { load: stage.load.hash } : {}),
      loss: stage.loss,
      optimizer: stage.optimizer,
      stream: streamSpec(experiment, stage.seed),
      teacher: teacher?.key,
      // Ordering edges count too (as DESIGN.md has it): otherwise a stage equal to another but for its
      // `needs` would be the same job, and its ordering would be lost.
      needs: stage.needs.map((need) => byStage.get(need)!.key).sort(),
    });
    const dependsOn = [...(teacher ? [teacher.id] : []), ...stage.needs.map((need) => byStage.get(need)!.id)];
    byStage.set(name, {
      key,
      id: shortKey(key),
      label: name,
      stage,
      layers: experiment.models[stage.model],
      experiment,
      ...(teacher ? { teacher: teacher.id } : {}),
      dependsOn: [...new Set(dependsOn)],
    });
  }
  return { jobs: [...byStage.values()] };
}
