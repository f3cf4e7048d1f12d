// `--set KEY=VALUE`: unit tests of src/config/overrides.ts, the loader with overrides, and `kdx plan --set`
// end to end on experiments/quick.yaml.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerSpec } from '../../src/registry/types.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyOverride, isDiagnostic, parseKeyPath, parseOverride, type Override } from '../../src/config/overrides.js';
import { formatDiagnostic, ConfigError } from '../../src/config/diagnostics.js';
import { parseExperiment, loadExperiment, datasetShape } from '../../src/config/load.js';
import { describeModel } from '../../src/registry/model.js';
import { formatPlan } from '../../src/commands/plan.js';
import { freshDir, hasStackTrace, here, kdx, mapLimit, repo } from './support.js';
import type { NamedSpec } from '../../src/config/experiment.js';

const tiny = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8');

function override(text: string): Override {
  const parsed = parseOverride(text);
  assert.ok(!isDiagnostic(parsed), JSON.stringify(parsed));
  return parsed as Override;
}

describe('parseOverride and parseKeyPath', () => {
  test('the value is read as YAML', () => {
    assert.deepEqual(parseOverride('T=2'), { text: 'T=2', key: 'T', value: 2 });
    assert.deepEqual(parseOverride('optimizer.lr=3e-4'), { text: 'optimizer.lr=3e-4', key: 'optimizer.lr', value: 3e-4 });
    assert.deepEqual(override('optimizer.name=sgd').value, 'sgd');
    assert.deepEqual(override('data.options.shape=[8, 8, 1]').value, [8, 8, 1]);
    assert.deepEqual(override('runtime={backend: cpu}').value, { backend: 'cpu' });
    assert.equal(override('flag=true').value, true);
    assert.equal(override('name=a=b').value, 'a=b', 'only the first = separates');
    assert.equal(override('epochs=').value, '');
  });

  test('without KEY=, a diagnostic naming the override', () => {
    const d = parseOverride('epochs');
    assert.ok(isDiagnostic(d));
    assert.equal(formatDiagnostic(d), '--set epochs  expected KEY=VALUE, e.g. --set T=2 or --set optimizer.lr=3e-4');
    assert.ok(isDiagnostic(parseOverride('=3')));
  });

  test('a value that is not YAML', () => {
    const d = parseOverride('T=[1, 2');
    assert.ok(isDiagnostic(d));
    assert.match(d.message, /^cannot read the value "\[1, 2": /);
  });

  test('key paths: dots, [i] and .i', () => {
    assert.deepEqual(parseKeyPath('T'), ['T']);
    assert.deepEqual(parseKeyPath('stages.kd_student.loss.kd.alpha'), ['stages', 'kd_student', 'loss', 'kd', 'alpha']);
    assert.deepEqual(parseKeyPath('models.student[0].conv2d.filters'), ['models', 'student', 0, 'conv2d', 'filters']);
    assert.deepEqual(parseKeyPath('models.student.0.conv2d'), ['models', 'student', 0, 'conv2d']);
    assert.deepEqual(parseKeyPath('a[1][2].b'), ['a', 1, 2, 'b']);
  });
});

