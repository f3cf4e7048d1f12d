// The report's charts as Vega-Lite specifications: plain data in, JSON out, nothing drawn here (svg.ts
// renders them). Every chart's data is inline, so rendering never reads a file or the network.
import type { TopLevelSpec } from 'vega-lite';

/** A heatmap's rect marks are named so tests (and readers of the SVG) can find one cell per trial. */
export const CELL_MARK = 'cells';

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

// Without a canvas, Vega estimates text widths generously (0.8 em a character) and cuts labels at their
// limit: the limits are high so that names are cut only when they are really long.
const config = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 11, titleFontWeight: 'normal' as const, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: 'bottom' as const, direction: 'horizontal' as const, columns: 3, labelLimit: 400 },
  title: { fontSize: 13, fontWeight: 'bold' as const, anchor: 'start' as const },
};

export interface CurvePoint {
  series: string;
  epoch: number;
  value: number;
}

/** One metric per epoch, a line per series; `series` fixes the colours so every curve chart agrees. */
export function curveSpec(options: { title: string; yTitle: string; points: CurvePoint[]; series: string[]; epochs: number; format?: string; scheme?: 'tableau10' | 'dark2' }): TopLevelSpec {
  // Every chart colours a series alike (the domain is all of them); its legend names those it draws.
  const drawn = options.series.filter((name) => options.points.some((p) => p.series === name));
  const legend = drawn.length < options.series.length ? { legend: { values: drawn } } : {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config,
    title: options.title,
    width: 340,
    height: 200,
    data: { values: options.points },
    mark: { type: 'line', point: { size: 24 }, strokeWidth: 1.8 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { domain: [1, Math.max(2, options.epochs)], nice: false }, axis: { tickMinStep: 1, format: 'd' } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: options.yTitle,
        scale: { zero: false },
        ...(options.format ? { axis: { format: options.format } } : {}),
      },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: options.series, scheme: options.scheme ?? 'tableau10' }, ...legend },
    },
  };
}

export interface BarDatum {
  label: string;
  /** A fraction (accuracy). */
  value: number;
  kind: string;
  /** Standard deviation over seeds, if there are several. */
  std?: number;
}

/** Final and best accuracy per stage, side by side: the KD gain at a glance. */
export function accuracyBarsSpec(bars: BarDatum[], domain: [number, number]): TopLevelSpec {
  const kinds = [...new Set(bars.map((b) => b.kind))];
  const withError = bars.filter((b) => b.std !== undefined).map((b) => ({ ...b, low: b.value - b.std!, high: b.value + b.std! }));
  const y = { field: 'label', type: 'nominal' as const, title: null, sort: null, axis: { labelLimit: 400 } };
  const yOffset = { field: 'kind', type: 'nominal' as const, sort: kinds };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config,
    title: 'Test accuracy per stage',
    width: 420,
    height: { step: 14 },
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar' },
        encoding: {
          y,
          yOffset,
          x: { field: 'value', type: 'quantitative', title: 'test accuracy', scale: { domain, zero: false, clamp: true }, axis: { format: '.0%' } },
          color: { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds, range: ['#4c78a8', '#9ecae9'] } },
        },
      },
      {
        data: { values: bars },
        mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
        encoding: { y, yOffset, x: { field: 'value', type: 'quantitative' }, text: { field: 'value', type: 'quantitative', format: '.1%' } },
      },
      ...(withError.length > 0
        ? [{
            data: { values: withError },
            mark: { type: 'rule' as const, color: '#333' },
            encoding: { y, yOffset, x: { field: 'low', type: 'quantitative' as const }, x2: { field: 'high' } },
          }]
        : []),
    ],
  };
}

export interface HeatCell {
  x: string;
  y?: string;
  /** What the colour shows. */
  value: number;
  /** What the cell says. */
  text: string;
  /** Text colour that reads on the cell's colour. */
  ink: 'black' | 'white';
}

/**
 * A grid of cells coloured by value: the sweep over one or two keys, or a confusion matrix. `diverging`
 * centres the scale on zero (red below, blue above), for gains.
 */
export function heatmapSpec(options: {
  title: string;
  cells: HeatCell[];
  xTitle: string;
  yTitle?: string;
  xOrder: string[];
  yOrder?: string[];
  valueTitle: string;
  diverging?: boolean;
  format: string;
  cellSize?: number;
  domain?: [number, number];
}): TopLevelSpec {
  const size = options.cellSize ?? 56;
  // Long labels (class names) are slanted so neighbours do not overlap; grid lines would cross the cells.
  const slant = options.xOrder.some((label) => label.length > 3) ? -40 : 0;
  const x = { field: 'x', type: 'ordinal' as const, title: options.xTitle, sort: options.xOrder, axis: { labelAngle: slant, labelLimit: 90, grid: false } };
  const y = options.yTitle ? { field: 'y', type: 'ordinal' as const, title: options.yTitle, sort: options.yOrder, axis: { labelLimit: 90, grid: false } } : undefined;
  const absMax = Math.max(1e-9, ...options.cells.map((c) => Math.abs(c.value)));
  const scale = options.diverging
    ? { scheme: 'redblue' as const, domain: [-absMax, absMax], domainMid: 0 }
    : { scheme: 'viridis' as const, ...(options.domain ? { domain: options.domain } : {}) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: { ...config, legend: { ...config.legend, orient: 'right', direction: 'vertical', columns: 1 } },
    title: options.title,
    width: { step: size },
    height: y ? { step: size } : size,
    data: { values: options.cells },
    encoding: { x, ...(y ? { y } : {}) },
    layer: [
      {
        name: CELL_MARK,
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: { color: { field: 'value', type: 'quantitative', title: options.valueTitle, scale, legend: { format: options.format, gradientLength: 120 } } },
      },
      {
        mark: { type: 'text', fontSize: size < 36 ? 9 : 11 },
        encoding: { text: { field: 'text', type: 'nominal' }, color: { condition: { test: "datum.ink === 'white'", value: 'white' }, value: 'black' } },
      },
    ],
  };
}
