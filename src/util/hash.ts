// Content hashes for job keys. A key must depend on exactly the data that determines a result, so the
// hash is taken over a canonical text of that data: object keys sorted, `undefined` members left out,
// numbers in JavaScript's shortest round-trip form (-0 is 0). The text is JSON, and it is the same for a
// value and for that value written out and read back (JSON.parse(JSON.stringify(x))), so a config saved
// to disk hashes like the one in memory.
//
// What cannot be written as JSON without losing information is refused rather than silently dropped:
// NaN and ±Infinity, bigint, functions and symbols, Maps, Sets, typed arrays, class instances without
// `toJSON`, and cycles. A key built from such a value would hide a difference, so it is a bug to find early.
import { createHash } from 'node:crypto';

/** Thrown when a value cannot be hashed faithfully; `path` points at the offending member (`a.b[2]`). */
export class UnhashableValueError extends TypeError {
  constructor(readonly path: string, what: string) {
    super(`cannot hash ${path || 'the value'}: ${what}`);
    this.name = 'UnhashableValueError';
  }
}

/** Canonical JSON text of `value`: sorted keys, no whitespace, `undefined` members omitted. */
export function stableStringify(value: unknown): string {
  const out = write(value, '', new Set());
  if (out === undefined) throw new UnhashableValueError('', 'undefined');
  return out;
}

/** sha256 (hex) of the canonical text of `value`: equal for values equal as JSON data, whatever their key order. */
export function contentHash(value: unknown): string {
  return sha256Hex(stableStringify(value));
}

/** sha256 (hex) of bytes or of a string's UTF-8 — for dataset files, weights, anything not a JSON value. */
export function hashBytes(data: string | Uint8Array): string {
  return sha256Hex(data);
}

/** The first 12 hex digits of a hash: the short id that events, labels and the UI show. */
export function shortKey(hash: string): string {
  return hash.slice(0, 12);
}

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return name ? `a ${name}` : 'an object';
}

function memberPath(parent: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (parent ? `${parent}.${key}` : key) : `${parent}[${JSON.stringify(key)}]`;
}

/** The text of `value`, or undefined when it is left out (undefined itself). */
function write(value: unknown, path: string, seen: Set<object>): string | undefined {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new UnhashableValueError(path, `${value} is not a finite number`);
      return JSON.stringify(value); // shortest round-trip form; -0 prints as 0
    case 'bigint':
      throw new UnhashableValueError(path, 'a bigint (convert it to a number or a string)');
    case 'function':
    case 'symbol':
      throw new UnhashableValueError(path, `a ${typeof value}`);
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (seen.has(obj)) throw new UnhashableValueError(path, 'a circular reference');

  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    // As JSON.stringify does (Date -> ISO string). Guard against a toJSON that returns its own object.
    const replaced = (obj as { toJSON: (key: string) => unknown }).toJSON('');
    if (replaced === obj) throw new UnhashableValueError(path, 'toJSON() returned the object itself');
    seen.add(obj);
    try {
      return write(replaced, path, seen);
    } finally {
      seen.delete(obj);
    }
  }

  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const parts: string[] = [];
      for (let i = 0; i < obj.length; i++) parts.push(write(obj[i], `${path}[${i}]`, seen) ?? 'null'); // as JSON
      return `[${parts.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw new UnhashableValueError(path, `${describe(obj)} (only plain objects and arrays)`);
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const text = write(record[key], memberPath(path, key), seen);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