describe('applyOverride', () => {
  const data = () => ({
    seed: 0,
    params: { T: 4, epochs: 2 },
    optimizer: { name: 'adamw', lr: 1e-3 },
    models: { student: [{ conv2d: { filters: 4 } }, 'relu'] },
    stages: { teacher: { model: 'teacher' }, kd_student: { model: 'student' } },
  });

  test('a params key sets the parameter', () => {
    const d = data();
    assert.deepEqual(applyOverride(d, override('T=8')), ['params', 'T']);
    assert.equal(d.params.T, 8);
  });

  test('a dotted path sets that value, creating missing mappings on the way', () => {
    const d = data() as Record<string, any>;
    assert.deepEqual(applyOverride(d, override('stages.kd_student.epochs=2')), ['stages', 'kd_student', 'epochs']);
    assert.equal(d.stages.kd_student.epochs, 2);
    assert.equal(d.stages.teacher.epochs, undefined);
    applyOverride(d, override('models.student[0].conv2d.filters=8'));
    assert.equal(d.models.student[0].conv2d.filters, 8);
    applyOverride(d, override('optimizer.schedule.type=cosine'));
    assert.deepEqual(d.optimizer.schedule, { type: 'cosine' });
    applyOverride(d, override('seed=3'));
    assert.equal(d.seed, 3);
  });

  const problem = (text: string, d: Record<string, unknown> = data()) => {
    const result = applyOverride(d, override(text));
    assert.ok(isDiagnostic(result), `${text} was applied`);
    return formatDiagnostic(result);
  };

  test('an unknown parameter: did you mean, else the list of params', () => {
    assert.equal(problem('epoch=3'), '--set epoch=3  epoch  no parameter or top-level key "epoch" (did you mean "epochs"?); use a params name or a dotted path such as optimizer.lr');
    assert.equal(problem('zzz=3'), '--set zzz=3  zzz  no parameter or top-level key "zzz" (params: T, epochs); use a params name or a dotted path such as optimizer.lr');
    assert.equal(problem('T=3', { stages: {} }), '--set T=3  T  no parameter or top-level key "T" (the file has no params); use a params name or a dotted path such as optimizer.lr');
  });

  test('an unknown one-word key: a params name it abbreviates, or a top-level key it misspells', () => {
    assert.equal(problem('Temp=3'), '--set Temp=3  Temp  no parameter or top-level key "Temp" (did you mean "T"?); use a params name or a dotted path such as optimizer.lr');
    assert.equal(problem('temperature=3'), '--set temperature=3  temperature  no parameter or top-level key "temperature" (did you mean "T"?); use a params name or a dotted path such as optimizer.lr');
    assert.equal(problem('optimiser={lr: 1}'), '--set optimiser={lr: 1}  optimiser  no parameter or top-level key "optimiser" (did you mean "optimizer"?); use a params name or a dotted path such as optimizer.lr');
    assert.equal(problem('sed=3'), '--set sed=3  sed  no parameter or top-level key "sed" (did you mean "seed"?); use a params name or a dotted path such as optimizer.lr');
  });

  test('a top-level key of the schema may be set whole, as the suggestions say', () => {
    const d = data() as Record<string, any>;
    assert.deepEqual(applyOverride(d, override('optimizer={name: sgd, lr: 0.1}')), ['optimizer']);
    assert.deepEqual(d.optimizer, { name: 'sgd', lr: 0.1 });
    assert.deepEqual(applyOverride(d, override('runtime={backend: cpu}')), ['runtime']);
    assert.deepEqual(d.runtime, { backend: 'cpu' });
  });

  test('an unknown stage or model name in a path is a typo, not a new entry', () => {
    assert.equal(problem('stages.kd_studnt.epochs=2'), '--set stages.kd_studnt.epochs=2  stages.kd_studnt  no "kd_studnt" (did you mean "kd_student"?)');
    assert.equal(problem('models.studnt[0].conv2d.filters=8'), '--set models.studnt[0].conv2d.filters=8  models.studnt  no "studnt" (did you mean "student"?)');
    assert.equal(problem('models.student[5].conv2d.filters=8'), '--set models.student[5].conv2d.filters=8  models.student[5]  no item 5 (the list has 2)');
  });

  test('a path through a value that has no keys', () => {
    assert.equal(problem('optimizer.lr.x=1'), '--set optimizer.lr.x=1  optimizer.lr  is 0.001, not something with keys, so optimizer.lr.x cannot be set');
  });
});

