// The results table: ResultRow[] -> one column model -> text (terminal), markdown (results.md,
// summary.md) or CSV (results.csv). Every rendering reads the same `Table`, so a column is declared once.
//
// A run (one row, no trial id) shows a line per stage. A sweep shows a line per trial: its parameter
// values, each stage's final and best test accuracy, and each distilling stage's KD gain over its plain
// counterpart (same model, no teacher); trials are ranked by the KD gain, as a note under the table says.
import type { JobState, JobSummary, ResultRow } from '../events.js';
import { count, duration, paramValue, pct, points, rate, truncate } from './format.js';
import { hasSeeds, seedGroups, type Gain, type SeedGroup, type Stat } from './seeds.js';

export type TableFormat = 'text' | 'markdown' | 'csv';
export type CellValue = string | number | boolean | null | undefined;

export interface Column {
  /** Stable id; the CSV header. */
  id: string;
  /** Heading in text and markdown. */
  header: string;
  /** Adjacent columns with the same group share a heading above theirs (a stage name in a sweep). */
  group?: string;
  align: 'left' | 'right';
  /** The formats the column appears in; all when omitted. */
  only?: readonly TableFormat[];
  /** Text only: when the table is wider than allowed, the column with the highest value goes first. */
  dropOrder?: number;
}

export interface Cell {
  /** The value as data (CSV): numbers unrounded, accuracies as fractions. */
  raw: CellValue;
  /** The value as shown in text and markdown. */
  text: string;
}

export interface Table {
  kind: 'run' | 'sweep';
  columns: Column[];
  rows: Cell[][];
  /** Lines shown under the table in text and markdown (e.g. why a stage failed). */
  notes: string[];
}

type StageEntry = ResultRow['stages'][string];
type StageResult = JobSummary & { job: string; status: JobState };

function hasSummary(entry: StageEntry | undefined): entry is StageResult {
  return entry !== undefined && 'finalAccuracy' in entry;
}

function errorOf(entry: StageEntry | undefined): string | undefined {
  return entry && 'error' in entry ? entry.error : undefined;
}

/** Why stages have no result, one note per distinct reason: a missing dataset fails every stage alike. */
class ProblemNotes {
  private readonly byReason = new Map<string, string[]>();

  add(who: string, status: string | undefined, error: string): void {
    const reason = `${status ?? 'failed'}: ${error}`;
    this.byReason.set(reason, [...(this.byReason.get(reason) ?? []), who]);
  }

  lines(): string[] {
    return [...this.byReason].map(([reason, whos]) => `${whos.join(', ')} ${reason}`);
  }
}

const cell = (raw: CellValue, text?: string): Cell => ({ raw, text: text ?? (raw === undefined || raw === null ? '—' : String(raw)) });
const accCell = (v: number | undefined): Cell => cell(v, pct(v));

/** Builds the table of a run or a sweep (`kind` defaults to `run` for one row without a trial id). */
export function resultsTable(rows: readonly ResultRow[], options: { kind?: 'run' | 'sweep' } = {}): Table {
  const kind = options.kind ?? (rows.length === 1 && rows[0].trial === undefined ? 'run' : 'sweep');
  if (hasSeeds(rows)) return kind === 'run' ? seedRunTable(seedGroups(rows)[0]) : seedSweepTable(seedGroups(rows));
  return kind === 'run' ? runTable(rows[0]) : sweepTable(rows);
}

/** `72.7% ± 2.1` (mean ± std in percentage points); `—` without values. */
function spreadText(s: Stat | undefined, digits = 1, scale = 100, unit = '%'): string {
  if (!s) return '—';
  return `${(s.mean * scale).toFixed(digits)}${unit}${s.std === undefined ? '' : ` ± ${(s.std * scale).toFixed(digits)}`}`;
}

/** `+2.6pt [+1.2, +4.0]`: the mean paired gain and its 95% interval (none for one seed). */
function gainText(g: Gain | undefined): string {
  if (!g) return '—';
  const bound = (v: number) => points(v).replace('pt', '');
  return g.low === undefined ? points(g.mean) : `${points(g.mean)} [${bound(g.low)}, ${bound(g.high!)}]`;
}

