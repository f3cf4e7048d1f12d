// `--set KEY=VALUE` and sweep grid keys. KEY is a params name (`T`) or a dotted path into the file
// (`optimizer.lr`, `stages.kd_student.epochs`, `models.student[0].conv2d.filters`). VALUE is read as
// YAML, so `2` is a number, `[1, 2]` a list and `adamw` a string.
import { parse as parseYaml } from 'yaml';
import type { Diagnostic, PathSegment } from './diagnostics.js';
import { formatPath } from './diagnostics.js';
import { closest, didYouMean } from '../util/suggest.js';
import { experimentSchema } from './schema.js';

export interface Override {
  /** As the user wrote it, for messages. */
  text: string;
  key: string;
  value: unknown;
}

/** Collections whose keys are names the user chose: a missing name there is a typo, not a new key. */
const NAMED_COLLECTIONS = new Set(['models', 'stages']);

export function parseOverride(text: string): Override | Diagnostic {
  const eq = text.indexOf('=');
  if (eq <= 0) return { override: text, path: '', message: 'expected KEY=VALUE, e.g. --set T=2 or --set optimizer.lr=3e-4' };
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  try {
    return { text, key, value: raw.trim() === '' ? '' : parseYaml(raw) };
  } catch (error) {
    return { override: text, path: key, message: `cannot read the value "${raw}": ${(error as Error).message.split('\n')[0]}` };
  }
}

/** `a.b[0].c` or `a.b.0.c` -> ['a', 'b', 0, 'c']. */
export function parseKeyPath(key: string): PathSegment[] {
  const path: PathSegment[] = [];
  for (const part of key.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      path.push(part);
      continue;
    }
    if (match[1] !== '') path.push(/^\d+$/.test(match[1]) ? Number(match[1]) : match[1]);
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) path.push(Number(index[1]));
  }
  return path;
}

/**
 * Applies one override to the plain data of an experiment file, in place. Returns the path it set, or
 * a diagnostic naming the override.
 */
export function applyOverride(data: Record<string, unknown>, override: Override): PathSegment[] | Diagnostic {
  const problem = (path: PathSegment[], message: string): Diagnostic => ({ override: override.text, path: formatPath(path), message });
  const params = isObject(data.params) ? data.params : undefined;
  let path = parseKeyPath(override.key);
  if (path.length === 0 || path.some((segment) => segment === '')) return problem(path, `"${override.key}" is not a key`);
  if (path.length === 1 && params && Object.hasOwn(params, path[0])) path = ['params', path[0]];
  else if (path.length === 1 && !Object.hasOwn(topLevelKeys, path[0])) {
    const known = params ? Object.keys(params) : [];
    const guess = meantKey(String(path[0]), known);
    const hint = guess ? ` (did you mean "${guess}"?)` : known.length ? ` (params: ${known.join(', ')})` : ' (the file has no params)';
    return problem(path, `no parameter or top-level key "${path[0]}"${hint}; use a params name or a dotted path such as optimizer.lr`);
  }

  let node: unknown = data;
  for (let i = 0; i < path.length - 1; i++) {
    const segment = path[i];
    const parent = node as Record<string | number, unknown>;
    let child = parent[segment];
    if (child === undefined || child === null) {
      if (i > 0 && NAMED_COLLECTIONS.has(String(path[i - 1])) || Array.isArray(parent)) {
        const known = Array.isArray(parent) ? [] : Object.keys(parent);
        const hint = didYouMean(String(segment), known) || (known.length ? ` (${String(path[i - 1])}: ${known.join(', ')})` : '');
        const what = Array.isArray(parent) ? `no item ${segment} (the list has ${parent.length})` : `no "${segment}"${hint}`;
        return problem(path.slice(0, i + 1), what);
      }
      child = typeof path[i + 1] === 'number' ? [] : {};
      parent[segment] = child;
    }
    if (typeof child !== 'object') {
      return problem(path.slice(0, i + 1), `is ${JSON.stringify(child)}, not something with keys, so ${formatPath(path)} cannot be set`);
    }
    node = child;
  }
  (node as Record<string | number, unknown>)[path[path.length - 1]] = override.value;
  return path;
}

/** Besides params names, `--set KEY=VALUE` without a dot sets a top-level key of the file (`seed=3`). */
const topLevelKeys = experimentSchema.properties as Record<string, unknown>;

/**
 * The params name or top-level key a one-word override probably meant: the nearest by spelling, else
 * a params name that abbreviates it (`T` for `Temp` or `temperature`, since params names are often short).
 */
function meantKey(key: string, params: string[]): string | undefined {
  const abbreviations = params.filter((name) => key.toLowerCase().startsWith(name.toLowerCase()));
  return closest(key, [...params, ...Object.keys(topLevelKeys)]) ?? abbreviations.sort((a, b) => b.length - a.length)[0];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function isDiagnostic(value: unknown): value is Diagnostic {
  return isObject(value) && typeof value.message === 'string' && 'path' in value;
}
