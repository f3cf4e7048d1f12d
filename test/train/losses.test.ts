// The built-in losses against PyTorch: the KD loss (values and the gradient w.r.t. the student logits)
// against test/fixtures/kd_loss_reference.json (PyTorch's values, copied into the repository), cross-entropy against hand-computed values and
// values PyTorch computed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import {
  builtinLosses,
  crossEntropy,
  crossEntropyLoss,
  kdLoss,
  kdLossFactory,
  kdLossParts,
  stopGradient,
} from '../../src/plugins/losses.js';

interface KdCase {
  student_logits: number[][];
  teacher_logits: number[][];
  labels: number[];
  temperature: number;
  alpha: number;
  soft_loss: number;
  hard_loss: number;
  loss: number;
  grad_student_logits: number[][];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/kd_loss_reference.json', import.meta.url), 'utf8'),
) as { cases: KdCase[] };

const RTOL = 1e-5;
const ATOL = 1e-7;

/** max |a - e| / (|e| + atol/rtol) over all elements: <= rtol means within tolerance. */
function relError(actual: number[], expected: number[]): number {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + ATOL / RTOL));
  }
  return worst;
}

function assertClose(actual: number | number[], expected: number | number[], what: string): void {
  const a = typeof actual === 'number' ? [actual] : actual;
  const e = typeof expected === 'number' ? [expected] : expected;
  const err = relError(a, e);
  assert.ok(err <= RTOL, `${what}: relative error ${err.toExponential(2)} > ${RTOL} (got ${a.slice(0, 4)}, want ${e.slice(0, 4)})`);
}

before(async () => {
  await tf.setBackend('cpu');
});

test('kd fixture has cases', () => {
  assert.ok(fixture.cases.length >= 3);
});

for (const [i, c] of fixture.cases.entries()) {
  test(`kd loss matches PyTorch: case ${i} (T=${c.temperature}, alpha=${c.alpha}, batch ${c.labels.length})`, () => {
    const s = tf.tensor2d(c.student_logits);
    const t = tf.tensor2d(c.teacher_logits);
    const y = tf.tensor1d(c.labels, 'int32');
    const options = { temperature: c.temperature, alpha: c.alpha };

    const parts = kdLossParts(s, t, y, options);
    assertClose(parts.soft.dataSync()[0], c.soft_loss, 'soft');
    assertClose(parts.hard.dataSync()[0], c.hard_loss, 'hard');
    assertClose(parts.total.dataSync()[0], c.loss, 'total');
    tf.dispose([parts.soft, parts.hard, parts.total]);

    // Through the registered factory, as a stage uses it.
    const loss = kdLossFactory.create(options)({ logits: s, labels: y, teacherLogits: t });
    assertClose(loss.dataSync()[0], c.loss, 'factory loss');
    loss.dispose();

    const grad = tf.grad((logits: Tensor) => kdLoss(logits, t, y, options))(s);
    assertClose(Array.from(grad.dataSync()), c.grad_student_logits.flat(), 'd loss / d student logits');
    grad.dispose();
    tf.dispose([s, t, y]);
  });
}

test('kd: the teacher logits receive no gradient', () => {
  const c = fixture.cases[0];
  const s = tf.tensor2d(c.student_logits);
  const t = tf.tensor2d(c.teacher_logits);
  const y = tf.tensor1d(c.labels, 'int32');
  const [gs, gt] = tf.grads((a: Tensor, b: Tensor) => kdLoss(a, b, y, { temperature: 4, alpha: 0.7 }))([s, t]);
  assert.ok(Math.max(...Array.from(gs.abs().dataSync())) > 0);
  assert.deepEqual(Array.from(gt.dataSync()), new Array(gt.size).fill(0));
  // A teacher computed from variables inside the differentiated function: its variables get nothing.
  const w = tf.variable(tf.eye(10));
  const { value, grads } = tf.variableGrads(() => kdLoss(s, tf.matMul(t, w), y), [w]);
  assert.deepEqual(Array.from(grads[w.name].dataSync()), new Array(100).fill(0));
  tf.dispose([s, t, y, gs, gt, w, value, grads[w.name]]);
});

test('kd: defaults are T=4, alpha=0.7; reading args checks them', () => {
  const c = fixture.cases[0];
  assert.equal(c.temperature, 4);
  assert.equal(c.alpha, 0.7);
  const s = tf.tensor2d(c.student_logits);
  const t = tf.tensor2d(c.teacher_logits);
  const y = tf.tensor1d(c.labels, 'int32');
  const loss = kdLossFactory.create({})({ logits: s, labels: y, teacherLogits: t });
  assertClose(loss.dataSync()[0], c.loss, 'default loss');
  assert.throws(() => kdLossFactory.create({ alpha: 1.5 }), /alpha must be in \[0, 1\] \(got 1.5\)/);
  assert.throws(() => kdLossFactory.create({ temperature: 0 }), /temperature must be > 0/);
  assert.throws(() => kdLossFactory.create({})({ logits: s, labels: y }), /teacher/);
  assert.equal(kdLossFactory.needsTeacher, true);
  assert.equal(crossEntropyLoss.needsTeacher, false);
  assert.deepEqual(Object.keys(builtinLosses).sort(), ['attention', 'crossEntropy', 'dist', 'dkd', 'hint', 'kd', 'pkt', 'rkd', 'similarity']);
  tf.dispose([s, t, y, loss]);
});