/** The note under a seeds table for each distilled stage: the gain, its interval, and every seed's. */
function gainNotes(group: SeedGroup): string[] {
  return Object.entries(group.kdGains).map(([stage, g]) => {
    const interval = g.low === undefined ? '(one seed: no interval)' : `(95% CI ${points(g.low)} to ${points(g.high)}, paired t over ${g.n} seeds)`;
    const std = g.std === undefined ? '' : ` ± ${(g.std * 100).toFixed(1)}`;
    return `KD gain ${stage}: ${points(g.mean)}${std} ${interval}; per seed ${g.perSeed.map((d) => points(d)).join(', ')}`;
  });
}

/** A run over several seeds: one line per stage, mean ± std over the seeds. */
function seedRunTable(group: SeedGroup | undefined): Table {
  const columns: Column[] = [
    { id: 'stage', header: 'stage', align: 'left' },
    { id: 'seeds', header: 'seeds', align: 'right', dropOrder: 5 },
    { id: 'final_accuracy', header: 'final (mean ± std)', align: 'right' },
    { id: 'final_accuracy_std', header: 'final std', align: 'right', only: ['csv'] },
    { id: 'best_accuracy', header: 'best', align: 'right', dropOrder: 4 },
    { id: 'top5_accuracy', header: 'top-5', align: 'right', dropOrder: 1 },
    { id: 'ece', header: 'ECE', align: 'right', dropOrder: 2 },
    { id: 'teacher_agreement', header: 'agree', align: 'right', dropOrder: 3 },
    { id: 'kd_gain', header: 'KD gain', align: 'right' },
    { id: 'kd_gain_low', header: 'KD gain 95% low', align: 'right', only: ['csv'] },
    { id: 'kd_gain_high', header: 'KD gain 95% high', align: 'right', only: ['csv'] },
  ];
  const rows = Object.entries(group?.stages ?? {}).map(([stage, m]): Cell[] => {
    const gain = group!.kdGains[stage];
    return [
      cell(stage), cell(m.finalAccuracy?.n), cell(m.finalAccuracy?.mean, spreadText(m.finalAccuracy)), cell(m.finalAccuracy?.std),
      cell(m.bestAccuracy?.mean, spreadText(m.bestAccuracy)), cell(m.top5Accuracy?.mean, spreadText(m.top5Accuracy)),
      cell(m.ece?.mean, spreadText(m.ece, 3, 1, '')), cell(m.teacherAgreement?.mean, spreadText(m.teacherAgreement)),
      cell(gain?.mean, gainText(gain)), cell(gain?.low), cell(gain?.high),
    ];
  });
  const seeds = group ? `seeds ${group.seeds.join(', ')}: mean ± std (sample)` : '';
  return { kind: 'run', columns, rows, notes: [...(seeds ? [seeds] : []), ...(group ? gainNotes(group) : [])] };
}

