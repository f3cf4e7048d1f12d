// The examples of several teachers and of students on a data subset (experiments/ensemble.yaml,
// experiments/cifar10-subset.yaml) validate and plan as they say; test/e2e/methods.test.ts trains them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadExperiment } from '../../src/config/load.js';
import { formatPlan } from '../../src/commands/plan.js';
import { planExperiment } from '../../src/runner/plan.js';
import { repo } from './support.js';

const example = (name: string) => join(repo, 'experiments', name);

test('experiments/ensemble.yaml: a student distilled from two teachers, equal weights, both dependencies', async () => {
  const { experiment } = await loadExperiment(example('ensemble.yaml'));
  assert.deepEqual(experiment.stages.kd_ensemble.teachers, [{ stage: 'teacher', weight: 0.5 }, { stage: 'teacher_b', weight: 0.5 }]);
  assert.deepEqual(experiment.stages.kd_ensemble.data, experiment.stages.kd_student.data, 'the same students\' data as quick.yaml');
  const jobs = Object.fromEntries(planExperiment(experiment, 'wasm').jobs.map((job) => [job.stage.name, job]));
  assert.deepEqual(jobs.kd_ensemble.dependsOn, [jobs.teacher.id, jobs.teacher_b.id]);
  const plan = formatPlan(experiment, 'wasm', () => false);
  assert.match(plan, /^ {2}teacher -> kd_ensemble {2}\(teacher, weight 0\.5\)$/m);
  assert.match(plan, /^ {2}teacher_b -> kd_ensemble {2}\(teacher, weight 0\.5\)$/m);
  assert.match(plan, /^ +5 +kd_ensemble +student +50 +kd\(temperature=4, alpha=0\.9\) +\w{12} +- +5% \(seed 0\), batch 16$/m);
});

test('experiments/cifar10-subset.yaml: students on 10% of CIFAR-10 under seeds 0-2, the teacher on all of it, once', async () => {
  const { experiment } = await loadExperiment(example('cifar10-subset.yaml'));
  assert.deepEqual(experiment.seeds, [0, 1, 2]);
  assert.deepEqual(experiment.stages.student.data.subset, { fraction: 0.1, seed: 0 });
  assert.deepEqual(experiment.stages.kd_student.data.subset, { fraction: 0.1, seed: 0 });
  assert.equal(experiment.stages.teacher.data.subset, undefined);
  const replica = (await loadExperiment(example('cifar10-subset.yaml'), { trainingSeed: 2 })).experiment;
  assert.deepEqual(replica.stages.kd_student.data.subset, { fraction: 0.1, seed: 2 }, 'each seed draws its own 10%');
  const key = (e: typeof experiment, stage: string) => planExperiment(e, 'wasm').jobs.find((j) => j.stage.name === stage)!.key;
  assert.equal(key(replica, 'teacher'), key(experiment, 'teacher'), 'the teacher has its own seed: one job for every seed');
  assert.notEqual(key(replica, 'kd_student'), key(experiment, 'kd_student'));
  const plan = formatPlan(experiment, 'wasm', () => false);
  assert.match(plan, /^Seeds 0, 1, 2: /m);
  assert.match(plan, /^ +3 +kd_student +student +10 +kd\(temperature=4, alpha=0\.7\) +\w{12} +- +10% \(seed 0\)$/m);
});
