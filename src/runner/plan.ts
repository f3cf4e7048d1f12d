// Experiment -> Plan: one job per stage, in execution order, each with a content key that hashes exactly
// what determines its result (src/store/keys.ts). A sweep's plan is the union of its
// trials' jobs, deduplicated by key.
import type { Experiment, StageSpec } from '../config/experiment.js';
import { executionOrder } from '../config/semantics.js';
import type { ModelNode } from '../registry/types.js';
import { jobKey } from '../store/keys.js';
import { registry } from '../registry/index.js';
import { shortKey } from '../util/hash.js';

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
  /** Data-parallel threads that train it (see replicas.ts); part of its key. */
  threads: number;
}

export interface Plan {
  jobs: Job[];
}

/** Plans one experiment: its jobs in execution order, labelled by stage (see planTrials for sweeps). */
export function planExperiment(experiment: Experiment, backend: string, threads = 1): Plan {
  const byStage = new Map<string, Job>();
  for (const name of executionOrder(experiment.stages)) {
    const stage = experiment.stages[name];
    const teacher = stage.teacher === undefined ? undefined : byStage.get(stage.teacher)!;
    const jobThreads = threadsFor(stage, threads);
    const key = jobKey({
      experiment,
      stage,
      layers: experiment.models[stage.model],
      backend,
      threads: jobThreads,
      teacherKey: teacher?.key,
      needKeys: stage.needs.map((need) => byStage.get(need)!.key),
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
      threads: jobThreads,
    });
  }
  return { jobs: [...byStage.values()] };
}

/**
 * The threads a stage trains on: one for a stage that loads its model (nothing trains) or whose loss
 * couples the rows of a batch (data-parallel replicas would each see only theirs), else `threads`.
 */
export function threadsFor(stage: StageSpec, threads: number): number {
  if (stage.load || registry.losses.get(stage.loss.type).batchCoupled) return 1;
  return threads;
}
