// The JSON Schema of an experiment file, compiled once, and ajv's errors turned into plain words.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import type { DataValidateFunction } from 'ajv/dist/types/index.js';
import type { PathSegment } from './diagnostics.js';
import { closest, didYouMean } from '../util/suggest.js';

export const schemaUrl = new URL('../../schemas/experiment.schema.json', import.meta.url);
export const experimentSchema = JSON.parse(readFileSync(schemaUrl, 'utf8')) as Record<string, unknown>;

// Compiled at every start, so compiled cheaply (half the CPU time): the schema is not checked against the
// JSON Schema meta-schema here (test/config/schema.test.ts does that), nor is the generated code optimised.
const ajv = new Ajv2020({
  allErrors: true, verbose: true, useDefaults: true, strict: true, allowUnionTypes: true,
  validateSchema: false, code: { optimize: false },
});
const defs = experimentSchema.$defs as Record<string, { properties?: Record<string, unknown> }>;

/**
 * kdx's keyword `bareName: true`, on a `$defs` entry of `{name: arguments}` form (layer, transform, loss):
 * a bare name (`- conv2d`) stands for the entry without arguments, `{conv2d: {}}`, and is checked as that,
 * so a name whose arguments are required says which instead of passing the schema and failing in tfjs.
 */
ajv.addKeyword({
  keyword: 'bareName',
  schemaType: 'boolean',
  errors: true,
  compile(_enabled: boolean, parentSchema: object) {
    const def = Object.keys(defs).find((name) => defs[name] === parentSchema);
    if (def === undefined) throw new Error('bareName belongs on a $defs entry of the experiment schema');
    const validate: DataValidateFunction = (data: unknown): boolean => {
      if (typeof data !== 'string' || defs[def].properties?.[data] === undefined) return true;
      const entry = ajv.getSchema(`${experimentSchema.$id as string}#/$defs/${def}/properties/${data}`)!;
      if (entry({})) return true;
      const missing = (entry.errors ?? []).filter((e) => e.keyword === 'required').map((e) => String(e.params.missingProperty));
      validate.errors = [{ keyword: 'bareName', message: 'needs arguments', params: { name: data, missing } }];
      return false;
    };
    return validate;
  },
});
const validateFile = ajv.compile(experimentSchema);

/**
 * Fills the schema's defaults into a normalised `{name: arguments}` entry of a `$defs` kind (layer,
 * transform, loss), so `{dense: 10}`, `{dense: {units: 10}}` and `{dense: {units: 10, bias: true}}` end up
 * equal — and so do their job keys.
 */
export function withDefaults(def: 'layer' | 'transform' | 'loss' | 'lossTerm', type: string, args: Record<string, unknown>): Record<string, unknown> {
  const validate = ajv.getSchema(`${experimentSchema.$id as string}#/$defs/${def}`)!;
  const entry = { [type]: structuredClone(args) };
  validate(entry); // already valid; this only fills defaults
  return entry[type];
}

export interface SchemaProblem {
  path: PathSegment[];
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  onKey: boolean;
}

/** Validates in place (filling defaults) and returns every problem found. */
export function checkSchema(data: unknown): SchemaProblem[] {
  if (validateFile(data)) return [];
  const errors = fittingBranches(validateFile.errors ?? []);
  // `{conv2d: {filter: 4}}` is one mistake: the unknown key's did-you-mean names the missing one.
  const misspelt = new Set(
    errors.filter((e) => e.keyword === 'additionalProperties').map((e) => `${e.instancePath}/${closest(String(e.params.additionalProperty), knownKeys(e))}`),
  );
  const problems = errors
    .filter((e) => !(e.keyword === 'required' && misspelt.has(`${e.instancePath}/${String(e.params.missingProperty)}`)))
    .map((error) => describe(error, data));
  return dedupe(problems.filter((p): p is SchemaProblem => p !== undefined));
}

