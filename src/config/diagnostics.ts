import { UserError, EXIT } from '../errors.js';

/** One problem found in an experiment, located as precisely as the source allows. */
export interface Diagnostic {
  /** Dotted path into the experiment (`stages.kd_student.loss.kd.alpha`, `models.teacher[3]`). */
  path: string;
  message: string;
  file?: string;
  /** 1-based. */
  line?: number;
  col?: number;
  /** The text of the offending line, for the caret display. */
  sourceLine?: string;
  /** When the value came from `--set KEY=VALUE` (or a sweep grid), that override, instead of a file line. */
  override?: string;
  /** Where the override came from: `--set` (the default), `--grid` or `sweep.grid`. */
  overrideFlag?: string;
  /** Other places that explain the problem (the `params` entry a `${name}` read, where YAML gave up), each
   * shown after the diagnostic with its own source line. */
  notes?: Note[];
}

/** A second place of a diagnostic: located like it, but not a problem of its own. */
export type Note = Pick<Diagnostic, 'file' | 'line' | 'col' | 'path' | 'message' | 'sourceLine'>;

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    // A key that would read as more than one (`kd.v2`, `a b`) is quoted: `stages["kd.v2"]`.
    else if (!/^[\w$-]+$/.test(segment)) out += `[${JSON.stringify(segment)}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out || '(top level)';
}

/** `file:line:col  path  message`, then the source line with a caret under the column; then each note,
 * indented and marked `note:`, so that every line starting with a location is an error of its own. */
export function formatDiagnostic(d: Diagnostic): string {
  const head =
    d.override !== undefined
      ? [`${d.overrideFlag ?? '--set'} ${d.override}`, d.path, d.message].filter((part) => part !== '').join('  ')
      : located(d);
  const notes = (d.notes ?? []).map((note) => `  note: ${located(note).replaceAll('\n', '\n  ')}`);
  return [head, ...notes].join('\n');
}

function located(d: Note): string {
  const where = d.file === undefined ? '' : d.line === undefined ? d.file : `${d.file}:${d.line}:${d.col}`;
  const head = [where, d.path, d.message].filter((part) => part !== '').join('  ');
  if (d.sourceLine === undefined || d.line === undefined || d.col === undefined) return head;
  const gutter = String(d.line).length;
  return [
    head,
    `  ${String(d.line)} | ${d.sourceLine}`,
    `  ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, d.col - 1))}^`,
  ].join('\n');
}

/** Every problem of an experiment at once. Exit 2, nothing written. */
export class ConfigError extends UserError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'), EXIT.usage);
  }

  /** The message plus a count, as `kdx validate` prints it. */
  report(): string {
    const n = this.diagnostics.length;
    return `${this.message}\n\n${n} error${n === 1 ? '' : 's'}`;
  }
}
