// Feature taps (src/runner/taps.ts): a teacher rebuilt with its taps from its saved files gives exactly
// its own layers' outputs; a student trains through a model with hint's regressors that the saved model
// leaves out but its checkpoints keep; taps inside repeats are numbered; tapping a model keeps its job keys.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import type { Tensor } from '../../src/engine/tf.js';
import { parseExperiment } from '../../src/config/load.js';
import type { ConfigError } from '../../src/config/diagnostics.js';
import { buildModel } from '../../src/registry/model.js';
import { forward, studentTapModel, teacherTapModel } from '../../src/runner/taps.js';
import { loadModelDir, modelToFiles } from '../../src/runner/model-io.js';
import { planExperiment } from '../../src/runner/plan.js';
import { formatPlan } from '../../src/commands/plan.js';
import type { ImageShape } from '../../src/registry/types.js';
import { registry } from '../../src/registry/index.js';
import { trainJob, type ResumeState } from '../../src/runner/train.js';

const file = (loss: string, taps = true) => `
data:
  dataset: synthetic
  options: {shape: [8, 8, 3], classes: 4, train: 64, test: 32}
  batchSize: 16
models:
  teacher:
    - conv2d: {filters: 6, kernel: 3, padding: same}
    - relu
${taps ? '    - tap: t1\n' : ''}    - repeat:
        times: 2
        layers:
          - residual: {body: [{conv2d: {filters: 6, kernel: 3, padding: same}}, relu]}
${taps ? '          - tap: block\n' : ''}    - maxPool2d: 2
    - flatten
${taps ? '    - tap: embedding\n' : ''}    - dense: 4
  student:
    - conv2d: {filters: 3, kernel: 3, padding: same}
    - relu
${taps ? '    - tap: s1\n' : ''}    - flatten
    - dense: 4
stages:
  teacher: {model: teacher, epochs: 1}
  student: {model: student, epochs: 1}
  distilled:
    model: student
    teacher: teacher
    epochs: 1
    loss: ${loss}
`;

const inputShape: ImageShape = [8, 8, 3];
const features = '[crossEntropy, {attention: {pairs: [[s1, t1], [s1, block@2]]}}, {hint: {pairs: [[s1, block@1]]}}]';

before(async () => {
  await selectBackend('cpu');
});

