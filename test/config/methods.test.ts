// experiments/methods/: one example per KD method on mdistiller's resnet32x4 -> resnet8x4, each validating
// and planning, with mdistiller's weights, its taps where mdistiller takes its features, and the teacher
// and plain student shared by every file (the same job keys: trained once for all methods).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { datasetShape, loadExperiment } from '../../src/config/load.js';
import { describeModel } from '../../src/registry/model.js';
import { formatPlan } from '../../src/commands/plan.js';
import { planExperiment } from '../../src/runner/plan.js';
import type { LossSpec } from '../../src/config/experiment.js';
import { repoRoot } from '../e2e/support.js';

const dir = join(repoRoot, 'experiments', 'methods');

/** Each method's loss as written in its file: [term, weight, arguments without defaults]. */
const expected: Record<string, [string, unknown, Record<string, unknown>][]> = {
  kd: [['crossEntropy', 0.1, {}], ['kd', 0.9, { temperature: 4 }]],
  dkd: [['crossEntropy', 1, {}], ['dkd', { value: 1, warmup: 20 }, { alpha: 1, beta: 8, temperature: 4 }]],
  dist: [['crossEntropy', 1, {}], ['dist', 1, { beta: 1, gamma: 1, temperature: 1 }]],
  hint: [['crossEntropy', 1, {}], ['hint', 100, { pairs: [['feat2', 'feat2']] }]],
  attention: [['crossEntropy', 1, {}], ['attention', 1000, { p: 2, pairs: [['feat1', 'feat1'], ['feat2', 'feat2'], ['feat3', 'feat3']] }]],
  rkd: [['crossEntropy', 1, {}], ['rkd', 1, { distanceWeight: 25, angleWeight: 50, pairs: [['pooled', 'pooled']] }]],
  similarity: [['crossEntropy', 1, {}], ['similarity', 3000, { pairs: [['feat3', 'feat3']] }]],
  pkt: [['crossEntropy', 1, {}], ['pkt', 30000, { pairs: [['pooled', 'pooled']] }]],
};

test('there is one example per method', () => {
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort(), Object.keys(expected).map((m) => `${m}.yaml`).sort());
});

test('every method example validates, plans, uses mdistiller\'s weights, and shares its teacher and student jobs', async () => {
  const shared = new Set<string>();
  for (const [method, terms] of Object.entries(expected)) {
    const { experiment } = await loadExperiment(join(dir, `${method}.yaml`));
    const loss = experiment.stages[method]!.loss as Exclude<LossSpec, { type: string }>;
    assert.deepEqual(loss.map((t) => [t.type, t.weight]), terms.map(([type, weight]) => [type, weight]), method);
    terms.forEach(([, , args], i) => {
      for (const [key, value] of Object.entries(args)) assert.deepEqual(loss[i]!.args[key], value, `${method}: ${key}`);
    });
    const plan = formatPlan(experiment, 'wasm', () => false);
    assert.match(plan, new RegExp(`${method}\\s+student\\s+240\\s+(0\\.1|1)\\*crossEntropy`), method);
    assert.match(plan, /tap feat2\s+16x16x128/, 'the plan shows the student\'s taps with their shapes');
    const jobs = planExperiment(experiment, 'wasm').jobs;
    for (const job of jobs.filter((j) => j.stage.name !== method)) shared.add(`${job.stage.name} ${job.key}`);
  }
  assert.equal(shared.size, 2, `the teacher and the plain student have one key each across the files: ${[...shared].join(', ')}`);
});

test('every zoo model is tapped where mdistiller takes its features: feat0 to feat3 by stage, and pooled', async () => {
  for (const file of readdirSync(join(repoRoot, 'experiments', 'models')).filter((f) => f.endsWith('.yaml'))) {
    const { experiment } = await loadExperiment(join(repoRoot, 'experiments', 'models', file));
    const { inputShape } = datasetShape(experiment);
    for (const [name, layers] of Object.entries(experiment.models)) {
      const { tapShapes } = describeModel(name, layers, inputShape);
      for (const tap of ['feat0', 'feat1', 'feat2', 'feat3']) assert.equal(tapShapes[tap]?.length, 3, `${file} ${name} ${tap}`);
      assert.equal(tapShapes.pooled?.length, 1, `${file} ${name} pooled`);
      // Stage by stage the maps get no larger.
      const sizes = ['feat1', 'feat2', 'feat3'].map((t) => tapShapes[t]![0]!);
      assert.ok(sizes[0]! >= sizes[1]! && sizes[1]! >= sizes[2]!, `${file} ${name}: ${sizes}`);
    }
  }
});
