// One or more run directories -> one self-contained HTML page: a header per run, learning curves, the
// comparison of stages, a sweep's heatmaps and trials, and confusion matrices. Sections are built as
// HTML around chart specs; the specs are rendered to SVG at the end, all in one place.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { count, duration, paramList, pct, points, rate } from '../format.js';
import { resultsTable, type Cell, type Column, type Table } from '../table.js';
import type { EpochMetrics } from '../../events.js';
import type { RunData, StageData } from '../run-data.js';
import { gitInfo } from '../../util/git.js';
import {
  groupLabel, headlineStage, runLabels, seedKeys, shownGroup, stageStats, stat, sweepCells, teacherAgreement,
  type Stat, type SweepCell, type TrialGroup,
} from './analysis.js';
import { escapeHtml, figure, htmlTable, page } from './page.js';
import { accuracyBarsSpec, curveSpec, heatmapSpec, type BarDatum, type CurvePoint, type HeatCell } from './specs.js';
import { renderSvg } from './svg.js';
import type { TopLevelSpec } from 'vega-lite';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * A chart waiting to be rendered: `<!--chart:N-->` in the HTML becomes its figure (a comment marker, since
 * escaped text from a run can never contain `<`).
 */
interface PendingChart {
  spec: TopLevelSpec;
  chart: string;
  caption?: string;
  data?: Record<string, string | number>;
}

class Charts {
  readonly pending: PendingChart[] = [];
  add(chart: PendingChart): string {
    this.pending.push(chart);
    return `<!--chart:${this.pending.length - 1}-->`;
  }
  async fill(html: string): Promise<string> {
    const figures = await Promise.all(
      this.pending.map(async (c, i) => figure(await renderSvg(c.spec, `c${i}`), { chart: c.chart, caption: c.caption, data: c.data })),
    );
    return html.replace(/<!--chart:(\d+)-->/g, (_, i: string) => figures[Number(i)]);
  }
}

/** What every section needs: where charts go, and how runs are told apart when there are several. */
interface Context {
  charts: Charts;
  several: boolean;
  label(run: RunData): string;
}

export async function buildReport(runs: RunData[], now = new Date()): Promise<string> {
  const charts = new Charts();
  const several = runs.length > 1;
  const names = runLabels(runs);
  const labels = new Map(runs.map((run, i) => [run, names[i]]));
  const ctx: Context = { charts, several, label: (run) => labels.get(run)! };
  const title = `kdx report: ${runs.map((r) => r.name).join(' vs ')}`;
  const body = [
    `<header><h1>${escapeHtml(title)}</h1>`,
    `<p class="lead">${several ? `${runs.length} runs side by side.` : runs[0].kind === 'sweep' ? `A sweep of ${runs[0].trials.length} trials.` : 'One run.'}</p>`,
    ...runs.map((run) => runHeader(run, ctx)),
    '</header>',
    curvesSection(runs, ctx),
    comparisonSection(runs, ctx),
    ...runs.filter((r) => r.kind === 'sweep').map((run) => sweepSection(run, ctx)),
    confusionSection(runs, ctx),
    `<footer>Written by kdx ${escapeHtml(pkg.version)} on ${escapeHtml(now.toISOString().replace('T', ' ').slice(0, 19))} UTC. Charts: Vega-Lite, rendered to SVG when the report was written.</footer>`,
  ];
  return page({ title, body: [await charts.fill(body.join('\n'))] });
}

// ---------------------------------------------------------------------------------------------
// Header

