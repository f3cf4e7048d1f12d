// The corpus of broken experiment files (test/config/broken/): each is a near-copy of the valid
// fixtures/tiny.yaml with one mistake. Per file, the table gives the first line kdx prints,
// `file:line:col  path  message`, exactly. In process, every file must fail with that line and with one
// error only (no echoes of the same mistake); through the real binary, every file must exit 2 with that
// line on stderr, nothing on stdout, no stack trace, and nothing written in the working directory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadExperiment, parseExperiment } from '../../src/config/load.js';
import { UserError } from '../../src/errors.js';
import { ConfigError, formatPath } from '../../src/config/diagnostics.js';
import { freshDir, hasStackTrace, here, kdx } from './support.js';

const brokenDir = join(here, 'broken');

/** [the mistake, the first line printed]. The line starts with the file's name as given to kdx. */
const corpus: [mistake: string, first: string][] = [
  ['a feature loss naming a tap the teacher does not have',
   'tap-unknown.yaml:35:48  stages.at_student.loss[1].attention.pairs[0][1]  the teacher model "teacher" has no tap "t2" (did you mean "t1"?)'],
  ['a tap name written twice in one model: at the second, not later at the loss that names it',
   'tap-written-twice.yaml:25:7  models.student[3]  tap "s1" is already written at models.student[1]: give each tap its own name (a tap reached several times, in a repeat or a block used twice, is numbered s1@1, s1@2, ...)'],
  ['a loss naming a tap inside a repeat without its number: the numbered names, not a did-you-mean of another tap',
   'tap-in-repeat-unnumbered.yaml:39:44  stages.at_student.loss[1].attention.pairs[0][0]  the student model "student" reaches tap "s1" 2 times (in a repeat or a block used more than once): name one of its outputs, s1@1 or s1@2'],
  ['a tap after the last layer, which would name the logits (and crashed training)',
   'tap-after-last-layer.yaml:25:7  models.student[3]  tap "s1" comes after the model\'s last layer: it would name the logits, which the losses read already; tap a feature before the last layer'],
  ['hint between taps of different channels, without the regressor that would map them',
   'hint-without-regressor.yaml:35:55  stages.hint_student.loss[1].hint.pairs[0]  hint compares features of the same shape (got student [8,8,2], teacher [8,8,4]): map the student\'s to the teacher\'s with a regressor'],
  ['a feature loss in a stage with two teachers, whose features it cannot average',
   "feature-loss-two-teachers.yaml:39:20  stages.at_student.loss[1].attention  attention compares features with one teacher's, but the stage has 2 teachers: distil features from one teacher"],
  ['a loss weight below 0',
   'loss-weight-negative.yaml:32:22  stages.kd_student.loss[1].kd.weight  must be >= 0 (got -0.9)'],
  ['a feature loss as the whole loss, without the list that gives the labels a term',
   'feature-loss-alone.yaml:34:7  stages.at_only.loss  attention compares features: write it as a term of a list, next to the cross-entropy: [crossEntropy, {attention: {weight: ..., pairs: [[student tap, teacher tap]]}}]'],
  ['kd alpha above 1',
   'alpha-too-big.yaml:33:16  stages.kd_student.loss.kd.alpha  must be <= 1 (got 1.5)'],
  ['conv2d after flatten: shapes do not fit, at the offending layer',
   'conv-after-flatten.yaml:19:7  models.teacher[4]  conv2d does not fit its input of shape [64]: expected ndim=4, found ndim=2'],
  ['a valid 9x9 conv on an 8x8 input',
   'conv-too-small.yaml:15:7  models.teacher[0]  conv2d turns an input of shape [8, 8, 1] into [0, 0, 4]: the input is too small for it'],
  ['unknown conv2d argument',
   'conv2d-unknown-arg.yaml:15:28  models.teacher[0].conv2d.kernal  unknown key "kernal" (did you mean "kernel"?)'],
  ['conv2d with its required argument misspelt: one error, at the misspelt key, with did-you-mean',
   'conv2d-misspelt-filters.yaml:15:16  models.teacher[0].conv2d.filter  unknown key "filter" (did you mean "filters"?)'],
  ['a bare conv2d, without filters: a schema message at the layer, not a tfjs one',
   'conv2d-without-filters.yaml:15:7  models.teacher[0]  conv2d needs filters: write it as {conv2d: {filters: ...}}'],
  ['a crop larger than the padded image, at the transform',
   'crop-too-large.yaml:12:7  data.train[1]  randomCrop.size 20 is larger than the padded image (12x12: 8x8 plus padding 2 on each side)'],
  ['a reference to a block that does not exist, inside a residual body',
   'block-unknown.yaml:22:25  models.teacher[1].residual.body[0]  unknown layer "convBlok" (did you mean "convBlock"?)'],
  ['a block used with an argument it does not have',
   'block-unknown-param.yaml:21:31  models.teacher[0].convBlock.kernal  block "convBlock" has no parameter "kernal" (did you mean "kernel"?)'],
  ['a repeat count of 0',
   'repeat-zero.yaml:16:23  models.teacher[1].repeat.times  must be >= 1 (got 0)'],
  ['runtime.threads of 0',
   'threads-zero.yaml:12:20  runtime.threads  must be >= 1 (got 0)'],
  ['runtime.threads neither auto nor a count',
   'threads-word.yaml:12:20  runtime.threads  must be one of auto (got "all")'],
  ['an identity shortcut whose shape differs from the body\'s',
   'shortcut-mismatch.yaml:16:7  models.teacher[1]  the body gives [8, 8, 8], the shortcut gives [8, 8, 4]: they must be equal to be added'],
  ['concatenated branches of different spatial sizes',
   'concat-sizes.yaml:16:7  models.teacher[1]  branch 1 gives [8, 8, 4], branch 2 gives [4, 4, 4]: only the channels may differ to concatenate them'],
  ['groups that do not divide the input channels',
   'groups-not-dividing.yaml:16:7  models.teacher[1]  conv2d does not fit its input of shape [8, 8, 4]: groups 3 does not divide the 4 input channels'],
  ['a split into parts that do not divide the channels',
   'split-uneven.yaml:16:7  models.teacher[1]  split cannot cut an input of shape [8, 8, 4] into 3 equal parts of its channels'],
  ['a file that extends itself',
   'extends-cycle.yaml:1:10  extends  the files extend each other in a cycle: extends-cycle.yaml -> extends-cycle.yaml'],
  ['extends of a file that does not exist',
   'extends-missing.yaml:1:10  extends  cannot extend ../fixtures/no-such-base.yaml: no such file'],
  ['an import of a model the other file does not have',
   'import-unknown-model.yaml:20:49  models.student.model  ../fixtures/tiny.yaml has no model "studnet" (did you mean "student"?)'],
  ['a cycle through needs and teacher',
   'cycle-needs.yaml:27:13  stages.teacher.needs[0]  the stages form a cycle: teacher -> kd_student -> teacher'],
  ['a cycle of three stages through needs',
   'cycle-three.yaml:24:31  stages.a.needs[0]  the stages form a cycle: a -> b -> c -> a'],
  ['dense with a string',
   'dense-string.yaml:22:14  models.student[1].dense  must be an integer or a mapping (got "three")'],
  ['a dense layer ten billion wide: the schema maximum, not "Invalid typed array length"',
   'dense-too-wide.yaml:19:14  models.teacher[4].dense  must be <= 65536 (got 10000000000)'],
  ['a dense layer of 65,536 units on 262,144 inputs: more weights than a typed array holds, said plainly',
   'dense-weights-too-large.yaml:19:7  models.teacher[4]  dense has more weights than can be allocated: is one of its sizes a typo?'],
  ['a key written twice',
   'duplicate-key.yaml:27:5  stages.teacher.epochs  duplicate key "epochs"'],
  ['an empty file',
   'empty.yaml:1:1  (top level)  the file is empty: an experiment needs at least data, models and stages'],
  ['epochs 0',
   'epochs-zero.yaml:26:13  stages.teacher.epochs  must be >= 1 (got 0)'],
  ['kd loss without a teacher',
   'kd-without-teacher.yaml:30:7  stages.kd_student.loss  kd distils a teacher, but the stage has none: add `teacher: <stage>`'],
  ['relu with arguments',
   'layer-takes-no-args.yaml:16:13  models.teacher[1].relu  takes no arguments (got a mapping with x)'],
  ['a layer with two keys',
   'layer-two-keys.yaml:17:7  models.teacher[2]  must have exactly one key, {name: arguments} (got maxPool2d, flatten)'],
  ['learning rate 0',
   'lr-zero.yaml:12:30  optimizer.lr  must be > 0 (got 0)'],
  ['a stage without model',
   'missing-model.yaml:24:3  stages.teacher  missing required key "model"'],
  ['no stages',
   'missing-stages.yaml:1:1  (top level)  missing required key "stages"'],
  ['a stage that needs itself',
   'needs-itself.yaml:27:13  stages.teacher.needs[0]  a stage cannot need itself'],
  ['needs naming an unknown stage',
   'needs-unknown.yaml:27:13  stages.teacher.needs[0]  no stage "studnt" (stages: teacher, kd_student)'],
  ['a model too small for four valid convs',
   'negative-conv.yaml:24:7  models.student[3]  conv2d turns an input of shape [2, 2, 2] into [0, 0, 2]: the input is too small for it'],
  ['normalize without std',
   'normalize-missing-std.yaml:11:7  data.train[0].normalize  missing required key "std"'],
  ['normalize with one mean but two stds, at the transform',
   'normalize-std-length.yaml:11:7  data.train[0]  normalize: mean has 1 values but std has 2; give one of each per channel (1)'],
  ['output width differs from the classes, at the last layer',
   'output-width.yaml:19:7  models.teacher[4]  model "teacher" outputs [10] per image, but synthetic has 3 classes: it must output [3]'],
  ['a stage that is its own teacher',
   'own-teacher.yaml:29:14  stages.kd_student.teacher  a stage cannot be its own teacher'],
  ['a parameter out of range: at the use, naming the params entry',
   'param-out-of-range.yaml:33:16  stages.kd_student.loss.kd.alpha  must be <= 1 (got 1.7) (from params.alpha at param-out-of-range.yaml:4:10)'],
  ['padding enum typo',
   'padding-typo.yaml:15:48  models.teacher[0].conv2d.padding  must be one of same, valid (got "sme") (did you mean "same"?)'],
  ['a file that is one string',
   'scalar-top-level.yaml:1:1  (top level)  an experiment file must be a mapping of keys (name, data, models, stages, ...), not a single value ("just a string")'],
  ['five mistakes at once: schema and references',
   'several-errors.yaml:9:14  data.batchSize  must be an integer (got "16")'],
  ['a stage name with a dot, at that stage (not the first), with a message that agrees with the rule',
   'stage-name-dot.yaml:27:3  stages["kd.v2"]  must start with a letter or _ and use only letters, digits and _ - (got "kd.v2")'],
  ['a teacher list with a weight of 0: the weight, at its line (not "must be a string" at the list)',
   'teacher-weight-zero.yaml:35:17  stages.kd_student.teacher[1].weight  must be > 0 (got 0)'],
  ['a subset fraction of 10: only the fraction\'s range, not the other forms of a subset',
   'subset-fraction-too-large.yaml:30:26  stages.kd_student.data.subset.fraction  must be <= 1 (got 10)'],
  ['a training subset larger than the split (known without loading: synthetic\'s default 2048)',
   'subset-too-large.yaml:31:23  stages.kd_student.data.subset.first  the subset takes the first 5000 images, but the training split has 2048'],
  ['unknown optimizer in a stage',
   'stage-optimizer-unknown.yaml:27:23  stages.teacher.optimizer.name  unknown optimizer "sgdd" (did you mean "sgd"?)'],
  ['a teacher with crossEntropy',
   'teacher-with-crossentropy.yaml:29:14  stages.kd_student.teacher  the stage\'s loss crossEntropy does not use a teacher: remove `teacher`, or use a distillation loss such as kd'],
  ['a teacher list naming the stage itself, at that entry',
   'teacher-list-itself.yaml:29:24  stages.kd_student.teacher[1]  a stage cannot be its own teacher'],
  ['negative temperature',
   'temperature-negative.yaml:32:22  stages.kd_student.loss.kd.temperature  must be > 0 (got -2)'],
  ['temperature 0',
   'temperature-zero.yaml:32:22  stages.kd_student.loss.kd.temperature  must be > 0 (got 0)'],
  ['a file whose top level is a list',
   'top-level-list.yaml:1:1  (top level)  an experiment file must be a mapping of keys (name, data, models, stages, ...), not a list'],
  ['data.train crops but data.test does not: at the crop',
   'train-test-shapes-differ.yaml:11:7  data.train[0]  randomCrop makes the training images 6x6x1, but the test images end up 8x8x1 (after data.test\'s transforms): both must reach the models at one shape'],
  ['a crop larger than the test images, with data.test written: at the crop, not at data.test\'s normalize',
   'crop-larger-than-test.yaml:11:7  data.train[0]  randomCrop makes the training images 10x10x1, but the test images end up 8x8x1 (after data.test\'s transforms): both must reach the models at one shape'],
  ['an undefined ${...} parameter',
   'undefined-param.yaml:26:13  stages.teacher.epochs  undefined parameter ${epoch} (did you mean "epochs"?)'],
  ['unknown dataset',
   'unknown-dataset.yaml:7:12  data.dataset  unknown dataset "synthetik" (did you mean "synthetic"?)'],
  ['unknown layer',
   'unknown-layer.yaml:15:7  models.teacher[0]  unknown layer "conv2" (did you mean "conv2d"?)'],
  ['unknown loss',
   'unknown-loss.yaml:31:7  stages.kd_student.loss  unknown loss "kdd" (did you mean "kd"?)'],
  ['unknown model in a stage',
   'unknown-model.yaml:28:12  stages.kd_student.model  no model "studnet" (did you mean "student"?)'],
  ['unknown optimizer name',
   'unknown-optimizer.yaml:12:19  optimizer.name  unknown optimizer "adamv" (did you mean "adamw"?)'],
  ['unknown stage key',
   'unknown-stage-key.yaml:26:5  stages.teacher.epoch  unknown key "epoch" (did you mean "epochs"?)'],
  ['unknown teacher stage',
   'unknown-teacher-stage.yaml:29:14  stages.kd_student.teacher  no stage "teachr" (did you mean "teacher"?)'],
  ['unknown top-level key',
   'unknown-top-level-key.yaml:12:1  optimiser  unknown key "optimiser" (did you mean "optimizer"?)'],
  ['an x- key inside a stage: x- keys are ignored at the top level only, as the schema says',
   'x-key-in-stage.yaml:29:5  stages.kd_student.x-why  unknown key "x-why": x- keys (a home for YAML anchors) go at the top level of the file only'],
  ['unknown transform',
   'unknown-transform.yaml:11:7  data.train[0]  unknown transform "normalise" (did you mean "normalize"?)'],
  ['${T} unquoted inside { }',
   'unquoted-ref-in-flow.yaml:31:25  (top level)  YAML syntax error: inside [ ] or { }, a reference must be quoted: "${T}"'],
  ['batchSize as a string',
   'wrong-type.yaml:9:14  data.batchSize  must be an integer (got "64")'],
  ['a line indented too far',
   'yaml-bad-indent.yaml:28:12  (top level)  YAML syntax error: Nested mappings are not allowed in compact mappings (is the next line indented too far?)'],
  ['an unclosed { (YAML syntax error), where it opens',
   'yaml-syntax.yaml:8:12  (top level)  YAML syntax error: this { is never closed'],
  ['an unclosed [ inside { }, where it opens (not where YAML gives up)',
   'yaml-unclosed-bracket.yaml:8:20  (top level)  YAML syntax error: this [ is never closed'],
  ['a misspelt key of the Slurm resources of a stage',
   'slurm-misspelt-partition.yaml:26:13  stages.teacher.slurm.partiton  unknown key "partiton" (did you mean "partition"?)'],
  ['an unclosed ", where it opens (not at the end of the file)',
   'yaml-unclosed-quote.yaml:7:12  (top level)  YAML syntax error: this " is never closed'],
];

