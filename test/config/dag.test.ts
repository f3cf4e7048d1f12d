// The stage graph: execution order, cycles, and the reference checks of src/config/semantics.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSemantics, executionOrder, findCycle, stageDependencies } from '../../src/config/semantics.js';
import { registry } from '../../src/registry/index.js';
import { ensureBuiltins } from '../../src/plugins/builtin.js';
import { closest, didYouMean, editDistance } from '../../src/util/suggest.js';

type Stages = Record<string, { teachers?: { stage: string }[]; needs?: string[] }>;

/** Every stage after all of its dependencies, and each stage exactly once. */
function assertTopological(stages: Stages, order: string[]): void {
  assert.deepEqual([...order].sort(), Object.keys(stages).sort());
  for (const [name, stage] of Object.entries(stages)) {
    for (const dep of stageDependencies(stage)) assert.ok(order.indexOf(dep) < order.indexOf(name), `${dep} must come before ${name}: ${order}`);
  }
}

test('stageDependencies: the teacher, then the needs', () => {
  assert.deepEqual(stageDependencies({}), []);
  assert.deepEqual(stageDependencies({ teachers: [{ stage: 't' }], needs: ['a', 'b'] }), ['t', 'a', 'b']);
});

test('executionOrder: dependencies first, file order among independent stages', () => {
  assert.deepEqual(executionOrder({ teacher: {}, student: {}, kd_student: { teachers: [{ stage: 'teacher' }] } }), ['teacher', 'student', 'kd_student']);
  // Written before its teacher, kd still runs after it.
  const reversed: Stages = { kd_student: { teachers: [{ stage: 'teacher' }] }, student: {}, teacher: {} };
  assert.deepEqual(executionOrder(reversed), ['teacher', 'kd_student', 'student']);
  assertTopological(reversed, executionOrder(reversed));
});

test('executionOrder: needs are edges too, and a diamond places each stage once', () => {
  const stages: Stages = {
    report: { needs: ['kd_a', 'kd_b'] },
    kd_a: { teachers: [{ stage: 'teacher' }] },
    kd_b: { teachers: [{ stage: 'teacher' }], needs: ['kd_a'] },
    teacher: { needs: ['prep'] },
    prep: {},
  };
  const order = executionOrder(stages);
  assert.deepEqual(order, ['prep', 'teacher', 'kd_a', 'kd_b', 'report']);
  assertTopological(stages, order);
});

test('findCycle: none in a DAG', () => {
  assert.equal(findCycle({}), undefined);
  assert.equal(findCycle({ a: {}, b: { teachers: [{ stage: 'a' }] }, c: { needs: ['a', 'b'] } }), undefined);
  assert.equal(findCycle({ a: { needs: ['missing'] } }), undefined, 'unknown names are reported elsewhere');
  assert.equal(findCycle({ a: { teachers: [{ stage: 'a' }] } }), undefined, 'its own teacher is reported elsewhere');
});

test('findCycle: a closed walk in execution direction (x -> y: x runs before y)', () => {
  assert.deepEqual(findCycle({ teacher: { needs: ['kd'] }, kd: { teachers: [{ stage: 'teacher' }] } }), ['teacher', 'kd', 'teacher']);
  // a needs b, b needs c, c needs a: c runs before b, b before a, a before c.
  assert.deepEqual(findCycle({ a: { needs: ['b'] }, b: { needs: ['c'] }, c: { needs: ['a'] } }), ['a', 'c', 'b', 'a']);
});

test('findCycle: a cycle that does not include the first stage, behind a path into it', () => {
  const cycle = findCycle({ first: {}, entry: { needs: ['x'] }, x: { needs: ['y'] }, y: { teachers: [{ stage: 'x' }] } });
  assert.deepEqual(cycle, ['x', 'y', 'x']);
});

test('executionOrder terminates on a cycle (the loader reports it before anything runs)', () => {
  assert.equal(executionOrder({ a: { needs: ['b'] }, b: { needs: ['a'] } }).length, 2);
});

// ---------------------------------------------------------------------------------------------

const valid = () => ({
  data: { dataset: 'synthetic', train: [{ normalize: { mean: [0.5], std: [0.5] } }], test: [] },
  optimizer: { name: 'adamw', lr: 1e-3 },
  models: { teacher: [{ conv2d: { filters: 4 } }, 'flatten', { dense: 3 }], student: ['flatten', { dense: 3 }] },
  stages: {
    teacher: { model: 'teacher', loss: { crossEntropy: {} } },
    kd: { model: 'student', teacher: 'teacher', loss: { kd: {} } },
  } as Record<string, Record<string, unknown>>,
});

const messages = (data: ReturnType<typeof valid>) => checkSemantics(data, registry).map((p) => `${p.path.join('.')}  ${p.message}`);

test('checkSemantics: a valid experiment has no problems', async () => {
  await ensureBuiltins();
  assert.deepEqual(messages(valid()), []);
});

test('checkSemantics: the cycle is located at the reference that closes it', async () => {
  await ensureBuiltins();
  const data = valid();
  data.stages.teacher.needs = ['other', 'kd'];
  data.stages.other = { model: 'student', loss: 'crossEntropy' };
  assert.deepEqual(messages(data), ['stages.teacher.needs.1  the stages form a cycle: teacher -> kd -> teacher']);
});

test('checkSemantics: values of the wrong type are left to the schema, never thrown on', async () => {
  await ensureBuiltins();
  const data = valid() as Record<string, any>;
  data.data = 'cifar';
  data.optimizer = null;
  data.models.teacher = 5;
  data.models.student = [{ a: 1, b: 2 }, 7, 'flatten', { dense: 3 }];
  data.stages.kd = { model: 5, teacher: { stage: 'x' }, needs: 'teacher', loss: { kd: {}, crossEntropy: {} } };
  data.stages.broken = 'not a stage';
  assert.deepEqual(messages(data as ReturnType<typeof valid>), []);
  delete data.stages;
  assert.deepEqual(messages(data as ReturnType<typeof valid>), []);
});

test('suggestions: near names only, case-insensitive, never a guess that shares nothing', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(didYouMean('epoch', ['epochs', 'model']), ' (did you mean "epochs"?)');
  assert.equal(didYouMean('conv2', ['conv2d', 'dense']), ' (did you mean "conv2d"?)');
  assert.equal(didYouMean('Conv2D', ['conv2d', 'dense']), ' (did you mean "conv2d"?)');
  assert.equal(didYouMean('optimiser', ['optimizer', 'models']), ' (did you mean "optimizer"?)');
  assert.equal(didYouMean('x', ['T', 'alpha']), '');
  assert.equal(didYouMean('transformer', ['conv2d', 'dense']), '');
  assert.equal(closest('abc', []), undefined);
});