/** A sweep over several seeds: one line per grid point, each stage's final accuracy as mean ± std. */
function seedSweepTable(groups: SeedGroup[]): Table {
  const paramKeys = [...new Set(groups.flatMap((g) => Object.keys(g.params)))];
  const stages = [...new Set(groups.flatMap((g) => Object.keys(g.stages)))];
  const distilled = new Set(groups.flatMap((g) => Object.keys(g.kdGains)));
  const columns: Column[] = [
    { id: 'rank', header: '#', align: 'right' },
    ...paramKeys.map((key): Column => ({ id: key, header: key, align: 'left' })),
    { id: 'seeds', header: 'seeds', align: 'right', dropOrder: 1 },
  ];
  for (const stage of stages) {
    columns.push({ id: `${stage}.final_accuracy`, header: 'final', group: stage, align: 'right' });
    columns.push({ id: `${stage}.final_accuracy_std`, header: 'std', group: stage, align: 'right', only: ['csv'] });
    if (distilled.has(stage)) {
      columns.push(
        { id: `${stage}.kd_gain`, header: 'KD gain [95% CI]', group: stage, align: 'right' },
        { id: `${stage}.kd_gain_low`, header: 'low', group: stage, align: 'right', only: ['csv'] },
        { id: `${stage}.kd_gain_high`, header: 'high', group: stage, align: 'right', only: ['csv'] },
      );
    }
  }
  const bestGain = (g: SeedGroup) => Math.max(-Infinity, ...Object.values(g.kdGains).map((k) => k.mean));
  const ranked = groups.map((g, i) => ({ g, i })).sort((a, b) => bestGain(b.g) - bestGain(a.g) || a.i - b.i).map((x) => x.g);
  const rows = ranked.map((g, rank): Cell[] => {
    const cells: Cell[] = [cell(rank + 1)];
    for (const key of paramKeys) cells.push(cell(g.params[key] as CellValue, g.params[key] === undefined ? '—' : paramValue(g.params[key])));
    cells.push(cell(g.seeds.length));
    for (const stage of stages) {
      const final = g.stages[stage]?.finalAccuracy;
      cells.push(cell(final?.mean, spreadText(final)), cell(final?.std));
      if (distilled.has(stage)) {
        const gain = g.kdGains[stage];
        cells.push(cell(gain?.mean, gainText(gain)), cell(gain?.low), cell(gain?.high));
      }
    }
    return cells;
  });
  const notes = distilled.size > 0 ? ['mean ± std over the seeds; KD gain: mean of the paired per-seed differences, 95% CI from Student\'s t; ranked by the mean KD gain'] : [];
  return { kind: 'sweep', columns, rows, notes };
}

function runTable(row: ResultRow | undefined): Table {
  const columns: Column[] = [
    { id: 'stage', header: 'stage', align: 'left' },
    { id: 'status', header: 'status', align: 'left', dropOrder: 2 },
    { id: 'model', header: 'model', align: 'left', dropOrder: 1 },
    { id: 'params', header: 'params', align: 'right' },
    { id: 'best_accuracy', header: 'best', align: 'right' },
    { id: 'final_accuracy', header: 'final', align: 'right' },
    { id: 'seconds', header: 'time', align: 'right' },
    { id: 'img_per_sec', header: 'img/s', align: 'right' },
    { id: 'backend', header: 'backend', align: 'left', dropOrder: 3 },
    { id: 'epochs', header: 'epochs', align: 'right', only: ['csv'] },
    { id: 'final_loss', header: 'final loss', align: 'right', only: ['csv'] },
    { id: 'job', header: 'job', align: 'left', only: ['csv'] },
    { id: 'error', header: 'error', align: 'left', only: ['csv'] },
  ];
  columns.push({ id: 'kd_gain', header: 'KD gain', align: 'right', only: ['csv'] });
  // The metrics KD papers report, for results that have them (entries trained before kdx measured them
  // have none): shown after `final`, dropped before the time when the terminal is narrow.
  const entries = Object.values(row?.stages ?? {}).filter(hasSummary);
  const extra = PAPER_METRICS.filter((m) => entries.some((e) => e[m.field] !== undefined));
  columns.splice(6, 0, ...extra.map((m, i): Column => ({ id: m.id, header: m.header, align: 'right', dropOrder: 4 + extra.length - i })));
  const extraCells = (entry: StageResult | undefined) => extra.map((m) => cell(entry?.[m.field], entry?.[m.field] === undefined ? '—' : m.text(entry[m.field]!)));
  const out: Cell[][] = [];
  const notes: string[] = [];
  const problems = new ProblemNotes();
  const gains = Object.entries(row?.kdGains ?? {}).filter((g): g is [string, number] => g[1] !== null);
  if (gains.length > 0) notes.push(`KD gain: ${gains.map(([stage, gain]) => `${stage} ${points(gain)}`).join(', ')}`);
  for (const [stage, entry] of Object.entries(row?.stages ?? {})) {
    const gain = row?.kdGains?.[stage] ?? undefined;
    if (hasSummary(entry)) {
      out.push([
        cell(stage), cell(entry.status), cell(entry.model), cell(entry.params, count(entry.params)),
        accCell(entry.bestAccuracy), accCell(entry.finalAccuracy), ...extraCells(entry), cell(entry.seconds, duration(entry.seconds)),
        cell(entry.imgPerSec, rate(entry.imgPerSec)), cell(entry.backend), cell(entry.epochs),
        cell(entry.finalLoss), cell(entry.job), cell(undefined, ''), cell(gain),
      ]);
    } else {
      const error = errorOf(entry);
      if (error) problems.add(stage, entry.status, error);
      out.push([
        cell(stage), cell(entry.status), cell(undefined), cell(undefined), cell(undefined), cell(undefined), ...extraCells(undefined),
        cell(undefined), cell(undefined), cell(undefined), cell(undefined), cell(undefined), cell(entry.job),
        cell(error, error ?? ''), cell(undefined),
      ]);
    }
  }
  return { kind: 'run', columns, rows: out, notes: [...notes, ...problems.lines()] };
}

