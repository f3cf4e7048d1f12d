// Vega-Lite specification -> inline SVG, in Node, with Vega's headless renderer (no canvas, no browser).
// Vega-Lite rather than ECharts: the same declarative grammar W&B's custom charts use, a smaller install
// (vega + vega-lite ~25 MB against echarts' ~67 MB) and a faster import (~0.2 s against ~0.5 s); both
// render a chart in tens of milliseconds.
//
// A chart is a pure function of its spec (the data is inline), and a cached `kdx run` draws the same
// charts as the run before it, so rendered charts are kept in the per-user cache by the sha256 of spec
// and renderer versions: a run that trains nothing never loads Vega (that would be most of its time).
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Loader } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../../store/atomic.js';
import { userCacheDir } from '../../util/user-cache.js';

/** Charts kept; beyond that the least recently used go (a chart is ~30 kB). */
const KEPT_CHARTS = 2000;

/**
 * Renders `spec` to an SVG string. Vega numbers the ids inside each SVG from 0 (`gradient_0`), so two
 * inline SVGs on one page would share ids and draw each other's gradients: ids get `prefix`.
 */
export async function renderSvg(spec: TopLevelSpec, prefix: string, cache = userCacheDir('charts')): Promise<string> {
  const svg = await memoizedSvg(spec, cache);
  return svg
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}-${id})`)
    .replace(/^<svg /, '<svg role="img" ');
}

async function memoizedSvg(spec: TopLevelSpec, cache: string): Promise<string> {
  const file = join(cache, `${await chartKey(spec)}.svg`);
  try {
    const svg = await readFile(file, 'utf8');
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined); // recently used: kept by prune()
    return svg;
  } catch {
    const svg = await drawSvg(spec);
    try {
      await writeFileAtomic(file, svg);
      await prune(cache);
    } catch {
      // A cache that cannot be written (read-only home) only costs the next run the drawing.
    }
    return svg;
  }
}

let rendererVersions: Promise<string> | undefined;

async function chartKey(spec: TopLevelSpec): Promise<string> {
  // Another Vega draws other bytes: its version is part of the key, read from its package.json (next to
  // the build/ directory its entry module is in; the package does not export package.json) without loading it.
  rendererVersions ??= Promise.all(
    ['vega', 'vega-lite'].map(async (name) => {
      const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.resolve(name)), 'utf8')) as { version: string };
      return `${name}@${pkg.version}`;
    }),
  ).then((versions) => versions.join(' '));
  return createHash('sha256').update(`${await rendererVersions}\n${JSON.stringify(spec)}`).digest('hex');
}

async function prune(cache: string): Promise<void> {
  const names = (await readdir(cache)).filter((name) => name.endsWith('.svg'));
  if (names.length <= KEPT_CHARTS) return;
  const used = await Promise.all(names.map(async (name) => ({ name, time: (await stat(join(cache, name))).mtimeMs })));
  used.sort((a, b) => a.time - b.time);
  await Promise.all(used.slice(0, names.length - KEPT_CHARTS).map(({ name }) => rm(join(cache, name), { force: true })));
}

/** Draws the chart with Vega, loaded only here. */
async function drawSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  // No loader: every chart's data is inline, and a report must not read files or the network.
  const refuse = async (): Promise<never> => {
    throw new Error('a report chart tried to load external data');
  };
  const noLoader = { ...vega.loader(), load: refuse, sanitize: refuse, http: refuse, file: refuse } as unknown as Loader;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none', loader: noLoader });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
