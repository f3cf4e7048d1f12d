// The JSON Schema is the one source of truth of the file format: the generated types must match it, and
// every field must say what it is for (editors show these descriptions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateTypes, typesPath } from '../../scripts/gen-types.js';
import { experimentSchema, decodePointer } from '../../src/config/schema.js';

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
