// Opening a report in a real headless Chromium (Debian's `chromium`, driven by playwright-core, which
// downloads no browser of its own), with every request but the page itself blocked.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { CELL_MARK } from '../../src/report/html/specs.js';

const CANDIDATES = [process.env.KDX_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium binary, or undefined when none is installed. */
export const chromiumPath = CANDIDATES.find((path): path is string => path !== undefined && path !== '' && existsSync(path));

export const NO_CHROMIUM = 'chromium is not installed (apt-get install chromium; .ci/run installs it): skipping the browser checks';

export interface OpenedReport {
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Requests that failed, and requests that were blocked (a report must make none). */
  failedRequests: string[];
  blockedRequests: string[];
  /** Every chart: its kind, rendered size, and the number of heatmap cells drawn. */
  charts: { chart: string; width: number; height: number; cells: number; expectedCells?: number }[];
}

/** Opens `htmlPath` offline, checks it in `inspect`, and writes a full-page screenshot to `screenshot`. */
export async function openReport<T>(htmlPath: string, screenshot: string, inspect: (page: Page) => Promise<T>): Promise<OpenedReport & { inspected: T }> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, offline: true });
    const pageUrl = pathToFileURL(htmlPath).href;
    const blockedRequests: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url === pageUrl) return route.continue();
      blockedRequests.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    const failedRequests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('requestfailed', (request) => failedRequests.push(`${request.url()}: ${request.failure()?.errorText}`));
    await page.goto(pageUrl, { waitUntil: 'load' });
    const charts = await page.$$eval('figure.chart', (figures, cellSelector) =>
      figures.map((figure) => {
        const svg = figure.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const expected = (figure as HTMLElement).dataset.cells;
        return {
          chart: (figure as HTMLElement).dataset.chart ?? '',
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          cells: figure.querySelectorAll(cellSelector).length,
          ...(expected !== undefined ? { expectedCells: Number(expected) } : {}),
        };
      }),
      `g.${CELL_MARK}_marks > path`, // Vega names a mark's group after the Vega-Lite layer's name
    );
    const inspected = await inspect(page);
    await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, failedRequests, blockedRequests, charts, inspected };
  } finally {
    await browser.close();
  }
}