test('a tapped teacher feature matches the teacher\'s own layer output, after saving and loading it', async () => {
  const { experiment } = await parseExperiment('taps.yaml', file(features));
  const stage = experiment.stages.distilled;
  // A "trained" teacher: weights of another seed than any rebuild's, saved and loaded as job.ts does.
  const dir = mkdtempSync(join(tmpdir(), 'kdx-taps-'));
  try {
    const trained = buildModel('teacher', experiment.models.teacher, inputShape, 7).model;
    for (const [name, data] of Object.entries(await modelToFiles(trained))) writeFileSync(join(dir, name), data);
    trained.dispose();
    const reference = await loadModelDir(dir);
    const tapped = teacherTapModel(await loadModelDir(dir), experiment, stage, inputShape);
    assert.deepEqual(tapped.outputs, ['t1', 'block@2', 'block@1']);
    const x = tf.randomNormal([5, ...inputShape], 0, 1, 'float32', 3);
    // The layers whose outputs the taps name, in the saved model: the first relu, and each residual's
    // add (the body's conv2d and relu, then the add: 3 layers per repeat).
    const layers = { t1: '001_relu', 'block@1': '004_Add', 'block@2': '007_Add' };
    const own = tf.model({ inputs: reference.inputs, outputs: Object.values(layers).map((name) => reference.getLayer(name).output as never) });
    const expected = own.predict(x) as Tensor[];
    const { logits, features: got } = forward(tapped, x, false);
    Object.keys(layers).forEach((tap, i) => {
      assert.deepEqual(got![tap]!.shape, expected[i]!.shape, tap);
      assert.deepEqual(Array.from(got![tap]!.dataSync()), Array.from(expected[i]!.dataSync()), `${tap} equals the layer's output`);
    });
    assert.deepEqual(Array.from(logits.dataSync()), Array.from((reference.predict(x) as Tensor).dataSync()), 'and the logits the model\'s');
    tapped.dispose();
    reference.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the student trains through its regressors, which stay out of the saved model and are freed with the tap model', async () => {
  const { experiment } = await parseExperiment('taps.yaml', file(features));
  const stage = experiment.stages.distilled;
  const before = tf.memory().numTensors;
  const built = buildModel('student', experiment.models.student, inputShape, stage.seed);
  const saved = built.model.weights.map((w) => w.name);
  const tapped = studentTapModel(built, stage, experiment, inputShape);
  assert.deepEqual(tapped.outputs, ['s1', 's1>block@1']);
  const regressors = tapped.model.trainableWeights.map((w) => w.name).filter((name) => !saved.includes(name));
  assert.deepEqual(regressors, ['regressor0_conv2d/kernel', 'regressor0_conv2d/bias']);
  const { logits, features: got } = tf.tidy(() => forward(tapped, tf.zeros([2, ...inputShape]), true));
  assert.deepEqual(got!['s1>block@1']!.shape, [2, 8, 8, 6], 'the 1x1 regressor maps 3 channels to the teacher tap\'s 6');
  tf.dispose([logits, ...Object.values(got!)]);
  const files = await modelToFiles(built.model);
  assert.doesNotMatch(files['model.json'], /regressor/);
  tapped.dispose();
  assert.equal(built.model.predict(tf.zeros([1, ...inputShape])) instanceof tf.Tensor, true, 'the student survives its tap model');
  built.model.dispose();
  assert.ok(tf.memory().numTensors <= before + 2, 'only the two predictions are left');
});

test('tapping a model keeps every job key; a loss on the taps, or moving a tap it reads, is a new key', async () => {
  const keys = async (text: string) => {
    const { experiment } = await parseExperiment('taps.yaml', text);
    return Object.fromEntries(planExperiment(experiment, 'wasm').jobs.map((job) => [job.stage.name, job.key]));
  };
  const plain = await keys(file('{kd: {temperature: 4}}', false));
  const tapped = await keys(file('{kd: {temperature: 4}}'));
  assert.deepEqual(tapped, plain);
  const listed = await keys(file(features));
  assert.equal(listed.teacher, plain.teacher);
  assert.notEqual(listed.distilled, plain.distilled);
  // Where a tap the loss reads sits is what it distils: moving it, in the student or the teacher, is
  // another job; moving a tap no loss reads (the teacher's `embedding`) is not.
  const move = (text: string, tap: string) => text.replace(`    - relu\n    - tap: ${tap}\n`, `    - tap: ${tap}\n    - relu\n`);
  const movedStudent = await keys(move(file(features), 's1'));
  const movedTeacher = await keys(move(file(features), 't1'));
  assert.notEqual(movedStudent.distilled, listed.distilled, 'a moved student tap');
  assert.notEqual(movedTeacher.distilled, listed.distilled, 'a moved teacher tap');
  assert.equal(movedTeacher.teacher, listed.teacher, 'the teacher itself trains the same');
  const unread = await keys(file(features).replace('    - flatten\n    - tap: embedding\n', '    - tap: embedding\n    - flatten\n'));
  assert.deepEqual(unread, listed);
});

test('a job resumed from its checkpoint trains its hint regressor on: the same bytes as one run without a stop', async () => {
  await selectBackend('wasm');
  const { experiment } = await parseExperiment('taps.yaml', file('[crossEntropy, {hint: {weight: 10, pairs: [[s1, block@1]]}}]').replace('epochs: 1\n    loss', 'epochs: 2\n    loss'));
  const job = planExperiment(experiment, 'wasm').jobs.find((j) => j.stage.name === 'distilled')!;
  assert.equal(job.stage.epochs, 2);
  const dataset = await registry.datasets.get('synthetic').load({ seed: 0, options: experiment.data.options, emit: () => {} });
  const teacher = () => ({ kind: 'live' as const, model: teacherTapModel(buildModel('teacher', experiment.models.teacher, inputShape, 3).model, experiment, job.stage, inputShape) });
  const run = async (resume?: ResumeState) => {
    let checkpoint: ResumeState | undefined;
    const source = teacher();
    const result = await trainJob({
      job, dataset, inputShape, backend: 'wasm', emit: () => {}, teacher: source, resume,
      onEpochEnd: async ({ epochsDone, model, optimizer, history }) => {
        if (epochsDone !== 1) return;
        const weights = model.weights.map((w, i) => ({ name: `w${i}`, tensor: tf.clone(w.read()) }));
        checkpoint = { epochsDone, weights, optimizerState: await optimizer.getWeights(), history: structuredClone(history) };
      },
    });
    source.model.dispose();
    const bytes = result.model.getWeights().map((w) => Array.from(w.dataSync()));
    const saved = result.model.weights.length;
    result.model.dispose();
    return { bytes, saved, checkpoint, history: result.history };
  };
  const whole = await run();
  assert.equal(whole.checkpoint!.weights.length, whole.saved + 2, 'the checkpoint holds the regressor\'s kernel and bias');
  const resumed = await run(whole.checkpoint);
  assert.deepEqual(resumed.bytes, whole.bytes);
  assert.deepEqual(resumed.history.map((h) => h.terms), whole.history.map((h) => h.terms));
  assert.ok(whole.history.every((h) => h.terms!.hint! > 0 && h.terms!.crossEntropy! > 0));
  for (const t of [...whole.checkpoint!.weights, ...whole.checkpoint!.optimizerState]) t.tensor.dispose();
});

test('kdx plan lists every tap of a model with its shape, each numbered output of a tap inside a repeat too', async () => {
  const { experiment } = await parseExperiment('taps.yaml', file(features));
  const plan = formatPlan(experiment, 'wasm', () => false);
  assert.match(plan, /^ {2}taps: t1 8x8x6, block@1 8x8x6, block@2 8x8x6, embedding 96$/m);
  assert.match(plan, /^ {2}taps: s1 8x8x3$/m);
});

test('kdx plan\'s stages table shows each loss term, its weight and its scalar options; the feature pairs are in the losses table', async () => {
  const { experiment } = await parseExperiment('taps.yaml', file(features));
  const plan = formatPlan(experiment, 'wasm', () => false);
  assert.match(plan, /^ {2}3 {2}distilled {2}student {7}1 {2}1\*crossEntropy\(labelSmoothing=0\) \+ 1\*attention\(p=2\) \+ 1\*hint\(regressor=true\) {2}[0-9a-f]{12} /m);
  assert.match(plan, /^Losses \(each stage's, with defaults filled\):\n {2}stage +loss\n/m);
  assert.match(plan, /^ {2}distilled +1\*crossEntropy\(labelSmoothing=0\) \+ 1\*attention\(pairs=\[\[s1, t1\], \[s1, block@2\]\], p=2\) \+ 1\*hint\(pairs=\[\[s1, block@1\]\]/m);
});

test('a tap a loss names is checked with the file\'s other names, not after its shapes: a typo shows with a schema mistake', async () => {
  const text = file('[crossEntropy, {attention: {pairs: [[s1, t9]]}}]').replace('teacher: {model: teacher, epochs: 1}', 'teacher: {model: teacher, epochs: 0}');
  await assert.rejects(parseExperiment('taps.yaml', text), (error: ConfigError) => {
    assert.deepEqual(error.diagnostics.map((d) => `${d.path}  ${d.message}`), [
      'stages.teacher.epochs  must be >= 1 (got 0)',
      'stages.distilled.loss[1].attention.pairs[0][1]  the teacher model "teacher" has no tap "t9" (did you mean "t1"?)',
    ]);
    return true;
  });
});