/** The test metrics beyond top-1 in a run's table, in column order. */
const PAPER_METRICS: { id: string; header: string; field: 'top5Accuracy' | 'ece' | 'teacherAgreement' | 'teacherKL'; text: (v: number) => string }[] = [
  { id: 'top5_accuracy', header: 'top-5', field: 'top5Accuracy', text: (v) => pct(v) },
  { id: 'ece', header: 'ECE', field: 'ece', text: (v) => v.toFixed(3) },
  { id: 'teacher_agreement', header: 'agree', field: 'teacherAgreement', text: (v) => pct(v) },
  { id: 'teacher_kl', header: 'KL(t||s)', field: 'teacherKL', text: (v) => v.toFixed(3) },
];

/** The stages that have a KD gain (distilling stages with a plain counterpart), in order of appearance. */
function distilledStages(rows: readonly ResultRow[]): string[] {
  return [...new Set(rows.flatMap((row) => Object.keys(row.kdGains ?? {})))];
}

/** Sort key of a sweep row, best first: its best KD gain, then the last stage's final accuracy. */
function sweepScore(row: ResultRow, stages: readonly string[]): [number, number] {
  let last = -Infinity;
  for (let i = stages.length - 1; i >= 0; i--) {
    const entry = row.stages[stages[i]];
    if (hasSummary(entry)) {
      last = entry.finalAccuracy;
      break;
    }
  }
  const gains = Object.values(row.kdGains ?? {}).filter((g): g is number => g !== null);
  return [gains.length > 0 ? Math.max(...gains) : -Infinity, last];
}

/** Sweep rows best first (the order of the sweep table; stable for ties). */
export function sortTrials(rows: readonly ResultRow[]): ResultRow[] {
  const stages = stageNames(rows);
  const scored = rows.map((row, index) => ({ row, index, score: sweepScore(row, stages) }));
  scored.sort((a, b) => b.score[0] - a.score[0] || b.score[1] - a.score[1] || a.index - b.index);
  return scored.map((s) => s.row);
}

function stageNames(rows: readonly ResultRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const stage of Object.keys(row.stages)) names.add(stage);
  return [...names];
}