/**
 * ajv reports every branch of a failed oneOf or anyOf. When one branch fits the value better than the
 * others (its type and keys are right, so its errors lie inside the value: `{fraction: 10}` is a fraction
 * that is too large, not a `first` without its key), that branch's errors alone say what is wrong.
 * Otherwise every branch's errors stay, with the union's own.
 */
function fittingBranches(errors: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const union of errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
    if (Array.isArray((union.params as { passingSchemas?: unknown }).passingSchemas)) continue; // several fit
    const prefix = `${union.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const error of errors) {
      if (!error.schemaPath.startsWith(prefix)) continue;
      const branch = error.schemaPath.slice(prefix.length).split('/')[0];
      branches.set(branch, [...(branches.get(branch) ?? []), error]);
    }
    // How badly a branch misses: its errors at the value itself (type, missing or unknown keys).
    const misses = (branch: ErrorObject[]) => branch.filter((error) => error.instancePath === union.instancePath).length;
    const ranked = [...branches.values()].sort((a, b) => misses(a) - misses(b));
    if (ranked.length < 2 || misses(ranked[0]) === misses(ranked[1])) continue;
    dropped.add(union);
    for (const branch of ranked.slice(1)) for (const error of branch) dropped.add(error);
  }
  return errors.filter((error) => !dropped.has(error));
}

/** The keys a mapping's schema allows, for did-you-mean. */
function knownKeys(error: ErrorObject): string[] {
  return Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
}

/**
 * Validates one value against a `$defs` entry (filling defaults), with paths relative to `at`: for parts of
 * a model that are only known once expanded (a reusable block's layers with its arguments filled in).
 */
export function checkDefinition(def: string, value: unknown, at: PathSegment[] = []): SchemaProblem[] {
  const validate = ajv.getSchema(`${experimentSchema.$id as string}#/$defs/${def}`)!;
  if (validate(value)) return [];
  const problems = fittingBranches(validate.errors ?? []).map((error) => describe(error, value));
  return dedupe(problems.filter((p): p is SchemaProblem => p !== undefined)).map((p) => ({ ...p, path: [...at, ...p.path] }));
}

function describe(error: ErrorObject, root: unknown): SchemaProblem | undefined {
  const path = decodePointer(error.instancePath);
  const value = valueAt(root, path);
  const got = ` (got ${show(value)})`;
  const p = error.params as Record<string, unknown>;
  const known = knownKeys(error);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      if (key.startsWith('x-')) return { path: [...path, key], message: `unknown key "${key}": x- keys (a home for YAML anchors) go at the top level of the file only`, onKey: true };
      const allowed = known.length ? didYouMean(key, known) || `; allowed: ${known.join(', ')}` : '';
      return { path: [...path, key], message: `unknown key "${key}"${allowed}`, onKey: true };
    }
    case 'required': // at the key of the mapping that lacks it (its value may start lines below)
      return { path, message: `missing required key "${p.missingProperty}"`, onKey: true };
    case 'bareName': {
      const [name, missing] = [String(p.name), p.missing as string[]];
      if (missing.length === 0) return { path, message: `${name} needs a value: write it as {${name}: ...}`, onKey: false };
      const example = missing.map((key) => `${key}: ...`).join(', ');
      return { path, message: `${name} needs ${missing.join(' and ')}: write it as {${name}: {${example}}}`, onKey: false };
    }
    case 'type':
      return { path, message: `must be ${article(String(p.type))}${got}`, onKey: false };
    case 'minimum':
      return { path, message: `must be >= ${p.limit}${got}`, onKey: false };
    case 'maximum':
      return { path, message: `must be <= ${p.limit}${got}`, onKey: false };
    case 'exclusiveMinimum':
      return { path, message: `must be > ${p.limit}${got}`, onKey: false };
    case 'exclusiveMaximum':
      return { path, message: `must be < ${p.limit}${got}`, onKey: false };
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const hint = typeof value === 'string' ? didYouMean(value, allowed) : '';
      return { path, message: `must be one of ${allowed.join(', ')}${got}${hint}`, onKey: false };
    }
    case 'minItems':
      return { path, message: `must have at least ${p.limit} item${p.limit === 1 ? '' : 's'}${got}`, onKey: false };
    case 'maxItems':
      return { path, message: `must have at most ${p.limit} items${got}`, onKey: false };
    case 'minProperties':
      return { path, message: p.limit === 1 ? 'must not be empty' : `must have at least ${p.limit} keys`, onKey: false };
    case 'maxProperties': {
      if (p.limit === 0) return { path, message: `takes no arguments${got}`, onKey: false };
      const keys = value && typeof value === 'object' ? Object.keys(value) : [];
      return { path, message: `must have exactly one key, {name: arguments} (got ${keys.join(', ')})`, onKey: false };
    }
    case 'minLength':
      return { path, message: 'must not be empty', onKey: false };
    case 'pattern': {
      const message = describePattern(String(p.pattern));
      // A key that breaks `propertyNames` (a stage or model name): ajv reports it on the mapping and
      // names the key, which is where the mistake is.
      if (error.propertyName !== undefined) return { path: [...path, error.propertyName], message: `${message} (got ${JSON.stringify(error.propertyName)})`, onKey: true };
      return { path, message: `${message}${got}`, onKey: false };
    }
    case 'propertyNames':
      return undefined; // the nested error (a `pattern`) says what is wrong with the name
    case 'if':
      return undefined; // reported by the `then` schema's own error
    case 'uniqueItems':
      return { path, message: `lists the same item twice (items ${p.j} and ${p.i})`, onKey: false };
    default:
      return { path, message: error.message ?? 'is invalid', onKey: false };
  }
}

