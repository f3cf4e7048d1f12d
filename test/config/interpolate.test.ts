// `${name}` references to params: unit tests of src/config/interpolate.ts, and what the loader makes of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interpolate, type InterpolationProblem, type ParameterUse } from '../../src/config/interpolate.js';
import { parseExperiment } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/diagnostics.js';
import { here } from './support.js';
import type { NamedSpec } from '../../src/config/experiment.js';

const params = { T: 4, alpha: 0.7, epochs: 10, shape: [8, 8, 1], fast: true, tag: 'kd' };

function run(value: unknown, p: Record<string, unknown> = params) {
  const problems: InterpolationProblem[] = [];
  const uses: ParameterUse[] = [];
  const result = interpolate(value, p, problems, ['root'], uses);
  return { result, problems, uses };
}

test('a value that is exactly one reference keeps the type of the parameter', () => {
  assert.equal(run('${epochs}').result, 10);
  assert.equal(run('${alpha}').result, 0.7);
  assert.deepEqual(run('${shape}').result, [8, 8, 1]);
  assert.equal(run('${fast}').result, true);
  assert.equal(run('${tag}').result, 'kd');
  assert.equal(run('${ T }').result, 4, 'spaces inside the braces are ignored');
});

test('a reference inside a longer string is substituted as text, every occurrence', () => {
  assert.equal(run('kd-T${T}-a${alpha}').result, 'kd-T4-a0.7');
  assert.equal(run('${T}${T}').result, '44');
  assert.equal(run('${T} epochs').result, '4 epochs');
});

test('strings without references, numbers, booleans and null are left alone', () => {
  assert.equal(run('plain $ text {}').result, 'plain $ text {}');
  assert.equal(run(3).result, 3);
  assert.equal(run(null).result, null);
  assert.equal(run(false).result, false);
  assert.deepEqual(run('plain').problems, []);
});

test('mappings and lists are copied with their references replaced, and the input is not changed', () => {
  const input = { loss: { kd: { temperature: '${T}', alpha: '${alpha}' } }, list: ['${epochs}', 1, { x: '${tag}-x' }] };
  const before = structuredClone(input);
  const { result, uses } = run(input);
  assert.deepEqual(result, { loss: { kd: { temperature: 4, alpha: 0.7 } }, list: [10, 1, { x: 'kd-x' }] });
  assert.deepEqual(input, before);
  assert.deepEqual(uses, [
    { path: ['root', 'loss', 'kd', 'temperature'], name: 'T' },
    { path: ['root', 'loss', 'kd', 'alpha'], name: 'alpha' },
    { path: ['root', 'list', 0], name: 'epochs' },
    { path: ['root', 'list', 2, 'x'], name: 'tag' },
  ]);
});

test('an undefined reference is reported at its path with the nearest parameter, and the text is kept', () => {
  const { result, problems } = run({ stages: [{ epochs: '${epoch}' }] });
  assert.deepEqual(result, { stages: [{ epochs: '${epoch}' }] });
  assert.deepEqual(problems, [{ path: ['root', 'stages', 0, 'epochs'], message: 'undefined parameter ${epoch} (did you mean "epochs"?)' }]);
});

test('an undefined reference spelt out or shortened gets the parameter (${Temp}: T); one far from every parameter gets the list; a file without params says so', () => {
  assert.deepEqual(run('${Temp}').problems.map((p) => p.message), ['undefined parameter ${Temp} (did you mean "T"?)']);
  assert.deepEqual(run('${temperature}', { temp: 4, alpha: 0.7 }).problems.map((p) => p.message), ['undefined parameter ${temperature} (did you mean "temp"?)']);
  assert.deepEqual(run('${zzzzzz}').problems.map((p) => p.message), ['undefined parameter ${zzzzzz} (params: T, alpha, epochs, shape, fast, tag)']);
  assert.deepEqual(run('${T}', {}).problems.map((p) => p.message), ['undefined parameter ${T} (the file has no params)']);
  assert.deepEqual(run('a ${x} b ${T}').problems.map((p) => p.message), ['undefined parameter ${x} (params: T, alpha, epochs, shape, fast, tag)']);
  assert.equal(run('a ${x} b ${T}').result, 'a ${x} b 4');
});

test('the loader: numbers stay numbers through ${...}, text references become text, params are not interpolated', async () => {
  const text = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8').replace('name: tiny', 'name: tiny-T${T}');
  const { experiment } = await parseExperiment('tiny.yaml', text);
  assert.equal(experiment.name, 'tiny-T4');
  assert.equal(experiment.stages.teacher.epochs, 2);
  assert.deepEqual(experiment.stages.kd_student.loss, { type: 'kd', args: { temperature: 4, alpha: 0.7 } });
  assert.deepEqual(experiment.params, { T: 4, alpha: 0.7, epochs: 2 });
});

test('the loader: a quoted reference inside { } works', async () => {
  const text = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8').replace(
    '      kd:\n        temperature: ${T}\n        alpha: ${alpha}\n',
    '      kd: {temperature: "${T}", alpha: \'${alpha}\'}\n',
  );
  const { experiment } = await parseExperiment('tiny.yaml', text);
  assert.deepEqual((experiment.stages.kd_student.loss as NamedSpec).args, { temperature: 4, alpha: 0.7 });
});

test('the loader: an unquoted reference inside [ ] is a syntax error that says to quote it, at the reference', async () => {
  const text = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8').replace('shape: [8, 8, 1]', 'shape: [8, ${T}, 1]');
  await assert.rejects(parseExperiment('tiny.yaml', text), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.diagnostics.length, 1);
    assert.equal(error.message.split('\n')[0], 'tiny.yaml:8:24  (top level)  YAML syntax error: inside [ ] or { }, a reference must be quoted: "${T}"');
    return true;
  });
});

test('the loader: a value that reads a parameter of the wrong type is located where it is written, naming the params entry', async () => {
  const text = readFileSync(join(here, 'fixtures', 'tiny.yaml'), 'utf8').replace('  epochs: 2\n', '  epochs: two\n');
  await assert.rejects(parseExperiment('tiny.yaml', text), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(
      error.diagnostics.map((d) => `${d.line}:${d.col}  ${d.path}  ${d.message}`),
      [
        '26:13  stages.teacher.epochs  must be an integer (got "two") (from params.epochs at tiny.yaml:5:11)',
        '34:13  stages.kd_student.epochs  must be an integer (got "two") (from params.epochs at tiny.yaml:5:11)',
      ],
    );
    return true;
  });
});