function runHeader(run: RunData, ctx: Context): string {
  // Runs from before git was recorded: the repository's state now, said to be so.
  const git = run.git ?? (run.file ? gitInfo(run.file) : undefined);
  const gitWhen = run.git ? '' : ' (at report time: the run did not record it)';
  const facts: [string, string][] = [
    ['experiment', run.name],
    ['directory', run.dir],
    ['kind', run.kind === 'sweep' ? `sweep over ${run.gridKeys.join(', ') || 'nothing'} (${run.trials.length} trials)` : 'run'],
    ['status', run.status],
    ['date', run.startedAt !== undefined ? new Date(run.startedAt).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : 'unknown'],
    ['backend', run.backend ?? 'unknown'],
    ['wall time', duration(run.seconds)],
    ['file', run.file ?? 'unknown'],
    ['git commit', git ? `${git.commit.slice(0, 12)}${git.dirty ? ' + uncommitted changes to the file' : ''}${gitWhen}` : 'not in a git repository'],
  ];
  const experiment = run.experiment
    ? `<details><summary>Resolved experiment</summary><pre>${escapeHtml(stringify(run.experiment, { lineWidth: 0 }))}</pre></details>`
    : '';
  const missing = run.missing.length > 0
    ? `<div class="missing"><strong>Not in this run directory</strong><ul>${run.missing.map((m) => `<li>${escapeHtml(m)}</li>`).join('')}</ul></div>`
    : '';
  return [
    ctx.several ? `<h3>${escapeHtml(ctx.label(run))}</h3>` : '',
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`,
    experiment,
    missing,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Learning curves

/** What a curve is labelled: the stage, prefixed by its run when several are shown. */
function seriesName(run: RunData, stage: string, ctx: Context): string {
  return ctx.several ? `${ctx.label(run)} · ${stage}` : stage;
}

function shownWhat(run: RunData, group: TrialGroup): string {
  if (run.kind !== 'sweep') return '';
  const seeds = group.trials.length > 1 ? `, mean of ${group.trials.length} seeds` : '';
  return `the best trial (${groupLabel(group)}${seeds})`;
}

/** The curves on shared axes, one chart each. The training loss is split: a distilled stage's is its own
 * objective (KD's soft term scaled by T², feature terms by their weights), not on the scale of a plain
 * stage's cross-entropy, so it gets a chart of its own. */
const METRICS: { key: 'loss' | 'testLoss' | 'testAccuracy' | 'lr'; stages?: 'plain' | 'distilled'; title: string; yTitle: string; format?: string; chart: string }[] = [
  { key: 'loss', stages: 'plain', title: 'Train loss', yTitle: 'cross-entropy', chart: 'curve-train-loss' },
  { key: 'loss', stages: 'distilled', title: 'Train objective of the distilled stages', yTitle: 'loss (its own scale)', chart: 'curve-train-objective' },
  { key: 'testLoss', title: 'Test loss', yTitle: 'cross-entropy', chart: 'curve-test-loss' },
  { key: 'testAccuracy', title: 'Test accuracy', yTitle: 'accuracy', format: '.0%', chart: 'curve-test-accuracy' },
  { key: 'lr', title: 'Learning rate', yTitle: 'learning rate', format: '.1e', chart: 'curve-lr' },
];

function curvesSection(runs: RunData[], ctx: Context): string {
  const points: Record<string, CurvePoint[]> = Object.fromEntries(METRICS.map((m) => [m.chart, []]));
  const series: string[] = [];
  let epochs = 1;
  const notes: string[] = [];
  const termCurves: { label: string; points: CurvePoint[]; series: string[] }[] = [];
  for (const run of runs) {
    const group = shownGroup(run);
    const what = shownWhat(run, group);
    if (what) notes.push(`${ctx.several ? `${ctx.label(run)}: ` : ''}${what}`);
    for (const name of stageNames(group)) {
      const histories = group.trials.map((t) => t.stages.find((s) => s.name === name)?.history ?? []).filter((h) => h.length > 0);
      if (histories.length === 0) continue;
      const distilled = group.trials.some((t) => t.stages.find((s) => s.name === name)?.teacher !== undefined);
      const label = seriesName(run, name, ctx);
      series.push(label);
      const longest = Math.max(...histories.map((h) => h.length));
      epochs = Math.max(epochs, longest);
      for (let e = 0; e < longest; e++) {
        for (const metric of METRICS) {
          if (metric.stages !== undefined && (metric.stages === 'distilled') !== distilled) continue;
          const value = stat(histories.map((h) => h[e]?.[metric.key]))?.mean;
          if (value !== undefined) points[metric.chart].push({ series: label, epoch: e + 1, value });
        }
      }
      const terms = termPoints(histories);
      if (terms) termCurves.push({ label, ...terms });
    }
  }
  if (series.length === 0) return '<section id="curves"><h2>Learning curves</h2><p class="muted">No stage has per-epoch metrics.</p></section>';
  const figures = METRICS.filter((m) => points[m.chart].length > 0).map((m) =>
    ctx.charts.add({ spec: curveSpec({ title: m.title, yTitle: m.yTitle, points: points[m.chart], series, epochs, format: m.format }), chart: m.chart }),
  );
  for (const curve of termCurves) {
    // Other colours than the stages': these lines are terms, not stages.
    const spec = curveSpec({ title: `Loss terms: ${curve.label}`, yTitle: 'train loss', points: curve.points, series: curve.series, epochs, scheme: 'dark2' });
    figures.push(ctx.charts.add({ spec, chart: 'curve-terms', caption: 'Each term\'s mean over the epoch\'s training batches; the loss is their weighted sum.' }));
  }
  const lead = `Per epoch, every stage on shared axes${notes.length > 0 ? `; for a sweep, ${notes.join('; ')}` : ''}. Test metrics are measured on the whole test set after each epoch; the learning rate is the one at the epoch's last step.`;
  return `<section id="curves"><h2>Learning curves</h2><p class="lead">${escapeHtml(lead)}</p><div class="charts">${figures.join('')}</div></section>`;
}

/** The terms of a loss that has several (KD: soft, hard) and the loss itself, per epoch, mean over seeds. */
function termPoints(histories: EpochMetrics[][]): { points: CurvePoint[]; series: string[] } | undefined {
  const names = [...new Set(histories.flatMap((h) => h.flatMap((m) => Object.keys(m.terms ?? {}))))];
  if (names.length < 2) return undefined;
  const series = ['loss', ...names];
  const points: CurvePoint[] = [];
  const longest = Math.max(...histories.map((h) => h.length));
  for (let e = 0; e < longest; e++) {
    for (const name of series) {
      const value = stat(histories.map((h) => (name === 'loss' ? h[e]?.loss : h[e]?.terms?.[name])))?.mean;
      if (value !== undefined) points.push({ series: name, epoch: e + 1, value });
    }
  }
  return { points, series };
}

function stageNames(group: TrialGroup): string[] {
  return [...new Set(group.trials.flatMap((t) => t.stages.map((s) => s.name)))];
}

// ---------------------------------------------------------------------------------------------
// Comparison of stages

const cell = (raw: Cell['raw'], text?: string): Cell => ({ raw, text: text ?? (raw === undefined || raw === null ? '—' : String(raw)) });

/** `85.2%`, or `85.2% ± 0.4` over several seeds (the spread in percentage points). */
function pctStat(s: Stat | undefined): Cell {
  if (!s) return cell(undefined);
  return cell(s.mean, s.std !== undefined ? `${pct(s.mean)} ± ${(s.std * 100).toFixed(1)}` : pct(s.mean));
}

function pointsStat(s: Stat | undefined): Cell {
  if (!s) return cell(undefined);
  return cell(s.mean, s.std !== undefined ? `${points(s.mean)} ± ${(s.std * 100).toFixed(1)}` : points(s.mean));
}

function comparisonSection(runs: RunData[], ctx: Context): string {
  const { several } = ctx;
  const anySweep = runs.some((r) => r.kind === 'sweep');
  const anySeeds = runs.some((r) => shownGroup(r).trials.length > 1);
  const columns: Column[] = [
    ...(several ? [{ id: 'run', header: 'run', align: 'left' as const }] : []),
    ...(anySweep ? [{ id: 'trial', header: 'trial', align: 'left' as const }] : []),
    { id: 'stage', header: 'stage', align: 'left' },
    { id: 'status', header: 'status', align: 'left' },
    { id: 'model', header: 'model', align: 'left' },
    { id: 'params', header: 'params', align: 'right' },
    { id: 'final_accuracy', header: 'final acc.', align: 'right' },
    { id: 'best_accuracy', header: 'best acc.', align: 'right' },
    { id: 'kd_gain', header: 'KD gain', align: 'right' },
    { id: 'agreement', header: 'agrees with teacher', align: 'right' },
    { id: 'img_per_sec', header: 'img/s', align: 'right' },
    { id: 'seconds', header: 'time', align: 'right' },
    ...(anySeeds ? [{ id: 'seeds', header: 'seeds', align: 'right' as const }] : []),
  ];
  const rows: Cell[][] = [];
  const notes: string[] = [];
  const bars: BarDatum[] = [];
  for (const run of runs) {
    const group = shownGroup(run);
    for (const s of stageStats(group)) {
      rows.push([
        ...(several ? [cell(ctx.label(run))] : []),
        ...(anySweep ? [cell(run.kind === 'sweep' ? groupLabel(group) : '', run.kind === 'sweep' ? groupLabel(group) : '—')] : []),
        cell(s.stage, s.teacher ? `${s.stage} ← ${s.teacher}` : s.stage),
        cell(s.status),
        cell(s.model),
        cell(s.params, count(s.params)),
        pctStat(s.finalAccuracy),
        pctStat(s.bestAccuracy),
        pointsStat(s.kdGain),
        pctStat(s.agreement),
        cell(s.imgPerSec?.mean, rate(s.imgPerSec?.mean)),
        cell(s.seconds?.mean, duration(s.seconds?.mean)),
        // A job every seed shares (a teacher with its own seed) trained once, as the terminal says.
        ...(anySeeds ? [cell(s.finalAccuracy?.n, s.finalAccuracy?.n === 1 && group.trials.length > 1 ? '1 (shared)' : undefined)] : []),
      ]);
      const label = seriesName(run, s.stage, ctx);
      if (s.error) notes.push(`${label} ${s.status}: ${s.error}`);
      if (s.finalAccuracy) bars.push({ label, kind: 'final', value: s.finalAccuracy.mean, ...(s.finalAccuracy.std !== undefined ? { std: s.finalAccuracy.std } : {}) });
      if (s.bestAccuracy) bars.push({ label, kind: 'best', value: s.bestAccuracy.mean, ...(s.bestAccuracy.std !== undefined ? { std: s.bestAccuracy.std } : {}) });
    }
  }
  const table: Table = { kind: 'run', columns, rows, notes };
  const chart = bars.length > 0 ? ctx.charts.add({ spec: accuracyBarsSpec(bars, [0, 1]), chart: 'accuracy-bars' }) : '';
  const lead =
    'Final and best test accuracy per stage. The KD gain is a distilled stage\'s final accuracy minus that of the plain stage training the same model; ' +
    '"agrees with teacher" is the share of test images on which the distilled stage predicts the same class as its teacher.' +
    (anySeeds ? ' Over several seeds: mean ± sample standard deviation (in percentage points).' : '');
  return `<section id="comparison"><h2>Comparison</h2><p class="lead">${escapeHtml(lead)}</p><div class="charts">${chart}</div>${htmlTable(table, { id: 'comparison-table' })}</section>`;
}

// ---------------------------------------------------------------------------------------------
// Sweep: heatmaps and the trials table

function sweepSection(run: RunData, ctx: Context): string {
  const { charts } = ctx;
  const id = ctx.label(run).replace(/[^\w-]+/g, '-');
  const stage = headlineStage(run);
  const heading = `<h2>Sweep${ctx.several ? `: ${escapeHtml(ctx.label(run))}` : ''}</h2>`;
  const trials = htmlTable(resultsTable(run.trials.map((t) => t.row), { kind: 'sweep' }), { id: `trials-${id}`, caption: 'All trials, best first (by KD gain). Click a heading to sort.' });
  if (!stage) return `<section class="sweep">${heading}${trials}</section>`;
  const { keys, cells, orders } = sweepCells(run, stage);
  const averaged = cells.some((c) => c.trials > 1) ? ' Each cell is the mean over its seeds.' : '';
  let grid: string;
  if (keys.length === 1 || keys.length === 2) {
    const accuracy = heatmap(`${stage}: final test accuracy`, cells, keys, orders, (c) => c.accuracy, { format: '.1%', text: (s) => pct(s.mean), chart: 'heatmap-accuracy' }, charts);
    const hasGain = cells.some((c) => c.gain);
    const gain = hasGain
      ? heatmap(`KD gain of ${stage} over the plain student`, cells, keys, orders, (c) => c.gain, { format: '+.1f', text: (s) => points(s.mean), chart: 'heatmap-gain', diverging: true }, charts)
      : '';
    grid = `<div class="charts">${accuracy}${gain}</div>`;
  } else {
    grid = htmlTable(cellTable(keys, cells), { id: `cells-${id}`, caption: `${keys.length === 0 ? 'No grid key besides the seed' : `${keys.length} grid keys`}: a table instead of a heatmap.` });
  }
  const lead = `Final test accuracy of ${stage} and its KD gain, over the grid.${averaged}`;
  return `<section class="sweep">${heading}<p class="lead">${escapeHtml(lead)}</p>${grid}${trials}</section>`;
}

function heatmap(
  title: string,
  cells: SweepCell[],
  keys: string[],
  orders: string[][],
  value: (c: SweepCell) => Stat | undefined,
  options: { format: string; text: (s: Stat) => string; chart: string; diverging?: boolean },
  charts: Charts,
): string {
  const shown = cells.filter((c) => value(c) !== undefined);
  const values = shown.map((c) => value(c)!.mean);
  const [min, max] = [Math.min(...values), Math.max(...values)];
  const absMax = Math.max(1e-9, ...values.map(Math.abs));
  const heat: HeatCell[] = shown.map((c) => {
    const v = value(c)!.mean;
    // Text in white on the scale's dark end: viridis is dark at its low end, red-blue at both ends.
    const dark = options.diverging ? Math.abs(v) / absMax > 0.6 : max - min > 1e-12 && (v - min) / (max - min) < 0.45;
    // Gains are coloured in percentage points, as the cells and tables write them.
    const coloured = options.diverging ? v * 100 : v;
    return { x: c.coordinates[0], ...(keys.length > 1 ? { y: c.coordinates[1] } : {}), value: coloured, text: options.text(value(c)!), ink: dark ? 'white' : 'black' };
  });
  const spec = heatmapSpec({
    title,
    cells: heat,
    xTitle: keys[0],
    xOrder: orders[0],
    ...(keys.length > 1 ? { yTitle: keys[1], yOrder: orders[1] } : {}),
    valueTitle: options.diverging ? 'gain (pt)' : 'accuracy',
    diverging: options.diverging,
    format: options.format,
  });
  return charts.add({ spec, chart: options.chart, data: { cells: heat.length } });
}

function cellTable(keys: string[], cells: SweepCell[]): Table {
  const columns: Column[] = [
    ...keys.map((key): Column => ({ id: key, header: key, align: 'left' })),
    { id: 'accuracy', header: 'final acc.', align: 'right' },
    { id: 'kd_gain', header: 'KD gain', align: 'right' },
    { id: 'trials', header: 'trials', align: 'right' },
  ];
  const rows = cells.map((c) => [...c.coordinates.map((v) => cell(v)), pctStat(c.accuracy), pointsStat(c.gain), cell(c.trials)]);
  return { kind: 'sweep', columns, rows, notes: [] };
}

// ---------------------------------------------------------------------------------------------
// Confusion matrices

function confusionSection(runs: RunData[], ctx: Context): string {
  const { several } = ctx;
  const parts: string[] = [];
  for (const run of runs) {
    const group = shownGroup(run);
    const trial = group.trials[0];
    const figures = trial.stages.filter((s) => s.evaluation).map((stage) => confusionFigure(run, trial, stage, ctx));
    // Over several seeds, the first seed's: a confusion matrix of means would count no real image.
    const seed = group.trials.length > 1 ? `, ${paramList(Object.fromEntries(seedKeys(run).map((key) => [key, trial.params[key]])))}` : '';
    const heading = [several ? ctx.label(run) : '', run.kind === 'sweep' ? `(${groupLabel(group)}${seed})` : ''].filter((p) => p !== '').join(' ');
    if (figures.length === 0) {
      const why = trial.stages.some((s) => s.summary) ? 'see "Not in this run directory" above' : 'no stage finished';
      parts.push(`<p class="muted">${escapeHtml(`${several ? `${ctx.label(run)}: ` : ''}no confusion matrix: ${why}.`)}</p>`);
    } else {
      parts.push(`${heading ? `<h3>${escapeHtml(heading)}</h3>` : ''}<div class="charts">${figures.join('')}</div>`);
    }
  }
  const lead = 'Rows are the true classes, columns the predicted ones, on the test set after the last epoch; a cell shows its count, its colour the share of its row.';
  return `<section id="confusion"><h2>Confusion matrices</h2><p class="lead">${escapeHtml(lead)}</p>${parts.join('\n')}</section>`;
}

/** Above this many classes a matrix is unreadable, and heavy (a cell per pair): the top confusions instead. */
const MAX_MATRIX_CLASSES = 30;
const TOP_CONFUSIONS = 12;

function confusionFigure(run: RunData, trial: RunData['trials'][number], stage: StageData, ctx: Context): string {
  const evaluation = stage.evaluation!;
  const names = evaluation.classNames ?? Array.from({ length: evaluation.classes }, (_, i) => String(i));
  const correct = evaluation.confusion.reduce((sum, row, i) => sum + row[i], 0);
  const total = evaluation.predictions.length;
  const agree = teacherAgreement(trial, stage);
  const caption = `${pct(total > 0 ? correct / total : undefined)} of ${total} test images right` +
    (agree !== undefined ? `; agrees with its teacher (${stage.teacher}) on ${pct(agree)}` : '');
  if (evaluation.classes > MAX_MATRIX_CLASSES) return topConfusions(seriesName(run, stage.name, ctx), evaluation.confusion, names, caption);
  const cells: HeatCell[] = [];
  evaluation.confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((n, p) => {
      const share = total > 0 ? n / total : 0;
      cells.push({ x: names[p], y: names[t], value: share, text: evaluation.classes <= 20 ? String(n) : '', ink: share < 0.5 ? 'white' : 'black' });
    });
  });
  const spec = heatmapSpec({
    title: seriesName(run, stage.name, ctx),
    cells,
    xTitle: 'predicted',
    yTitle: 'true',
    xOrder: names,
    yOrder: names,
    valueTitle: 'share of row',
    format: '.0%',
    cellSize: evaluation.classes <= 10 ? 26 : Math.max(10, Math.floor(300 / evaluation.classes)),
    domain: [0, 1],
  });
  return ctx.charts.add({ spec, chart: 'confusion', caption, data: { stage: stage.name, classes: evaluation.classes } });
}

function topConfusions(title: string, confusion: number[][], names: string[], caption: string): string {
  const pairs = confusion.flatMap((row, t) => row.map((n, p) => ({ t, p, n }))).filter(({ t, p, n }) => t !== p && n > 0);
  pairs.sort((a, b) => b.n - a.n);
  const table: Table = {
    kind: 'run',
    columns: [
      { id: 'true', header: 'true', align: 'left' },
      { id: 'predicted', header: 'predicted as', align: 'left' },
      { id: 'count', header: 'images', align: 'right' },
    ],
    rows: pairs.slice(0, TOP_CONFUSIONS).map(({ t, p, n }) => [cell(names[t]), cell(names[p]), cell(n)]),
    notes: [],
  };
  const heading = `${title}: ${names.length} classes, the ${TOP_CONFUSIONS} most frequent confusions. ${caption}`;
  return `<div class="confusions">${htmlTable(table, { id: `confusions-${title.replace(/[^\w-]+/g, '-')}`, caption: heading })}</div>`;
}