test('kd: alpha 0 is cross-entropy; the hard part equals crossEntropy', () => {
  const c = fixture.cases[1];
  const s = tf.tensor2d(c.student_logits);
  const t = tf.tensor2d(c.teacher_logits);
  const y = tf.tensor1d(c.labels, 'int32');
  const a = kdLoss(s, t, y, { temperature: 3, alpha: 0 });
  const b = crossEntropy(s, y);
  assertClose(a.dataSync()[0], b.dataSync()[0], 'alpha 0');
  assertClose(b.dataSync()[0], c.hard_loss, 'hard');
  tf.dispose([s, t, y, a, b]);
});

test('kd and cross-entropy leave no tensors behind', () => {
  const c = fixture.cases[0];
  const s = tf.tensor2d(c.student_logits);
  const t = tf.tensor2d(c.teacher_logits);
  const y = tf.tensor1d(c.labels, 'int32');
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.dispose([kdLoss(s, t, y), crossEntropy(s, y, 0.1)]);
    const g = tf.grad((x: Tensor) => kdLoss(x, t, y))(s);
    g.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([s, t, y]);
});

test('stopGradient keeps the values', () => {
  const x = tf.tensor1d([1, 2, 3]);
  const y = stopGradient(x);
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  const g = tf.grad((a: Tensor) => tf.sum(tf.mul(stopGradient(a), a)))(x);
  assert.deepEqual(Array.from(g.dataSync()), [1, 2, 3]);
  tf.dispose([x, y, g]);
});

// ---------------------------------------------------------------------------------------------
// Cross-entropy

test('cross-entropy: hand-computed values', () => {
  // Uniform logits: -log(1/4) whatever the label.
  const u = tf.zeros([2, 4]);
  const y = tf.tensor1d([0, 3], 'int32');
  assertClose(crossEntropy(u, y).dataSync()[0], Math.log(4), 'uniform');
  assertClose(crossEntropy(u, y, 0.3).dataSync()[0], Math.log(4), 'uniform, smoothed');
  // logits [0, ln 3] -> p = [1/4, 3/4]; label 1: -ln(3/4); label 0: -ln(1/4).
  const l = tf.tensor2d([[0, Math.log(3)], [0, Math.log(3)]]);
  const y2 = tf.tensor1d([1, 0], 'int32');
  const want = (-Math.log(0.75) - Math.log(0.25)) / 2;
  assertClose(crossEntropy(l, y2).dataSync()[0], want, 'two classes');
  // Smoothing eps: (1 - eps) * nll + eps * mean_k(-log p_k); mean_k(-log p_k) = (-ln .25 - ln .75) / 2.
  const eps = 0.2;
  const smooth = (-Math.log(0.25) - Math.log(0.75)) / 2;
  assertClose(crossEntropy(l, y2, eps).dataSync()[0], (1 - eps) * want + eps * smooth, 'two classes, smoothed');
  // Float labels are accepted too.
  const yf = tf.tensor1d([1, 0]);
  assertClose(crossEntropy(l, yf).dataSync()[0], want, 'float labels');
  // Gradient: softmax(z) - onehot(y), over the batch.
  const g = tf.grad((z: Tensor) => crossEntropy(z, y2))(l);
  assertClose(Array.from(g.dataSync()), [0.25 / 2, -0.25 / 2, -0.75 / 2, 0.75 / 2], 'gradient');
  tf.dispose([u, y, l, y2, yf, g]);
});

// Computed with PyTorch 1.13.0a0 (Debian python3-torch, /usr/bin/python3), float32:
//   z = torch.tensor(LOGITS); y = torch.tensor(LABELS)
//   F.cross_entropy(z, y, label_smoothing=eps) for eps in (0, 0.1, 0.25);
//   z.requires_grad_(); F.cross_entropy(z, y, label_smoothing=0.1).backward(); z.grad
const LOGITS = [
  [1.5, -0.3, 0.2, 2.1, -1.0],
  [0.0, 0.7, -2.2, 0.4, 1.3],
  [-0.5, -0.5, 3.0, 0.1, 0.9],
];
const LABELS = [3, 0, 2];
const TORCH_CE: Record<string, number> = {
  '0': 0.9781679511070251,
  '0.1': 1.1101679801940918,
  '0.25': 1.3081679344177246,
};
const TORCH_CE_GRAD_SMOOTH_01: number[][] = [
  [0.09307298064231873, 0.009820185601711273, 0.02051555924117565, -0.12492916733026505, 0.001520461984910071],
  [-0.2664365768432617, 0.07434672117233276, -0.0022090491838753223, 0.053349535912275314, 0.14094935357570648],
  [0.0014648488722741604, 0.0014648488722741604, -0.03738787770271301, 0.008149918168783188, 0.02630825713276863],
];

test('cross-entropy with label smoothing matches PyTorch', () => {
  const z = tf.tensor2d(LOGITS);
  const y = tf.tensor1d(LABELS, 'int32');
  for (const [eps, want] of Object.entries(TORCH_CE)) {
    const loss = crossEntropyLoss.create({ labelSmoothing: Number(eps) })({ logits: z, labels: y });
    assertClose(loss.dataSync()[0], want, `label smoothing ${eps}`);
    loss.dispose();
  }
  const g = tf.grad((x: Tensor) => crossEntropy(x, y, 0.1))(z);
  assertClose(Array.from(g.dataSync()), TORCH_CE_GRAD_SMOOTH_01.flat(), 'gradient, label smoothing 0.1');
  assert.throws(() => crossEntropyLoss.create({ labelSmoothing: -0.1 }), /labelSmoothing must be in \[0, 1\]/);
  tf.dispose([z, y, g]);
});
