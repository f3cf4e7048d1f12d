// The KD losses of src/losses/ against PyTorch: value and gradient w.r.t. the student input for every case
// of test/fixtures/kd_losses_reference.json (PyTorch float64, made by make_loss_fixtures.py and copied into
// the repository; features NHWC), in float32 on the cpu and wasm backends. Then what the fixture does not
// cover: the teacher gets no gradient, shape rules, pooled attention maps, a batch of one, the registered
// dkd and dist losses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Tensor, Scalar } from '../../src/engine/tf.js';
import {
  attentionLoss,
  attentionShapeProblem,
  distLoss,
  DIST_DEFAULTS,
  dkdLoss,
  DKD_DEFAULTS,
  featureLosses,
  hintLoss,
  hintShapeProblem,
  pktLoss,
  rkdLoss,
  RKD_DEFAULTS,
  similarityLoss,
} from '../../src/losses/index.js';
import { builtinLosses, crossEntropy } from '../../src/plugins/losses.js';

interface LogitCase {
  loss: 'dkd' | 'dist';
  options: Record<string, number>;
  studentLogits: number[];
  teacherLogits: number[];
  labels: number[];
  shape: [number, number];
  value: number;
  gradStudentLogits: number[];
}

interface FeatureCase {
  loss: 'attention' | 'rkd' | 'similarity' | 'pkt' | 'hint';
  options: Record<string, number>;
  studentFeatures: number[];
  teacherFeatures: number[];
  studentShape: number[];
  teacherShape: number[];
  value: number;
  gradStudentFeatures: number[];
}

type Case = LogitCase | FeatureCase;

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/kd_losses_reference.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

/** The tolerance: 1e-4 relative, in float32. */
const RTOL = 1e-4;
/**
 * The absolute floor for gradient entries near zero, as a fraction of the gradient's largest entry:
 * |actual - expected| <= RTOL * |expected| + GRAD_ATOL * max|expected| (numpy's allclose, atol scaled to the
 * gradient). The relational losses' gradients (pkt, rkd, similarity) are small differences of nearly equal
 * float32 quantities: replaying pkt's backward pass in numpy, float32 rounding at any single step costs up
 * to 6e-7 of the largest entry and all steps together ~2e-6, whatever the backend; on small entries that is
 * far above 1e-4 relative. 1e-5 of the largest entry leaves a 5x margin over that and stays 100x below
 * any real mistake in a formula (those move entries by a fair fraction of the largest).
 */
const GRAD_ATOL = 1e-5;

/** max_i |actual_i - expected_i| / (|expected_i| + atol / RTOL): <= RTOL means within tolerance. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 0): number {
  assert.equal(actual.length, expected.length, 'length');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isFinite(actual[i]!)) return Infinity;
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / (Math.abs(expected[i]!) + atol / RTOL));
  }
  return worst;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

/** A fixture case as tensors, and its loss as a function of the student and teacher inputs (labels fixed). */
function lossOfCase(c: Case): { student: Tensor; teacher: Tensor; labels?: Tensor; loss: (student: Tensor, teacher: Tensor) => Scalar; expectedGrad: number[] } {
  if ('shape' in c) {
    const labels = tf.tensor1d(c.labels, 'int32');
    const options = c.options as unknown as { alpha: number; beta: number; gamma: number; temperature: number };
    return {
      student: tf.tensor2d(c.studentLogits, c.shape),
      teacher: tf.tensor2d(c.teacherLogits, c.shape),
      labels,
      loss: c.loss === 'dkd' ? (s, t) => dkdLoss(s, t, labels, options) : (s, t) => distLoss(s, t, options),
      expectedGrad: c.gradStudentLogits,
    };
  }
  const compute = featureLosses[c.loss]!.compute;
  return {
    student: tf.tensor(c.studentFeatures, c.studentShape),
    teacher: tf.tensor(c.teacherFeatures, c.teacherShape),
    loss: (s, t) => compute(s, t, c.options),
    expectedGrad: c.gradStudentFeatures,
  };
}

function describeCase(c: Case): string {
  const shapes = 'shape' in c ? `[${c.shape}]` : `student [${c.studentShape}], teacher [${c.teacherShape}]`;
  return `${c.loss} ${JSON.stringify(c.options)} ${shapes}`;
}

