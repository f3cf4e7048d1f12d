// A stage's loss as a weighted list of terms (src/runner/stage-loss.ts): every loss of the PyTorch fixture
// through its registered factory as a term (value and gradient), a composed loss equal to the weighted
// sum of its terms computed directly, and the warm-up of a term's weight.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Scalar, Tensor } from '../../src/engine/tf.js';
import { ensureBuiltins } from '../../src/plugins/builtin.js';
import { attentionLoss, dkdLoss, hintLoss } from '../../src/losses/index.js';
import { crossEntropy, kdLossParts } from '../../src/plugins/losses.js';
import { stageLoss, termNames, termWeight } from '../../src/runner/stage-loss.js';
import type { LossTerm } from '../../src/config/experiment.js';

interface FixtureCase {
  loss: string;
  options: Record<string, number>;
  value: number;
  studentLogits?: number[];
  teacherLogits?: number[];
  labels?: number[];
  shape?: [number, number];
  gradStudentLogits?: number[];
  studentFeatures?: number[];
  teacherFeatures?: number[];
  studentShape?: number[];
  teacherShape?: number[];
  gradStudentFeatures?: number[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/kd_losses_reference.json', import.meta.url), 'utf8')) as { cases: FixtureCase[] };

/** 1e-4 relative, with the gradient's near-zero entries judged against its largest (as kd-losses.test.ts). */
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, atolOfLargest = 0): boolean {
  let largest = 0;
  for (let i = 0; i < expected.length; i++) largest = Math.max(largest, Math.abs(expected[i]!));
  const atol = atolOfLargest * largest;
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= 1e-4 * Math.abs(expected[i]!) + atol)) return false;
  }
  return actual.length === expected.length;
}

const value = (x: Tensor) => x.dataSync()[0]!;

before(async () => {
  await selectBackend('cpu');
  await ensureBuiltins();
});

describe('every fixture loss as a term of a list, through its registered factory', () => {
  for (const c of fixture.cases) {
    test(`${c.loss} ${JSON.stringify(c.options)}`, () => {
      // As a term: its distillation part alone (dkd and dist without their cross-entropy), weight 1.
      const feature = c.studentFeatures !== undefined;
      const args = feature ? { ...c.options, pairs: [['s', 't']], ...(c.loss === 'hint' ? { regressor: false } : {}) } : c.options;
      const loss = stageLoss([{ type: c.loss, args, weight: 1 }])(0);
      const labels = tf.tensor1d(c.labels ?? [0], 'int32');
      const teacher = feature ? tf.tensor(c.teacherFeatures!, c.teacherShape) : tf.tensor2d(c.teacherLogits!, c.shape);
      const student = feature ? tf.tensor(c.studentFeatures!, c.studentShape) : tf.tensor2d(c.studentLogits!, c.shape);
      const of = (s: Tensor) =>
        loss(feature
          ? { logits: tf.zeros([s.shape[0]!, 2]), labels, features: { s }, teacherFeatures: { t: teacher } }
          : { logits: s, labels, teacherLogits: teacher }).total;
      const { value: total, grad } = tf.valueAndGrad((s: Tensor) => of(s) as Scalar)(student);
      assert.ok(close([value(total)], [c.value]), `value ${value(total)}, PyTorch ${c.value}`);
      assert.ok(close(grad.dataSync(), (feature ? c.gradStudentFeatures : c.gradStudentLogits)!, 1e-5), 'gradient');
      tf.dispose([labels, teacher, student, total, grad]);
    });
  }
});