const fileOf = (first: string) => first.slice(0, first.indexOf(':'));
/** The expected line when kdx is given `arg` as the path of `file`: every mention of the file names it so. */
const expectedFor = (first: string, arg: string) => first.replaceAll(fileOf(first), arg);

/** How many errors a file reports: one mistake each, except the file made of several. */
const errorCount = (file: string) => (file === 'several-errors.yaml' ? 5 : 1);

async function diagnose(file: string, text: string): Promise<ConfigError> {
  try {
    await parseExperiment(file, text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail(`${file} was accepted`);
}

test('the corpus has at least 30 files, and the table lists exactly the files of test/config/broken/', () => {
  const files = readdirSync(brokenDir).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 30, `only ${files.length} broken files`);
  assert.deepEqual(corpus.map(([, first]) => fileOf(first)).sort(), files);
});

test('the experiment the corpus is made from is valid', async () => {
  const { experiment } = await parseExperiment('tiny.yaml', readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8'));
  assert.deepEqual(Object.keys(experiment.stages), ['teacher', 'kd_student']);
});

describe('each broken file, in process: exactly the expected first line, and one error per mistake', () => {
  for (const [mistake, first] of corpus) {
    const file = fileOf(first);
    test(`${file}: ${mistake}`, async () => {
      // By its real path: a file may extend or import another, relative to itself.
      const path = join(brokenDir, file);
      const error = await diagnose(path, readFileSync(path, 'utf8'));
      assert.equal(error.message.split('\n')[0], expectedFor(first, path));
      assert.equal(error.diagnostics.length, errorCount(file), error.report());
      assert.equal(error.exitCode, 2);
    });
  }
});

test('the offending line is shown with a caret under the column', async () => {
  const error = await diagnose('alpha-too-big.yaml', readFileSync(join(brokenDir, 'alpha-too-big.yaml'), 'utf8'));
  assert.equal(
    error.report(),
    [
      'alpha-too-big.yaml:33:16  stages.kd_student.loss.kd.alpha  must be <= 1 (got 1.5)',
      '  33 |         alpha: 1.5',
      '     |                ^',
      '',
      '1 error',
    ].join('\n'),
  );
});

test('a path reads as the keys it is made of: a key with a dot or a space is quoted', () => {
  assert.equal(formatPath([]), '(top level)');
  assert.equal(formatPath(['models', 'student', 0, 'conv2d']), 'models.student[0].conv2d');
  assert.equal(formatPath(['stages', 'kd.v2', 'epochs']), 'stages["kd.v2"].epochs');
  assert.equal(formatPath(['params', 'a b', 'c-d_$e']), 'params["a b"].c-d_$e');
});

test('an unclosed quote: the error where it opens, then a note where YAML gave up, each with its line', async () => {
  const error = await diagnose('yaml-unclosed-quote.yaml', readFileSync(join(brokenDir, 'yaml-unclosed-quote.yaml'), 'utf8'));
  assert.equal(
    error.report(),
    [
      'yaml-unclosed-quote.yaml:7:12  (top level)  YAML syntax error: this " is never closed',
      '  7 |   dataset: "synthetic',
      '    |            ^',
      '  note: yaml-unclosed-quote.yaml:35:1  YAML gave up here: Missing closing "quote',
      '    35 | ',
      '       | ^',
      '',
      '1 error',
    ].join('\n'),
  );
});

test('an unclosed bracket or quote is located where it opens, whatever is around it', async () => {
  const firstLine = async (text: string) => (await diagnose('y.yaml', text)).message.split('\n')[0];
  const cases: [text: string, first: string][] = [
    ['a: [1, 2\nb: 3\n', 'y.yaml:1:4  (top level)  YAML syntax error: this [ is never closed'],
    ['a: {b: [1, 2], c: 3\nd: 4\n', 'y.yaml:1:4  (top level)  YAML syntax error: this { is never closed'],
    ['a: [1, {b: 2]\n', 'y.yaml:1:8  (top level)  YAML syntax error: this { is never closed'],
    ['a: 1\nb: "x \\" y\nc: 2\n', 'y.yaml:2:4  (top level)  YAML syntax error: this " is never closed'],
    ["a: 1\nb: 'it''s\nc: 2\n", "y.yaml:2:4  (top level)  YAML syntax error: this ' is never closed"],
    ['a: {b: "x}\nc: 2\n', 'y.yaml:1:8  (top level)  YAML syntax error: this " is never closed'],
  ];
  for (const [text, first] of cases) assert.equal(await firstLine(text), first, text);
  // Closed ones, with escapes, are not mistaken for open ones: the error is the real one.
  assert.match(await firstLine("a: 'it''s'\nb: \"x \\\" y\"\nc: [1\n"), /^y\.yaml:3:4 .* this \[ is never closed$/);
});

test('several errors in one file (schema and references alike) are all reported at once, in file order', async () => {
  const error = await diagnose('several-errors.yaml', readFileSync(join(brokenDir, 'several-errors.yaml'), 'utf8'));
  assert.deepEqual(
    error.message.split('\n').filter((line) => !line.startsWith(' ')),
    [
      'several-errors.yaml:9:14  data.batchSize  must be an integer (got "16")',
      'several-errors.yaml:15:7  models.teacher[0]  unknown layer "conv2" (did you mean "conv2d"?)',
      'several-errors.yaml:26:13  stages.teacher.epochs  must be >= 1 (got 0)',
      'several-errors.yaml:28:12  stages.kd_student.model  no model "studnet" (did you mean "student"?)',
      'several-errors.yaml:33:16  stages.kd_student.loss.kd.alpha  must be <= 1 (got 1.5)',
    ],
  );
  assert.match(error.report(), /\n\n5 errors$/);
});

describe('each broken file through `kdx validate`: exit 2, the line first on stderr, no stack trace, nothing written', { concurrency: 4 }, () => {
  for (const [, first] of corpus) {
    const file = fileOf(first);
    test(file, async () => {
      const cwd = freshDir();
      try {
        const arg = relative(cwd.dir, join(brokenDir, file));
        const result = await kdx(['validate', arg], { cwd: cwd.dir });
        assert.equal(result.exitCode, 2, result.stderr);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.split('\n')[0], expectedFor(first, arg));
        const n = errorCount(file);
        assert.ok(result.stderr.endsWith(`\n\n${n} error${n === 1 ? '' : 's'}`), result.stderr); // execa strips the final newline
        assert.ok(!hasStackTrace(result.stderr), result.stderr);
        assert.deepEqual(cwd.list(), []);
      } finally {
        cwd.cleanup();
      }
    });
  }

  test('a missing file', async () => {
    const cwd = freshDir();
    try {
      const result = await kdx(['validate', 'missing.yaml'], { cwd: cwd.dir });
      assert.equal(result.exitCode, 2);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, 'kdx: missing.yaml: no such file');
      assert.deepEqual(cwd.list(), []);
    } finally {
      cwd.cleanup();
    }
  });
});

test('a directory instead of a file: a usage error that says so', async () => {
  await assert.rejects(loadExperiment(brokenDir), (error: unknown) => {
    assert.ok(error instanceof UserError && !(error instanceof ConfigError));
    assert.equal(error.message, `${brokenDir}: is a directory, not an experiment file`);
    assert.equal(error.exitCode, 2);
    return true;
  });
});

test('every one-line mutation of the valid file is either valid or a located ConfigError, never a crash', async () => {
  const lines = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8').split('\n');
  const variants: string[] = [];
  const replaceLine = (i: number, text: string) => lines.map((line, j) => (j === i ? text : line)).join('\n');
  for (const [i, line] of lines.entries()) {
    variants.push(lines.filter((_, j) => j !== i).join('\n'));
    const entry = /^(\s*-?\s*)(\w+)(:\s*)(.*)$/.exec(line);
    if (!entry) continue;
    variants.push(replaceLine(i, `${entry[1]}${entry[2]}x${entry[3]}${entry[4]}`));
    if (entry[4] === '') continue;
    for (const value of ['[]', '{}', 'null', '"x"', '-1', '0', '[1, 2]', '{a: 1}', 'true', '1.5']) {
      variants.push(replaceLine(i, `${entry[1]}${entry[2]}${entry[3]}${value}`));
    }
  }
  assert.ok(variants.length > 200, `${variants.length} variants`);
  for (const text of variants) {
    try {
      await parseExperiment('v.yaml', text);
    } catch (error) {
      assert.ok(error instanceof ConfigError, `${(error as Error).stack}\n--- for ---\n${text}`);
      for (const d of error.diagnostics) {
        assert.ok(d.override === undefined && d.line! >= 1 && d.line! <= lines.length && d.col! >= 1, `${JSON.stringify(d)}\n${text}`);
      }
    }
  }
});