const BACKENDS = ['cpu', 'wasm'] as const;

test('the fixture covers every loss', () => {
  assert.deepEqual(
    [...new Set(fixture.cases.map((c) => c.loss))].sort(),
    ['attention', 'dist', 'dkd', 'hint', 'pkt', 'rkd', 'similarity'],
  );
  assert.equal(fixture.cases.length, 13);
});

for (const backend of BACKENDS) {
  describe(`the losses match PyTorch on ${backend}`, () => {
    before(async () => {
      const info = await selectBackend(backend);
      assert.equal(info.name, backend);
    });
    const worst: Record<string, { value: number; grad: number; gradRelative: number; gradAbsolute: number }> = {};
    after(() => {
      // The largest errors per loss, for the record (`node --test` prints diagnostics).
      for (const [loss, e] of Object.entries(worst)) {
        console.log(
          `# ${backend} ${loss}: value ${e.value.toExponential(1)}; gradient ${e.grad.toExponential(1)} (allclose), ` +
            `${e.gradRelative.toExponential(1)} on entries above 1% of the largest, ${e.gradAbsolute.toExponential(1)} of the largest at most`,
        );
      }
    });

    for (const c of fixture.cases) {
      test(describeCase(c), () => {
        const { student, teacher, labels, loss, expectedGrad } = lossOfCase(c);
        const before = tf.memory().numTensors;
        const { value, grad } = tf.valueAndGrad((s: Tensor) => loss(s, teacher))(student);
        const valueError = relativeError(value.dataSync(), [c.value]);
        const gradient = grad.dataSync();
        const largest = maxAbs(expectedGrad);
        const gradError = relativeError(gradient, expectedGrad, GRAD_ATOL * largest);
        const large = [...expectedGrad.keys()].filter((i) => Math.abs(expectedGrad[i]!) >= 0.01 * largest);
        const gradRelative = relativeError(large.map((i) => gradient[i]!), large.map((i) => expectedGrad[i]!));
        const gradAbsolute = maxAbs(expectedGrad.map((e, i) => gradient[i]! - e)) / largest;
        tf.dispose([value, grad]);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
        tf.dispose([student, teacher, ...(labels ? [labels] : [])]);

        const w = (worst[c.loss] ??= { value: 0, grad: 0, gradRelative: 0, gradAbsolute: 0 });
        w.value = Math.max(w.value, valueError);
        w.grad = Math.max(w.grad, gradError);
        w.gradRelative = Math.max(w.gradRelative, gradRelative);
        w.gradAbsolute = Math.max(w.gradAbsolute, gradAbsolute);
        assert.ok(valueError <= RTOL, `value: relative error ${valueError.toExponential(2)} > ${RTOL}`);
        assert.ok(gradError <= RTOL, `gradient: relative error ${gradError.toExponential(2)} > ${RTOL}`);
        // The gradient is not trivially small: the comparison above means something.
        assert.ok(largest > 1e-6);
      });
    }
  });
}