function sweepTable(rows: readonly ResultRow[]): Table {
  const stages = stageNames(rows);
  const distilled = new Set(distilledStages(rows));
  const paramKeys = [...new Set(rows.flatMap((row) => Object.keys(row.params)))];
  const columns: Column[] = [
    { id: 'rank', header: '#', align: 'right' },
    { id: 'trial', header: 'trial', align: 'left', only: ['csv'] },
    ...paramKeys.map((key): Column => ({ id: key, header: key, align: 'left' })),
  ];
  stages.forEach((stage, i) => {
    columns.push(
      { id: `${stage}.final_accuracy`, header: 'final', group: stage, align: 'right' },
      // Best columns go first when the terminal is narrow, the earliest stage's first.
      { id: `${stage}.best_accuracy`, header: 'best', group: stage, align: 'right', dropOrder: 1 + stages.length - i },
      { id: `${stage}.status`, header: 'status', group: stage, align: 'left', only: ['csv'] },
    );
    if (distilled.has(stage)) columns.push({ id: `${stage}.kd_gain`, header: 'KD gain', group: stage, align: 'right' });
  });

  const notes: string[] = [];
  const problems = new ProblemNotes();
  if (distilled.size > 0) {
    const names = [...distilled];
    notes.push(names.length === 1 ? `ranked by ${names[0]} KD gain` : `ranked by the best KD gain of ${names.join(', ')}`);
  }
  const out = sortTrials(rows).map((row, i): Cell[] => {
    const cells: Cell[] = [cell(i + 1), cell(row.trial)];
    for (const key of paramKeys) {
      const v = row.params[key];
      cells.push(cell(typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as CellValue), v === undefined ? '—' : paramValue(v)));
    }
    for (const stage of stages) {
      const entry = row.stages[stage];
      if (hasSummary(entry)) {
        cells.push(accCell(entry.finalAccuracy), accCell(entry.bestAccuracy), cell(entry.status));
      } else {
        const status = entry?.status;
        const error = errorOf(entry);
        if (error) problems.add(`#${i + 1} ${stage}`, status, error);
        cells.push(cell(undefined, status && status !== 'waiting' ? status : '—'), cell(undefined), cell(status));
      }
      if (distilled.has(stage)) {
        const gain = row.kdGains?.[stage] ?? undefined;
        cells.push(cell(gain, points(gain)));
      }
    }
    return cells;
  });
  return { kind: 'sweep', columns, rows: out, notes: [...notes, ...problems.lines()] };
}

/** The width a text table may take on a stream: a terminal's columns (all of them: a wide terminal shows
 * every column); 80 in a pipe or a file, whose text stays the same wherever it is made. */
export function tableWidth(stream: { isTTY?: boolean; columns?: number }): number {
  return stream.isTTY === true && stream.columns ? stream.columns : 80;
}

/** Renders a table. `width` (text only, default 80) drops low-priority columns, then truncates cells. */
export function formatTable(table: Table, format: TableFormat, options: { width?: number; maxRows?: number } = {}): string {
  const keep = table.columns.map((c, i) => ({ c, i })).filter(({ c }) => !c.only || c.only.includes(format));
  let rows = table.rows;
  let more = 0;
  if (options.maxRows !== undefined && rows.length > options.maxRows) {
    more = rows.length - options.maxRows;
    rows = rows.slice(0, options.maxRows);
  }
  if (format === 'csv') return csv(keep.map((k) => k.c), rows.map((r) => keep.map((k) => r[k.i])));
  const picked = { columns: keep.map((k) => k.c), rows: rows.map((r) => keep.map((k) => r[k.i].text)) };
  const body = format === 'markdown' ? markdown(picked.columns, picked.rows) : text(picked.columns, picked.rows, options.width ?? 80);
  const tail = more > 0 ? [format === 'markdown' ? `\n… ${more} more` : `… ${more} more`] : [];
  const notes = table.notes.map((n) => (format === 'markdown' ? `- ${n}` : n));
  return [body, ...tail, ...(notes.length > 0 ? (format === 'markdown' ? ['', ...notes] : notes) : [])].join('\n');
}

/** Shortcut: `formatTable(resultsTable(rows, {kind}), format, options)`. */
export function renderResults(
  rows: readonly ResultRow[],
  format: TableFormat,
  options: { kind?: 'run' | 'sweep'; width?: number; maxRows?: number } = {},
): string {
  return formatTable(resultsTable(rows, { kind: options.kind }), format, options);
}

function heading(column: Column, format: TableFormat): string {
  return format !== 'text' && column.group ? `${column.group} ${column.header}` : column.header;
}

const GAP = 2;

