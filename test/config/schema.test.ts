// The JSON Schema is the one source of truth of the file format: the generated types must match it, and
// every field must say what it is for (editors show these descriptions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { generateTypes, typesPath } from '../../scripts/gen-types.js';
import { experimentSchema, decodePointer, describePattern, checkSchema } from '../../src/config/schema.js';

test('src/config/schema-types.ts is what `npm run gen:types` makes of the schema', async () => {
  assert.equal(readFileSync(typesPath, 'utf8'), await generateTypes(), 'stale: run `npm run gen:types`');
});

type SchemaNode = Record<string, unknown>;
const defs = experimentSchema.$defs as Record<string, SchemaNode>;

/** A field is described by its own description, or by the one of the definition it refers to. */
function described(node: SchemaNode): boolean {
  if (typeof node.description === 'string' && node.description.trim() !== '') return true;
  const ref = node.$ref;
  return typeof ref === 'string' && ref.startsWith('#/$defs/') && described(defs[ref.slice('#/$defs/'.length)] ?? {});
}

/** Every `properties` entry, anywhere in the schema, and every `$defs` entry, by where it is. */
function fields(node: unknown, where: string, out: [string, SchemaNode][] = []): [string, SchemaNode][] {
  if (node === null || typeof node !== 'object') return out;
  const n = node as SchemaNode;
  for (const [key, child] of Object.entries((n.properties ?? {}) as Record<string, SchemaNode>)) {
    out.push([`${where}/properties/${key}`, child]);
    fields(child, `${where}/properties/${key}`, out);
  }
  for (const [key, child] of Object.entries((n.$defs ?? {}) as Record<string, SchemaNode>)) {
    out.push([`#/$defs/${key}`, child]);
    fields(child, `#/$defs/${key}`, out);
  }
  for (const key of ['items', 'additionalProperties']) fields(n[key], `${where}/${key}`, out);
  for (const [i, child] of ((n.prefixItems ?? []) as unknown[]).entries()) fields(child, `${where}/prefixItems/${i}`, out);
  return out;
}

test('every field of schemas/experiment.schema.json has a description', () => {
  const all = fields(experimentSchema, '#');
  assert.ok(all.length > 50, `only ${all.length} fields found`);
  assert.ok(described(experimentSchema), 'the schema itself');
  const missing = all.filter(([, node]) => !described(node)).map(([where]) => where);
  assert.deepEqual(missing, [], `fields without a description:\n${missing.join('\n')}`);
});

test('JSON Pointers decode ~1 and ~0 in every occurrence, and indices to numbers', () => {
  assert.deepEqual(decodePointer(''), []);
  assert.deepEqual(decodePointer('/stages/kd/loss'), ['stages', 'kd', 'loss']);
  assert.deepEqual(decodePointer('/a~1b~1c/x~0y~0z/~01'), ['a/b/c', 'x~y~z', '~1']);
  assert.deepEqual(decodePointer('/models/student/0/conv2d'), ['models', 'student', 0, 'conv2d']);
  assert.deepEqual(decodePointer('/params/007'), ['params', '007']);
});

test('a name pattern in words says exactly what it allows', () => {
  assert.equal(describePattern('^[A-Za-z0-9._-]+$'), 'may use only letters, digits and . _ -');
  assert.equal(describePattern('^[A-Za-z_][A-Za-z0-9_-]*$'), 'must start with a letter or _ and use only letters, digits and _ -');
  assert.equal(describePattern('^[0-9]+$'), 'may use only digits');
  assert.equal(describePattern('^a(b|c)$'), 'must match the pattern ^a(b|c)$');
  // Every propertyNames pattern of the schema reads as words, not as a regular expression.
  const properties = experimentSchema.properties as Record<string, { propertyNames?: { pattern: string } }>;
  const patterns = Object.values(properties).flatMap((p) => (p.propertyNames ? [p.propertyNames.pattern] : []));
  assert.ok(patterns.length >= 2);
  for (const pattern of patterns) assert.doesNotMatch(describePattern(pattern), /pattern/, pattern);
});

test('a bare name stands for the entry without arguments: a name whose arguments are required says which', () => {
  const file = (layers: unknown[], train: unknown[] = [], loss: unknown = 'crossEntropy') => ({
    data: { dataset: 'synthetic', train },
    models: { m: layers },
    stages: { s: { model: 'm', loss } },
  });
  const problems = (data: unknown) => checkSchema(data).map((p) => `${p.path.join('.')}  ${p.message}`);
  assert.deepEqual(problems(file(['relu', 'flatten', 'batchNorm', 'myPluginLayer'], ['horizontalFlip'], 'kd')), []);
  assert.deepEqual(problems(file(['conv2d', 'maxPool2d', 'dense', 'dropout'])), [
    'models.m.0  conv2d needs filters: write it as {conv2d: {filters: ...}}',
    'models.m.1  maxPool2d needs size: write it as {maxPool2d: {size: ...}}',
    'models.m.2  dense needs units: write it as {dense: {units: ...}}',
    'models.m.3  dropout needs rate: write it as {dropout: {rate: ...}}',
  ]);
  assert.deepEqual(problems(file(['flatten'], ['randomCrop', 'normalize'])), [
    'data.train.0  randomCrop needs size: write it as {randomCrop: {size: ...}}',
    'data.train.1  normalize needs mean and std: write it as {normalize: {mean: ..., std: ...}}',
  ]);
});

test('a misspelt required argument is one mistake: the unknown key with did-you-mean, not also "missing"', () => {
  const data = { data: { dataset: 'synthetic' }, models: { m: [{ conv2d: { filter: 4 } }, { dense: { unit: 3, bias: 1 } }] }, stages: { s: { model: 'm' } } };
  assert.deepEqual(
    checkSchema(data).map((p) => `${p.path.join('.')}  ${p.message}`).sort(),
    [
      'models.m.0.conv2d.filter  unknown key "filter" (did you mean "filters"?)',
      'models.m.1.dense.unit  unknown key "unit" (did you mean "units"?)',
      'models.m.1.dense.bias  must be a boolean (got 1)',
    ].sort(),
  );
});

test('schemas/experiment.schema.json is a valid JSON Schema 2020-12 (kdx compiles it without this check)', () => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'bareName', schemaType: 'boolean' });
  assert.equal(ajv.validateSchema(experimentSchema), true, ajv.errorsText(ajv.errors));
  // And a schema that breaks the meta-schema is caught by this very check.
  assert.equal(ajv.validateSchema({ ...experimentSchema, type: 'mapping' }), false);
});
