// Small, pure formatters shared by the results table, the plain reporter and the TUI, so that a number
// reads the same everywhere. Accuracies in events are fractions (0..1); they are shown as percentages.

/** `0.5523` -> `55.2%`; undefined or NaN -> `—`. */
export function pct(fraction: number | undefined, digits = 1): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A difference of two accuracies in percentage points: `0.013` -> `+1.3pt`. */
export function points(delta: number | undefined): string {
  if (delta === undefined || !Number.isFinite(delta)) return '—';
  const value = delta * 100;
  const sign = value > 0.05 ? '+' : value < -0.05 ? '-' : '±';
  return `${sign}${Math.abs(value).toFixed(1)}pt`;
}

/** Seconds as `12.3s`, `4m05s` or `2h03m`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A loss value: 4 significant digits, `—` when missing. */
export function loss(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 ? value.toFixed(0) : value.toPrecision(4);
}

/** A loss's weighted terms as they entered the sum: `crossEntropy 0.1391  kd 0.003086`; '' without terms. */
export function termsText(terms: Record<string, number> | undefined): string {
  return Object.entries(terms ?? {}).map(([name, value]) => `${name} ${loss(value)}`).join('  ');
}

/** Images per second, whole numbers (one decimal below 10). */
export function rate(imgPerSec: number | undefined): string {
  if (imgPerSec === undefined || !Number.isFinite(imgPerSec)) return '—';
  return imgPerSec < 10 ? imgPerSec.toFixed(1) : Math.round(imgPerSec).toString();
}

/** A parameter count: `2473610` -> `2.47M`, `61706` -> `61.7k`. */
export function count(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) {
    if (Math.abs(n) >= size) return `${(n / size).toPrecision(3)}${suffix}`;
  }
  return String(n);
}

/** A size in bytes: `512 B`, `13.4 MB` (decimal units, as `du -h --si` and file managers show). */
export function bytes(n: number): string {
  const units: [number, string][] = [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']];
  for (const [size, suffix] of units) {
    if (n >= size) return `${(n / size).toFixed(1)} ${suffix}`;
  }
  return `${n} B`;
}

/** How long ago `iso` was, coarsely: `40s`, `12m`, `3h`, `5d`. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** A parameter value of a sweep as written in a table cell or label. */
export function paramValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return JSON.stringify(value);
}

/** `{T: 2, alpha: 0.5}` -> `T=2 alpha=0.5`. */
export function paramList(params: Record<string, unknown>): string {
  return Object.entries(params).map(([k, v]) => `${k}=${paramValue(v)}`).join(' ');
}

/** Cuts `text` to `width` characters, ending with `…` when cut. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** The last `width` values as a sparkline of block characters (scaled between their min and max). */
export function sparkline(values: readonly number[], width = 12): string {
  const shown = values.filter((v) => Number.isFinite(v)).slice(-width);
  if (shown.length === 0) return '';
  const min = Math.min(...shown);
  const max = Math.max(...shown);
  if (max - min < 1e-12) return SPARKS[3].repeat(shown.length);
  return shown.map((v) => SPARKS[Math.round(((v - min) / (max - min)) * (SPARKS.length - 1))]).join('');
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A progress bar of exactly `width` cells: full blocks, one partial block, then `░`. */
export function bar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = EIGHTHS[eighths % 8];
  const used = full + (part ? 1 : 0);
  return '█'.repeat(full) + part + '░'.repeat(Math.max(0, width - used));
}

// Matches CSI and OSC sequences and lone ESC-prefixed codes.
const ANSI = /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

/** `text` without terminal escape sequences (for plain output of text that came from elsewhere). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * A job label cut to `width` so that a sweep's labels stay distinct: `stage[k=v,...]` gives up the end of
 * the stage name first, then the parameter names (`[2,0.5]`), and its values last.
 */
export function fitLabel(label: string, width: number): string {
  if (label.length <= width) return label;
  const match = /^(.*?)(\[.*\])$/.exec(label);
  if (!match) return truncate(label, width);
  const [, stage, params] = match;
  const valuesOnly = params.replace(/([[,])[^[,=\]]+=/g, '$1');
  for (const tail of [params, valuesOnly]) {
    const room = width - tail.length;
    if (room >= Math.min(stage.length, 3)) return `${truncate(stage, room)}${tail}`;
  }
  return truncate(`${stage}${valuesOnly}`, width);
}

/** The last line of an interrupted run: resumable only when a stopped job has a finished epoch to go on
 * from (one stopped in its first epoch starts over; jobs that finished are cached either way). */
export function interruptedText(seconds: number, resumable: number | undefined): string {
  const again = resumable === 0 ? 'nothing to resume: run the same command again to train the stopped jobs from the start' : 'resumable: run the same command again';
  return `interrupted after ${duration(seconds)} (${again})`;
}