describe('the loader with overrides', () => {
  test('a params key and dotted paths change the experiment', async () => {
    const { experiment } = await parseExperiment('tiny.yaml', tiny, {
      overrides: ['epochs=5', 'T=8', 'stages.kd_student.epochs=1', 'optimizer.lr=0.01', 'models.teacher[0].conv2d.filters=6'],
    });
    assert.equal(experiment.stages.teacher.epochs, 5);
    assert.equal(experiment.stages.kd_student.epochs, 1, 'a later, more precise override wins');
    assert.equal((experiment.stages.kd_student.loss as NamedSpec).args.temperature, 8);
    assert.equal(experiment.stages.teacher.optimizer.lr, 0.01);
    assert.equal((experiment.models.teacher as LayerSpec[])[0].args.filters, 6);
    assert.deepEqual(experiment.overrides, ['epochs=5', 'T=8', 'stages.kd_student.epochs=1', 'optimizer.lr=0.01', 'models.teacher[0].conv2d.filters=6']);
  });

  async function reportOf(overrides: string[]): Promise<string> {
    try {
      await parseExperiment('tiny.yaml', tiny, { overrides });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message;
    }
    assert.fail(`${overrides.join(' ')} was accepted`);
  }

  test('a bad value names the override, also when it reaches the file through ${param}', async () => {
    assert.equal(
      await reportOf(['epochs=abc']),
      ['--set epochs=abc  stages.teacher.epochs  must be an integer (got "abc")', '--set epochs=abc  stages.kd_student.epochs  must be an integer (got "abc")'].join('\n'),
    );
    assert.equal(await reportOf(['alpha=2']), '--set alpha=2  stages.kd_student.loss.kd.alpha  must be <= 1 (got 2)');
    assert.equal(await reportOf(['optimizer.lr=0']), '--set optimizer.lr=0  optimizer.lr  must be > 0 (got 0)');
    assert.equal(await reportOf(['stages.teacher.epoch=3']), '--set stages.teacher.epoch=3  stages.teacher.epoch  unknown key "epoch" (did you mean "epochs"?)');
    assert.equal(await reportOf(['stages.kd_student.teacher=kd_student']), '--set stages.kd_student.teacher=kd_student  stages.kd_student.teacher  a stage cannot be its own teacher');
    // A value of a oneOf's branch that fits (a list of teachers, a fraction) is reported alone, at the value.
    assert.equal(
      await reportOf(['stages.kd_student.teacher=[{stage: teacher, weight: 0}]']),
      '--set stages.kd_student.teacher=[{stage: teacher, weight: 0}]  stages.kd_student.teacher[0].weight  must be > 0 (got 0)',
    );
    assert.equal(
      await reportOf(['stages.kd_student.data={subset: {fraction: 10}}']),
      '--set stages.kd_student.data={subset: {fraction: 10}}  stages.kd_student.data.subset.fraction  must be <= 1 (got 10)',
    );
  });

  test('a bad transform set by --set data.train names the override, not a file line', async () => {
    assert.equal(
      await reportOf(['data.train=[{normalize: {mean: [0.5], std: [1, 2]}}]']),
      '--set data.train=[{normalize: {mean: [0.5], std: [1, 2]}}]  data.train[0]  normalize: mean has 1 values but std has 2; give one of each per channel (1)',
    );
    // The test stream is at fault as much as the training one: the override that made them differ is named.
    assert.equal(
      await reportOf(['data.train=[randomCrop: {size: 6}]']),
      "--set data.train=[randomCrop: {size: 6}]  data.train[0]  randomCrop makes the training images 6x6x1, but the test images end up 8x8x1 (after data.test's transforms): both must reach the models at one shape",
    );
  });

  test('every bad override is reported at once, with the file\'s own mistakes', async () => {
    const message = await reportOf(['epoch=3', 'stages.nope.epochs=1', 'optimizer.lr=-1']);
    assert.deepEqual(message.split('\n'), [
      '--set epoch=3  epoch  no parameter or top-level key "epoch" (did you mean "epochs"?); use a params name or a dotted path such as optimizer.lr',
      '--set stages.nope.epochs=1  stages.nope  no "nope" (stages: teacher, kd_student)',
      '--set optimizer.lr=-1  optimizer.lr  must be > 0 (got -1)',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end: `kdx plan experiments/quick.yaml --set ...`, run from an empty directory.

const quick = join(repo, 'experiments', 'quick.yaml');

interface PlanRow {
  stage: string;
  model: string;
  epochs: number;
  loss: string;
  optimizer: string;
}

function stagesOf(stdout: string): PlanRow[] {
  const lines = stdout.split('\n');
  const start = lines.indexOf('Stages, in execution order:') + 2;
  const rows: PlanRow[] = [];
  // Each stage's optimizer is in its own table: "stage  name lr=... betas=...", read as "name lr=...".
  const optimizers = new Map<string, string>();
  const table = lines.findIndex((l) => l.startsWith('Optimizers ('));
  for (const line of table < 0 ? [] : lines.slice(table + 2)) {
    if (line.trim() === '') break;
    const [stage, optimizer] = line.trim().split(/\s{2,}/);
    optimizers.set(stage, optimizer.split(' ').slice(0, 2).join(' '));
  }
  for (const line of lines.slice(start)) {
    if (line.trim() === '') break;
    const [, stage, model, epochs, loss] = line.trim().split(/\s{2,}/);
    rows.push({ stage, model, epochs: Number(epochs), loss, optimizer: optimizers.get(stage) ?? '' });
  }
  return rows;
}

function paramsOf(stdout: string): Record<string, number> {
  return Object.fromEntries([...stdout.matchAll(/^Model (\S+): ([\d,]+) parameters$/gm)].map((m) => [m[1], Number(m[2].replaceAll(',', ''))]));
}

describe('kdx plan --set, end to end', () => {
  const runs = new Map<string, { exitCode: number | undefined; stdout: string; stderr: string; written: string[] }>();
  const cases: string[][] = [
    ['epochs=5'],
    ['stages.kd_student.epochs=2'],
    ['optimizer.lr=0.01'],
    ['models.student[0].conv2d.filters=8'],
    ['epoch=5'],
    ['stages.kd_studnt.epochs=2'],
    ['epochs=abc'],
    ['epochs'],
    ['Temp=2'],
    ['data.train=[{randomCrop: {size: 24}}]'],
  ];

  test('run every case (4 at a time)', async () => {
    await mapLimit(cases, 4, async (sets) => {
      const cwd = freshDir();
      try {
        const result = await kdx(['plan', quick, ...sets.flatMap((s) => ['--set', s])], { cwd: cwd.dir });
        runs.set(sets.join(' '), { ...result, written: cwd.list() });
      } finally {
        cwd.cleanup();
      }
    });
    for (const [key, run] of runs) {
      assert.deepEqual(run.written, [], `kdx plan ${key} wrote in the working directory`);
      assert.ok(!hasStackTrace(run.stderr), run.stderr);
    }
  });

  const ok = (key: string) => {
    const run = runs.get(key)!;
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.stderr, '');
    return { rows: stagesOf(run.stdout), params: paramsOf(run.stdout) };
  };
  const failed = (key: string) => {
    const run = runs.get(key)!;
    assert.equal(run.exitCode, 2, run.stdout);
    assert.equal(run.stdout, '');
    return run.stderr;
  };

  /** The plan without overrides, made in process: what `kdx plan experiments/quick.yaml` prints. */
  const baseline = async () => {
    const { experiment } = await loadExperiment(quick);
    const stdout = formatPlan(experiment, 'wasm', () => false);
    return { rows: stagesOf(stdout), params: paramsOf(stdout) };
  };

  test('without overrides: the file\'s values (the students read ${epochs}, the teacher ${teacherEpochs})', async () => {
    const { rows, params } = await baseline();
    const { experiment } = await loadExperiment(quick);
    assert.deepEqual(rows.map((r) => r.stage), ['teacher', 'student', 'kd_student']);
    assert.deepEqual(rows.map((r) => r.epochs), [experiment.params.teacherEpochs, experiment.params.epochs, experiment.params.epochs]);
    assert.notEqual(experiment.params.epochs, 5);
    assert.notEqual(experiment.optimizer.lr, 0.01);
    assert.deepEqual(Object.keys(params), ['teacher', 'student']);
  });

  test('--set epochs=5 (a params key) sets every stage that reads ${epochs}', async () => {
    const teacher = (await baseline()).rows[0].epochs;
    assert.deepEqual(ok('epochs=5').rows.map((r) => r.epochs), [teacher, 5, 5]);
  });

  test('--set stages.kd_student.epochs=2 changes only kd_student', async () => {
    const base = (await baseline()).rows;
    const rows = ok('stages.kd_student.epochs=2').rows;
    assert.deepEqual(rows.map((r) => [r.stage, r.epochs]), [['teacher', base[0].epochs], ['student', base[1].epochs], ['kd_student', 2]]);
    assert.notEqual(base[2].epochs, 2);
    assert.deepEqual(rows.map((r) => r.loss), base.map((r) => r.loss));
  });

  test('--set optimizer.lr=0.01 changes every stage\'s optimizer', () => {
    assert.deepEqual(ok('optimizer.lr=0.01').rows.map((r) => r.optimizer), ['adamw lr=0.01', 'adamw lr=0.01', 'adamw lr=0.01']);
  });

  test('--set models.student[0].conv2d.filters=8 changes the student\'s parameter count, not the teacher\'s', async () => {
    const base = (await baseline()).params;
    const changed = ok('models.student[0].conv2d.filters=8').params;
    assert.equal(changed.teacher, base.teacher);
    assert.notEqual(changed.student, base.student);
    // The count the plan prints is the model's, built with the override.
    const { experiment } = await loadExperiment(quick, { overrides: ['models.student[0].conv2d.filters=8'] });
    assert.equal((experiment.models.student as LayerSpec[])[0].args.filters, 8);
    assert.equal(changed.student, describeModel('student', experiment.models.student, datasetShape(experiment).inputShape).params);
  });

  test('an unknown parameter: exit 2, the override named, with did-you-mean', () => {
    assert.equal(failed('epoch=5'), '--set epoch=5  epoch  no parameter or top-level key "epoch" (did you mean "epochs"?); use a params name or a dotted path such as optimizer.lr\n\n1 error');
  });

  test('an unknown stage in a path: exit 2, the override named', () => {
    assert.equal(failed('stages.kd_studnt.epochs=2'), '--set stages.kd_studnt.epochs=2  stages.kd_studnt  no "kd_studnt" (did you mean "kd_student"?)\n\n1 error');
  });

  test('a value of the wrong type: exit 2, every use of it names the override', () => {
    assert.equal(
      failed('epochs=abc'),
      [
        '--set epochs=abc  stages.student.epochs  must be an integer (got "abc")',
        '--set epochs=abc  stages.kd_student.epochs  must be an integer (got "abc")',
        '',
        '2 errors',
      ].join('\n'),
    );
  });

  test('a one-word key that abbreviates a parameter: exit 2, did you mean it', () => {
    assert.equal(failed('Temp=2'), '--set Temp=2  Temp  no parameter or top-level key "Temp" (did you mean "T"?); use a params name or a dotted path such as optimizer.lr\n\n1 error');
  });

  test('a bad transform set with --set data.train: exit 2, the override named, not a line of the file', () => {
    assert.equal(
      failed('data.train=[{randomCrop: {size: 24}}]'),
      '--set data.train=[{randomCrop: {size: 24}}]  data.train[0]  randomCrop.size 24 is larger than the padded image (16x16: 16x16 plus padding 0 on each side)\n\n1 error',
    );
  });

  test('a --set without =: exit 2, the override named', () => {
    assert.equal(failed('epochs'), '--set epochs  expected KEY=VALUE, e.g. --set T=2 or --set optimizer.lr=3e-4\n\n1 error');
  });
});
