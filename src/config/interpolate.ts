// `${name}` references to `params`. A string that is exactly one reference takes the parameter's value
// and type (`epochs: ${epochs}` stays a number); a reference inside a longer string is substituted as text.
import type { PathSegment } from './diagnostics.js';
import { didYouMean } from '../util/suggest.js';

const REFERENCE = /\$\{([^}]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([^}]*)\}$/;

export interface InterpolationProblem {
  path: PathSegment[];
  message: string;
}

/** A value that reads a parameter: `path` holds `${name}`. */
export interface ParameterUse {
  path: PathSegment[];
  name: string;
}

/** A copy of `value` with every reference replaced; unknown references are reported, not thrown, and
 * every reference found is recorded in `uses`. */
export function interpolate(
  value: unknown,
  params: Record<string, unknown>,
  problems: InterpolationProblem[],
  path: PathSegment[] = [],
  uses: ParameterUse[] = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, params, problems, path, uses);
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, params, problems, [...path, i], uses));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = interpolate(item, params, problems, [...path, key], uses);
    return out;
  }
  return value;
}

/** A misspelt name, else one spelt out or shortened (`Temp` for `T`), else the names there are. */
function parameterHint(name: string, known: string[]): string {
  if (known.length === 0) return ' (the file has no params)';
  const lower = name.toLowerCase();
  const prefix = known.find((k) => lower.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(lower));
  return didYouMean(name, known) || (prefix === undefined ? ` (params: ${known.join(', ')})` : ` (did you mean "${prefix}"?)`);
}

function interpolateString(
  text: string,
  params: Record<string, unknown>,
  problems: InterpolationProblem[],
  path: PathSegment[],
  uses: ParameterUse[],
): unknown {
  const lookup = (rawName: string): unknown => {
    const name = rawName.trim();
    if (Object.hasOwn(params, name)) {
      uses.push({ path, name });
      return params[name];
    }
    problems.push({ path, message: `undefined parameter \${${name}}${parameterHint(name, Object.keys(params))}` });
    return undefined;
  };
  const whole = WHOLE_REFERENCE.exec(text);
  if (whole) return lookup(whole[1]) ?? text;
  return text.replace(REFERENCE, (match, name: string) => {
    const found = lookup(name);
    return found === undefined ? match : String(found);
  });
}