describe('beyond the fixture (cpu)', () => {
  before(async () => {
    await selectBackend('cpu');
  });

  test('no loss sends a gradient to the teacher input', () => {
    for (const c of fixture.cases) {
      const { student, teacher, labels, loss, expectedGrad } = lossOfCase(c);
      const [gradStudent, gradTeacher] = tf.grads(loss)([student, teacher]);
      assert.ok(relativeError(gradStudent!.dataSync(), expectedGrad, GRAD_ATOL * maxAbs(expectedGrad)) <= RTOL, c.loss);
      assert.equal(maxAbs(gradTeacher!.dataSync()), 0, `${c.loss}: teacher gradient`);
      tf.dispose([gradStudent!, gradTeacher!, student, teacher, ...(labels ? [labels] : [])]);
    }
  });

  test('shape rules: hint needs equal shapes, attention corresponding positions, relational losses anything', () => {
    assert.equal(hintShapeProblem([4, 4, 16], [4, 4, 16]), undefined);
    assert.match(hintShapeProblem([4, 4, 8], [4, 4, 16])!, /same shape .*regressor/);
    assert.equal(attentionShapeProblem([6, 6, 4], [6, 6, 8]), undefined);
    assert.equal(attentionShapeProblem([8, 8, 4], [4, 2, 8]), undefined);
    assert.equal(attentionShapeProblem([2, 4, 4], [4, 8, 8]), undefined);
    assert.match(attentionShapeProblem([6, 6, 4], [4, 4, 4])!, /whole multiple/);
    assert.match(attentionShapeProblem([8, 2, 4], [4, 4, 4])!, /whole multiple/);
    assert.match(attentionShapeProblem([36, 4], [36, 8])!, /\[height, width, channels\]/);
    for (const name of ['rkd', 'similarity', 'pkt']) assert.equal(featureLosses[name]!.shapeProblem([6, 6, 4], [10]), undefined);

    const a = tf.ones([2, 4, 4, 3]);
    const b = tf.ones([2, 4, 4, 5]);
    const c = tf.ones([3, 4, 4, 3]);
    assert.throws(() => hintLoss(a, b), /hint: hint compares features of the same shape/);
    assert.throws(() => attentionLoss(a, tf.ones([2, 3, 3, 3]), { p: 2 }), /attention: .*whole multiple/);
    assert.throws(() => similarityLoss(a, c), /different batch sizes/);
    assert.throws(() => pktLoss(tf.ones([2]), tf.ones([2])), /\[batch, \.\.\.\]/);
    assert.throws(() => dkdLoss(tf.ones([2, 3]), tf.ones([2, 4]), tf.tensor1d([0, 1], 'int32'), DKD_DEFAULTS), /same shape/);
    assert.throws(() => dkdLoss(tf.ones([2, 3]), tf.ones([2, 3]), tf.tensor1d([0], 'int32'), DKD_DEFAULTS), /1 labels for a batch of 2/);
    assert.throws(() => distLoss(tf.ones([6]), tf.ones([6]), DIST_DEFAULTS), /\[batch, classes\]/);
  });

  test('attention pools the larger map to the smaller, as mdistiller', () => {
    const large = tf.randomNormal([3, 8, 4, 5], 0, 1, 'float32', 1);
    const small = tf.randomNormal([3, 4, 2, 7], 0, 1, 'float32', 2);
    // 2x2 windows averaged by hand: the pooled student compared at equal sizes.
    const pooled = tf.avgPool(large as tf.Tensor4D, 2, 2, 'valid');
    for (const [x, y, want] of [
      [large, small, attentionLoss(pooled, small, { p: 2 })],
      [small, large, attentionLoss(small, pooled, { p: 2 })],
    ] as const) {
      const got = attentionLoss(x, y, { p: 2 });
      assert.ok(relativeError(got.dataSync(), want.dataSync()) < 1e-5);
      tf.dispose([got, want]);
    }
    tf.dispose([large, small, pooled]);
  });

  test('rkd of a batch of one is 0, with a zero gradient', () => {
    const s = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 3);
    const t = tf.randomNormal([1, 2, 2, 6], 0, 1, 'float32', 4);
    const { value, grad } = tf.valueAndGrad((x: Tensor) => rkdLoss(x, t, RKD_DEFAULTS))(s);
    assert.equal(Math.abs(value.dataSync()[0]!), 0);
    assert.equal(maxAbs(grad.dataSync()), 0);
    tf.dispose([s, t, value, grad]);
  });

  test('the losses vanish when the student is the teacher', () => {
    const f = tf.randomNormal([5, 3, 3, 4], 0, 1, 'float32', 5);
    const z = tf.randomNormal([5, 7], 0, 2, 'float32', 6);
    const y = tf.tensor1d([0, 6, 2, 2, 3], 'int32');
    const values = [
      ...Object.values(featureLosses).map((l) => l.compute(f, f, l.defaults)),
      dkdLoss(z, z, y, DKD_DEFAULTS),
      distLoss(z, z, DIST_DEFAULTS),
    ];
    // rkd's diagonal distances sqrt(1e-12) and float32 rounding of equal inputs leave ~1e-7 at most.
    for (const v of values) assert.ok(Math.abs(v.dataSync()[0]!) < 1e-5, `${v.dataSync()[0]}`);
    tf.dispose([f, z, y, ...values]);
  });

  test('a zero feature row gives finite gradients', () => {
    const s = tf.concat([tf.zeros([1, 2, 2, 3]), tf.randomNormal([3, 2, 2, 3], 0, 1, 'float32', 7)]);
    const t = tf.randomNormal([4, 2, 2, 6], 0, 1, 'float32', 8);
    for (const [name, l] of Object.entries(featureLosses)) {
      if (name === 'hint') continue;
      const g = tf.grad((x: Tensor) => l.compute(x, t, l.defaults))(s);
      assert.ok(Array.from(g.dataSync()).every(Number.isFinite), name);
      g.dispose();
    }
    tf.dispose([s, t]);
  });
});

