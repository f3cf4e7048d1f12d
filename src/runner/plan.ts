// Experiment -> Plan: one job per stage, in execution order, each with a content key that hashes exactly
// what determines its result (src/store/keys.ts). A sweep's plan is the union of its
// trials' jobs, deduplicated by key.
import type { Experiment, StageSpec } from '../config/experiment.js';
import { executionOrder } from '../config/semantics.js';
import type { ModelNode } from '../registry/types.js';
import { jobKey } from '../store/keys.js';
import { registry } from '../registry/index.js';
import { featureTapLayers, featureUse } from './taps.js';
import { worthSharing } from './batch-cost.js';
import { ONE_THREAD, type ThreadPlan } from './threads.js';
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
  /** The teachers' job ids with their (normalised) weights, in the file's order. */
  teachers?: { id: string; weight: number }[];
  /** Ids of every job this one waits for (teacher and needs). */
  dependsOn: string[];
  /** Data-parallel threads that train it (see replicas.ts); part of its key. */
  threads: number;
  /** The thread count the plan was made for (`--threads`): a process that plans again (a worker, a Slurm
   * job, a replica) needs it to find the same keys, also for a job that trains on one thread anyway. */
  plannedThreads: ThreadPlan;
}

export interface Plan {
  jobs: Job[];
}

/** Plans one experiment: its jobs in execution order, labelled by stage (see planTrials for sweeps). */
export function planExperiment(experiment: Experiment, backend: string, threads: ThreadPlan = ONE_THREAD): Plan {
  const byStage = new Map<string, Job>();
  for (const name of executionOrder(experiment.stages)) {
    const stage = experiment.stages[name];
    const teachers = stage.teachers?.map((t) => ({ job: byStage.get(t.stage)!, weight: t.weight }));
    const jobThreads = threadsFor(experiment, stage, threads);
    const key = jobKey({
      experiment,
      stage,
      layers: experiment.models[stage.model],
      backend,
      threads: jobThreads,
      ...(teachers ? { teachers: teachers.map((t) => ({ key: t.job.key, weight: t.weight })) } : {}),
      needKeys: stage.needs.map((need) => byStage.get(need)!.key),
      featureTaps: featureTapLayers(experiment, stage),
    });
    const dependsOn = [...(teachers ?? []).map((t) => t.job.id), ...stage.needs.map((need) => byStage.get(need)!.id)];
    byStage.set(name, {
      key,
      id: shortKey(key),
      label: name,
      stage,
      layers: experiment.models[stage.model],
      experiment,
      ...(teachers ? { teachers: teachers.map((t) => ({ id: t.job.id, weight: t.weight })) } : {}),
      dependsOn: [...new Set(dependsOn)],
      threads: jobThreads,
      plannedThreads: threads,
    });
  }
  return { jobs: [...byStage.values()] };
}

/**
 * The threads a stage trains on: one for a stage that loads its model (nothing trains), whose loss couples
 * the rows of a batch (data-parallel replicas would each see only theirs), whose loss reads taps (feature
 * losses: a live teacher's features and the hint regressors stay on one thread), or, under `auto`, whose
 * batches are too small to share (batch-cost.ts); else the count.
 */
export function threadsFor(experiment: Experiment, stage: StageSpec, threads: ThreadPlan): number {
  if (threads.count === 1 || stage.load) return 1;
  const terms = Array.isArray(stage.loss) ? stage.loss : [stage.loss];
  if (terms.some((term) => registry.losses.get(term.type).batchCoupled)) return 1;
  const taps = featureUse(stage.loss);
  if (taps.student.length + taps.teacher.length + taps.regressors.length > 0) return 1;
  if (threads.auto && !worthSharing(experiment, stage.model, stage.data.batchSize)) return 1;
  return threads.count;
}