function text(columnsIn: Column[], rowsIn: string[][], maxWidth: number): string {
  let columns = columnsIn.map((c, i) => ({ c, i }));
  const widthOf = (cols: typeof columns) => {
    const widths = cols.map(({ c, i }) => Math.max(c.header.length, ...rowsIn.map((r) => r[i].length)));
    // A group heading must fit over its columns.
    for (const [group, span] of groupSpans(cols.map((x) => x.c))) {
      const have = widths.slice(span.start, span.end).reduce((a, b) => a + b, 0) + GAP * (span.end - span.start - 1);
      if (group.length > have) widths[span.end - 1] += group.length - have;
    }
    return { widths, total: widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, cols.length - 1) };
  };
  let layout = widthOf(columns);
  while (layout.total > maxWidth) {
    const candidates = columns.filter(({ c }) => c.dropOrder !== undefined);
    if (candidates.length === 0) break;
    const drop = candidates.reduce((a, b) => ((b.c.dropOrder ?? 0) > (a.c.dropOrder ?? 0) ? b : a));
    columns = columns.filter((x) => x !== drop);
    layout = widthOf(columns);
  }
  // Still too wide: narrow the widest left-aligned column, cutting its cells with an ellipsis.
  while (layout.total > maxWidth) {
    let widest = -1;
    layout.widths.forEach((w, k) => {
      if (columns[k].c.align === 'left' && w > 6 && (widest < 0 || w > layout.widths[widest])) widest = k;
    });
    if (widest < 0) break;
    layout.widths[widest] -= Math.min(layout.total - maxWidth, layout.widths[widest] - 6);
    layout.total = layout.widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, columns.length - 1);
  }
  const { widths } = layout;
  const pad = (s: string, k: number) => {
    const t = truncate(s, widths[k]);
    return columns[k].c.align === 'right' ? t.padStart(widths[k]) : t.padEnd(widths[k]);
  };
  const line = (cells: string[]) => cells.map(pad).join(' '.repeat(GAP)).trimEnd();
  const lines: string[] = [];
  const spans = groupSpans(columns.map((x) => x.c));
  if (spans.size > 0) {
    const parts: string[] = [];
    for (let k = 0; k < columns.length; ) {
      const group = columns[k].c.group;
      const span = group ? spans.get(group) : undefined;
      if (span && span.start === k) {
        const w = widths.slice(span.start, span.end).reduce((a, b) => a + b, 0) + GAP * (span.end - span.start - 1);
        const name = truncate(group!, w);
        const left = Math.floor((w - name.length) / 2);
        parts.push(' '.repeat(left) + name.padEnd(w - left));
        k = span.end;
      } else {
        parts.push(' '.repeat(widths[k]));
        k++;
      }
    }
    lines.push(parts.join(' '.repeat(GAP)).trimEnd());
  }
  lines.push(line(columns.map(({ c }) => c.header)));
  lines.push(widths.map((w) => '─'.repeat(w)).join(' '.repeat(GAP)));
  for (const row of rowsIn) lines.push(line(columns.map(({ i }) => row[i])));
  return lines.join('\n');
}

/** Runs of adjacent columns sharing a group: group -> [start, end). */
function groupSpans(columns: Column[]): Map<string, { start: number; end: number }> {
  const spans = new Map<string, { start: number; end: number }>();
  columns.forEach((c, k) => {
    if (!c.group) return;
    const span = spans.get(c.group);
    if (span && span.end === k) span.end = k + 1;
    else if (!span) spans.set(c.group, { start: k, end: k + 1 });
  });
  return spans;
}

function markdown(columns: Column[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const row = (cells: string[]) => `| ${cells.map(esc).join(' | ')} |`;
  return [
    row(columns.map((c) => heading(c, 'markdown'))),
    `| ${columns.map((c) => (c.align === 'right' ? '---:' : '---')).join(' | ')} |`,
    ...rows.map(row),
  ].join('\n');
}

function csv(columns: Column[], rows: Cell[][]): string {
  const field = (v: CellValue): string => {
    if (v === undefined || v === null) return '';
    // Ten significant digits: 0.04999999999999993 (a difference of accuracies) is written 0.05.
    const s = typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(10))) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map((c) => field(c.id)).join(','), ...rows.map((r) => r.map((c) => field(c.raw)).join(','))].join('\n') + '\n';
}
