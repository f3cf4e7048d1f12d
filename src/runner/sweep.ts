// Sweep grids: `KEY=V1,V2,...` or `KEY=range(start, stop[, step])` (stop excluded, as in Python and
// Hydra), from --grid or the file's `sweep.grid`. The trials are the grid's cartesian product.
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../errors.js';
import { contentHash } from '../util/hash.js';

export type Grid = Record<string, unknown[]>;

const RANGE = /^range\(\s*([^,()]+?)\s*(?:,\s*([^,()]+?)\s*)?(?:,\s*([^,()]+?)\s*)?\)$/;

/** `range(a)`, `range(a, b)`, `range(a, b, step)`: numbers from a (or 0) up to b, stop excluded. */
export function expandRange(text: string): unknown[] | undefined {
  const match = RANGE.exec(text.trim());
  if (!match) return undefined;
  const args = match.slice(1).filter((a) => a !== undefined).map(Number);
  if (args.some((a) => !Number.isFinite(a))) throw new UsageError(`${text}: range takes numbers`);
  const [start, stop, step] = args.length === 1 ? [0, args[0], 1] : [args[0], args[1], args[2] ?? 1];
  if (step === 0) throw new UsageError(`${text}: the step of a range cannot be 0`);
  const values: number[] = [];
  // Indexing from start (not accumulating) keeps float ranges exact to 12 digits: 0.1*3 is 0.3.
  for (let i = 0; ; i++) {
    const value = Number((start + i * step).toPrecision(12));
    if (step > 0 ? value >= stop : value <= stop) break;
    values.push(value);
    if (values.length > 10_000) throw new UsageError(`${text}: more than 10,000 values`);
  }
  if (values.length === 0) throw new UsageError(`${text}: the range is empty`);
  return values;
}

function parseValues(key: string, text: string): unknown[] {
  const range = expandRange(text);
  if (range) return range;
  if (text.includes('range(')) throw new UsageError(`${key}=${text}: a range stands alone (KEY=range(start,stop,step)), not in a list of values`);
  const values = splitTopLevel(text).map((part) => {
    try {
      return parseYaml(part);
    } catch {
      return part;
    }
  });
  if (values.length === 0 || values.some((v) => v === null || v === '')) throw new UsageError(`--grid ${key}=${text}: an empty value`);
  return values;
}

/** Splits on commas outside brackets, so `betas=[0.9,0.99],[0.8,0.9]` gives two lists. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '[' || ch === '{') depth++;
    if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  parts.push(current.trim());
  return parts;
}

/** --grid arguments -> grid. */
export function parseGridArgs(args: string[]): Grid {
  const grid: Grid = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`--grid ${arg}: expected KEY=V1,V2,... or KEY=range(start,stop,step)`);
    const key = arg.slice(0, eq).trim();
    if (key in grid) throw new UsageError(`--grid ${arg}: ${key} is given twice`);
    grid[key] = parseValues(key, arg.slice(eq + 1));
  }
  return grid;
}

/** The file's `sweep.grid` (lists, or range strings) -> grid. */
export function gridFromFile(grid: Record<string, unknown[] | string>): Grid {
  return Object.fromEntries(Object.entries(grid).map(([key, values]) => [key, typeof values === 'string' ? parseValues(key, values) : values]));
}

export interface TrialPoint {
  id: string;
  params: Record<string, unknown>;
  /** `KEY=VALUE` overrides that produce this point. */
  overrides: string[];
}

/** The cartesian product of the grid, in the grid's key order. Ids are derived from the values. */
export function gridPoints(grid: Grid): TrialPoint[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points.map((params) => ({
    id: `${Object.entries(params).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(',').replace(/[^A-Za-z0-9.,=_-]/g, '_').slice(0, 60)}-${contentHash(params).slice(0, 8)}`,
    params,
    overrides: Object.entries(params).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
  }));
}