describe('dkd and dist as stage losses', () => {
  before(async () => {
    await selectBackend('cpu');
  });

  const logitCase = (name: 'dkd' | 'dist', temperature: number) =>
    fixture.cases.find((c): c is LogitCase => c.loss === name && c.options.temperature === temperature)!;

  test('registered, needing a teacher', () => {
    assert.equal(builtinLosses.dkd!.needsTeacher, true);
    assert.equal(builtinLosses.dist!.needsTeacher, true);
  });

  test('dkd is cross-entropy * ceWeight + the DKD term; defaults are mdistiller\'s (CE 1, alpha 1, beta 8, T 4)', () => {
    const c = logitCase('dkd', 4);
    assert.deepEqual(c.options, { alpha: 1, beta: 8, temperature: 4 });
    assert.deepEqual(DKD_DEFAULTS, { alpha: 1, beta: 8, temperature: 4 });
    const logits = tf.tensor2d(c.studentLogits, c.shape);
    const teacherLogits = tf.tensor2d(c.teacherLogits, c.shape);
    const labels = tf.tensor1d(c.labels, 'int32');
    const ce = crossEntropy(logits, labels).dataSync()[0]!;
    const byDefault = builtinLosses.dkd!.create({})({ logits, labels, teacherLogits });
    assert.ok(relativeError(byDefault.dataSync(), [c.value + ce]) <= RTOL);
    const weighted = builtinLosses.dkd!.create({ ceWeight: 0.5, alpha: 2, beta: 0 })({ logits, labels, teacherLogits });
    const alphaOnly = dkdLoss(logits, teacherLogits, labels, { alpha: 2, beta: 0, temperature: 4 }).dataSync()[0]!;
    assert.ok(relativeError(weighted.dataSync(), [0.5 * ce + alphaOnly]) <= RTOL);
    assert.throws(() => builtinLosses.dkd!.create({ beta: -1 }), /loss dkd: beta must be >= 0 \(got -1\)/);
    assert.throws(() => builtinLosses.dkd!.create({ temperature: 0 }), /temperature must be > 0/);
    assert.throws(() => builtinLosses.dkd!.create({})({ logits, labels }), /teacher/);
    tf.dispose([logits, teacherLogits, labels, byDefault, weighted]);
  });

  test('dist is cross-entropy * ceWeight + the DIST term; defaults beta 1, gamma 1, T 1', () => {
    const c = logitCase('dist', 4);
    const logits = tf.tensor2d(c.studentLogits, c.shape);
    const teacherLogits = tf.tensor2d(c.teacherLogits, c.shape);
    const labels = tf.tensor1d(c.labels, 'int32');
    const ce = crossEntropy(logits, labels).dataSync()[0]!;
    const fromFile = builtinLosses.dist!.create(c.options)({ logits, labels, teacherLogits });
    assert.ok(relativeError(fromFile.dataSync(), [c.value + ce]) <= RTOL);
    const byDefault = builtinLosses.dist!.create({ ceWeight: 2 })({ logits, labels, teacherLogits });
    const distDefault = distLoss(logits, teacherLogits, { beta: 1, gamma: 1, temperature: 1 }).dataSync()[0]!;
    assert.ok(relativeError(byDefault.dataSync(), [2 * ce + distDefault]) <= RTOL);
    assert.throws(() => builtinLosses.dist!.create({ gamma: -0.5 }), /loss dist: gamma must be >= 0/);
    assert.throws(() => builtinLosses.dist!.create({ ceWeight: -1 }), /ceWeight must be >= 0/);
    tf.dispose([logits, teacherLogits, labels, fromFile, byDefault]);
  });
});