/** Property-name errors point at the key; ajv reports them on the object with `propertyName`. */
function dedupe(problems: SchemaProblem[]): SchemaProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const id = JSON.stringify([problem.path, problem.message]);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** JSON Pointer -> path: `~1` is `/` and `~0` is `~`, in every occurrence; array indices become numbers. */
export function decodePointer(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^(0|[1-9]\d*)$/.test(part) ? Number(part) : part));
}

export function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/**
 * A pattern of the schema in words, from its character classes: `^[A-Za-z0-9._-]+$` is "may use only
 * letters, digits and . _ -", `^[A-Za-z_][A-Za-z0-9_-]*$` "must start with a letter or _ and use only
 * letters, digits and _ -". So the message says exactly what the rule allows.
 */
export function describePattern(pattern: string): string {
  const only = /^\^\[([^\]]+)\]\+\$$/.exec(pattern);
  if (only) return `may use only ${characters(only[1], 'all')}`;
  const startThen = /^\^\[([^\]]+)\]\[([^\]]+)\]\*\$$/.exec(pattern);
  if (startThen) return `must start with ${characters(startThen[1], 'one')} and use only ${characters(startThen[2], 'all')}`;
  return `must match the pattern ${pattern}`;
}

/** A character class's contents in words: `A-Za-z0-9._-` -> "letters, digits and . _ -" (or, for one
 * character, "a letter, a digit or . _ -"). */
function characters(set: string, count: 'one' | 'all'): string {
  const ranges: [string, string, string][] = [['A-Za-z', 'letters', 'a letter'], ['0-9', 'digits', 'a digit']];
  const words: string[] = [];
  let rest = set;
  for (const [range, plural, single] of ranges) {
    if (!rest.includes(range)) continue;
    words.push(count === 'all' ? plural : single);
    rest = rest.replace(range, '');
  }
  const symbols = [...rest.replace(/\\/g, '')].join(' ');
  if (symbols === '') return words.join(count === 'all' ? ' and ' : ' or ');
  return `${words.join(', ')} ${count === 'all' ? 'and' : 'or'} ${symbols}`;
}

function article(types: string): string {
  const names = types.split(',').map((t) => (t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : t === 'null' ? 'empty' : /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`));
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length > 4 ? `a list of ${value.length}` : JSON.stringify(value);
  if (typeof value === 'object') return `a mapping with ${Object.keys(value).join(', ') || 'no keys'}`;
  return JSON.stringify(value);
}
