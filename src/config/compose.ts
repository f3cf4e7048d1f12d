// `extends: FILE`: an experiment file that starts from another and overrides its keys. Mappings merge key
// by key, at any depth; any other value (a list, a number) replaces the base's. A value is located in the
// file that wrote it, so a mistake made in a base file is reported there.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { Diagnostic, PathSegment } from './diagnostics.js';
import { diagnosticAt, parseSource, type Source } from './source.js';

/** One file of an `extends` chain, parsed, without its top-level `x-` keys. */
export interface Layer {
  source: Source;
  /** Absolute path. */
  file: string;
  data: unknown;
}

export interface Composed {
  /** The merged data (undefined when a file could not be read or parsed: see `errors`). */
  data: unknown;
  /** The file given first, then the file it extends, and so on. */
  layers: Layer[];
  /** Syntax errors, missing files and cycles, located. */
  errors: Diagnostic[];
}

type Data = Record<string, unknown>;
const isMapping = (value: unknown): value is Data => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Removes the top-level `x-` keys: a home for YAML anchors that kdx does not read. Only there, as the
 * schema says: deeper, an `x-` key could be a real one (a param, a plugin's argument) silently dropped. */
export function withoutExtensionKeys(value: unknown): unknown {
  if (!isMapping(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith('x-')));
}

const toData = (source: Source): unknown => withoutExtensionKeys(JSON.parse(JSON.stringify(source.doc.toJS({ maxAliasCount: 1000 }) ?? null)));

/** Reads `file` (whose text is given) and every file it extends, and merges them. */
export function compose(file: string, text: string): Composed {
  const layers: Layer[] = [];
  const errors: Diagnostic[] = [];
  let { source, syntaxErrors } = parseSource(file, text);
  let absolute = resolve(file);
  for (;;) {
    if (syntaxErrors.length > 0) {
      errors.push(...syntaxErrors);
      return { data: undefined, layers, errors };
    }
    const data = toData(source);
    layers.push({ source, file: absolute, data });
    if (!isMapping(data) || data.extends === undefined) break;
    const fail = (message: string) => {
      errors.push(diagnosticAt(source, ['extends'], message));
      return { data: undefined, layers, errors };
    };
    if (typeof data.extends !== 'string' || data.extends === '') return fail('must be the path of the file this one starts from');
    const base = resolve(dirname(absolute), data.extends);
    const chain = layers.map((l) => l.file);
    if (chain.includes(base)) {
      // Each file named as kdx shows it in messages: as given, or relative to the working directory.
      const cycle = layers.slice(chain.indexOf(base));
      const names = [...cycle, cycle[0]].map((layer) => layer.source.file);
      // At the first file of the cycle (the one given, when it is in it), where the cycle is entered.
      errors.push(diagnosticAt(cycle[0].source, ['extends'], `the files extend each other in a cycle: ${names.join(' -> ')}`));
      return { data: undefined, layers, errors };
    }
    let baseText: string;
    try {
      baseText = readFileSync(base, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return fail(`cannot extend ${data.extends}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : `cannot read it (${code})`}`);
    }
    ({ source, syntaxErrors } = parseSource(relative(process.cwd(), base) || base, baseText));
    absolute = base;
  }
  const merged = layers.reduceRight<unknown>((base, layer) => (base === undefined ? withoutExtends(layer.data) : merge(base, withoutExtends(layer.data))), undefined);
  return { data: merged, layers, errors };
}

function withoutExtends(data: unknown): unknown {
  if (!isMapping(data)) return data;
  const { extends: _, ...rest } = data;
  return rest;
}

/** `over` on top of `base`: mappings key by key, anything else replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Data = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = Object.hasOwn(base, key) ? merge(base[key], value) : value;
  return out;
}

/** Whether `data` holds a value at `path`. */
function holds(data: unknown, path: readonly PathSegment[]): number {
  let node = data;
  for (let depth = 0; depth < path.length; depth++) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, path[depth])) return depth;
    node = (node as Record<string | number, unknown>)[path[depth]];
  }
  return path.length;
}

/** The file of a chain that wrote the value at `path`: the first (most derived) that holds the whole path,
 * else the one that holds the longest part of it. */
export function ownerOf(layers: Layer[], path: readonly PathSegment[]): Layer {
  let best = layers[0];
  let bestDepth = -1;
  for (const layer of layers) {
    const depth = holds(layer.data, path);
    if (depth === path.length) return layer;
    if (depth > bestDepth) [best, bestDepth] = [layer, depth];
  }
  return best;
}