describe('a composed loss', () => {
  const batch = 6;
  const classes = 5;
  const make = () => {
    const random = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    return {
      logits: random([batch, classes], 1),
      teacherLogits: random([batch, classes], 2),
      labels: tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32'),
      features: { s1: tf.relu(random([batch, 8, 8, 3], 3)), s2: tf.relu(random([batch, 4, 4, 6], 4)), 's2>t2': random([batch, 4, 4, 8], 5) },
      teacherFeatures: { t1: tf.relu(random([batch, 8, 8, 4], 6)), t2: tf.relu(random([batch, 4, 4, 8], 7)) },
    };
  };
  const terms: LossTerm[] = [
    { type: 'crossEntropy', args: { labelSmoothing: 0.1 }, weight: 0.1 },
    { type: 'kd', args: { temperature: 4 }, weight: 0.9 },
    { type: 'attention', args: { p: 2, pairs: [['s1', 't1'], ['s2', 't2']] }, weight: 1000 },
    { type: 'hint', args: { regressor: true, pairs: [['s2', 't2']] }, weight: 100 },
    { type: 'dkd', args: { alpha: 1, beta: 8, temperature: 4 }, weight: { value: 2, warmup: 4 } },
  ];

  for (const epoch of [0, 2, 7]) {
    test(`equals the weighted sum of its terms, each computed on its own (epoch ${epoch + 1})`, () => {
      const inputs = make();
      const { logits, teacherLogits, labels, features: f, teacherFeatures: t } = inputs;
      const dkdWeight = 2 * Math.min((epoch + 1) / 4, 1);
      const expected = {
        crossEntropy: 0.1 * value(crossEntropy(logits, labels, 0.1)),
        kd: 0.9 * value(kdLossParts(logits, teacherLogits, labels, { temperature: 4, alpha: 1 }).soft),
        attention: 1000 * (value(attentionLoss(f.s1, t.t1, { p: 2 })) + value(attentionLoss(f.s2, t.t2, { p: 2 }))),
        hint: 100 * value(hintLoss(f['s2>t2'], t.t2)),
        dkd: dkdWeight * value(dkdLoss(logits, teacherLogits, labels, { alpha: 1, beta: 8, temperature: 4 })),
      };
      const { total, terms: parts } = stageLoss(terms)(epoch)(inputs);
      const got = Object.fromEntries(Object.entries(parts!).map(([name, v]) => [name, value(v)]));
      assert.deepEqual(Object.keys(got), Object.keys(expected));
      for (const name of Object.keys(expected) as (keyof typeof expected)[]) {
        assert.ok(close([got[name]!], [expected[name]]), `${name}: ${got[name]} vs ${expected[name]}`);
      }
      const sum = Object.values(expected).reduce((a, b) => a + b, 0);
      assert.ok(close([value(total)], [sum]), `total ${value(total)} vs ${sum}`);
      assert.ok(close([value(total)], [Object.values(got).reduce((a, b) => a + b, 0)]), 'the logged terms add up to the total');
      assert.ok(expected.attention > 0 && expected.hint > 0 && expected.dkd > 0, 'every term counts');
    });
  }

  test('a teacher tap the forward pass did not give is a clear error', () => {
    const inputs = make();
    const loss = stageLoss([{ type: 'attention', args: { pairs: [['s1', 'nope']] }, weight: 1 }])(0);
    assert.throws(() => loss(inputs), /attention needs the teacher's tap "nope"/);
  });
});

describe('term weights and names', () => {
  test('a warm-up grows the weight linearly over its epochs, as mdistiller (epochs from 1), then holds', () => {
    const warm = { value: 8, warmup: 20 };
    assert.deepEqual([0, 1, 9, 18, 19, 20, 200].map((e) => termWeight(warm, e)), [0.4, 0.8, 4, 7.6, 8, 8, 8]);
    assert.equal(termWeight(0.5, 100), 0.5);
  });

  test('terms are named by their loss, numbered from the second of the same loss', () => {
    assert.deepEqual(termNames([{ type: 'crossEntropy' }, { type: 'kd' }, { type: 'kd' }, { type: 'attention' }, { type: 'kd' }]), [
      'crossEntropy', 'kd', 'kd_2', 'attention', 'kd_3',
    ]);
  });
});
