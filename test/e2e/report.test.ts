// The HTML report end to end: the real `kdx run`, `kdx sweep` and `kdx report`, then each report.html
// opened offline in a headless Chromium. Full-page screenshots are left in a temporary directory (its
// path is printed) for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumPath, NO_CHROMIUM, openReport } from './browser.js';
import { cleanup, hasStackTrace, kdx, readJson, repoRoot, runDirs, scratchDir, tinyExperiment, writeExperiment } from './support.js';

const screenshots = mkdtempSync(join(tmpdir(), 'kdx-report-screenshots-'));

/** The report path a run or sweep printed at its end (`report <path>`), relative to `cwd`. */
function printedReport(stdout: string, cwd: string): string {
  const match = /^report (\S+)/m.exec(stdout);
  assert.ok(match, `no "report <path>" line in:\n${stdout}`);
  return join(cwd, match[1]);
}

// A distilled stage's training objective has a chart of its own, off the plain stages' cross-entropy axis.
const CURVES = ['curve-train-loss', 'curve-train-objective', 'curve-test-loss', 'curve-test-accuracy', 'curve-lr'];

test('kdx run writes a report of the quick experiment that renders offline in Chromium', async (t) => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['run', join(repoRoot, 'experiments', 'quick.yaml'), '--set', 'epochs=2'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const report = printedReport(result.stdout, cwd);
    const [runDir] = runDirs(cwd);
    assert.equal(report, join(runDir, 'report.html'));
    for (const stage of ['teacher', 'student', 'kd_student']) {
      const evaluation = readJson(join(runDir, 'stages', stage, 'evaluation.json'));
      assert.equal(evaluation.confusion.length, 10);
      assert.equal(evaluation.predictions.length, 512, 'one prediction per test image');
    }
    const html = readFileSync(report, 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\/(?!www\.w3\.org)/, 'no external scripts, styles or links');

    if (!chromiumPath) return t.skip(NO_CHROMIUM);
    const screenshot = join(screenshots, 'run.png');
    const opened = await openReport(report, screenshot, (page) =>
      page.$$eval('#comparison-table tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent))),
    );
    t.diagnostic(`screenshot: ${screenshot}`);
    assert.deepEqual(opened.errors, [], 'no console errors');
    assert.deepEqual(opened.failedRequests, [], 'no failed requests');
    assert.deepEqual(opened.blockedRequests, [], 'no requests but the page itself');
    const kinds = opened.charts.map((c) => c.chart);
    assert.deepEqual(kinds, [...CURVES, 'curve-terms', 'accuracy-bars', 'confusion', 'confusion', 'confusion'], 'the KD stage\'s soft and hard terms too');
    for (const chart of opened.charts) assert.ok(chart.width > 0 && chart.height > 0, `${chart.chart} has a size`);
    for (const chart of opened.charts.filter((c) => c.chart === 'confusion')) assert.equal(chart.cells, 100, 'a 10 x 10 confusion matrix');

    const table = opened.inspected;
    assert.deepEqual(table.map((row) => row[0]), ['teacher', 'student', 'kd_student ← teacher']);
    const kd = table[2];
    assert.match(kd[6]!, /^[-+±]\d+\.\dpt$/, 'the KD gain');
    assert.match(kd[7]!, /^\d+\.\d%$/, 'the agreement with the teacher');
  } finally {
    cleanup(cwd);
  }
});

test('a 3 x 3 sweep\'s report has one heatmap cell per trial, sorts its trials, and stays under 2 MB', async (t) => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'sweep.yaml', tinyExperiment({ epochs: 2 }));
    const result = await kdx(['sweep', file, '--grid', 'T=1,2,4', 'alpha=0.3,0.6,0.9'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const report = printedReport(result.stdout, cwd);
    const bytes = statSync(report).size;
    assert.ok(bytes < 2 * 1024 * 1024, `the report is ${bytes} bytes`);
    t.diagnostic(`3 x 3 sweep report: ${bytes} bytes`);

    if (!chromiumPath) return t.skip(NO_CHROMIUM);
    const screenshot = join(screenshots, 'sweep.png');
    const opened = await openReport(report, screenshot, async (page) => {
      const table = page.locator('table[id^="trials-"]');
      const column = async (index: number) => table.locator(`tbody tr td:nth-child(${index})`).evaluateAll((cells) => cells.map((c) => (c as HTMLElement).dataset.sort));
      const before = await column(2); // T, as written: best trial first
      await table.locator('thead button', { hasText: /^T$/ }).click();
      const ascending = await column(2);
      await table.locator('thead button', { hasText: /^T$/ }).click();
      const descending = await column(2);
      return { rows: before.length, ascending, descending };
    });
    t.diagnostic(`screenshot: ${screenshot}`);
    assert.deepEqual(opened.errors, []);
    assert.deepEqual(opened.failedRequests, []);
    assert.deepEqual(opened.blockedRequests, []);
    for (const chart of opened.charts) assert.ok(chart.width > 0 && chart.height > 0, `${chart.chart} has a size`);
    const heatmaps = opened.charts.filter((c) => c.chart.startsWith('heatmap-'));
    assert.deepEqual(heatmaps.map((c) => c.chart), ['heatmap-accuracy', 'heatmap-gain']);
    for (const heatmap of heatmaps) {
      assert.equal(heatmap.cells, 9, `${heatmap.chart}: one cell per trial`);
      assert.equal(heatmap.expectedCells, 9);
    }
    assert.equal(opened.inspected.rows, 9, 'a row per trial');
    assert.deepEqual(opened.inspected.ascending, ['1', '1', '1', '2', '2', '2', '4', '4', '4'], 'sorted by T, as numbers');
    assert.deepEqual(opened.inspected.descending, ['4', '4', '4', '2', '2', '2', '1', '1', '1']);
  } finally {
    cleanup(cwd);
  }
});

test('kdx report reads run directories from before reports, shows several side by side, and refuses what is not one', async (t) => {
  const cwd = scratchDir();
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    assert.equal((await kdx(['run', file], { cwd })).exitCode, 0);
    assert.equal((await kdx(['run', file, '--set', 'alpha=0.5'], { cwd })).exitCode, 0);
    const [old, recent] = runDirs(cwd).sort();
    // An older kdx wrote neither evaluation.json nor report.html, and recorded no git commit.
    for (const stage of readdirSync(join(old, 'stages'))) rmSync(join(old, 'stages', stage, 'evaluation.json'));
    rmSync(join(old, 'report.html'));

    const result = await kdx(['report', old], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^report .*report\.html \(\d+ kB\)$/m);
    assert.match(result.stdout, /missing: confusion matrices and teacher agreement of teacher, student, kd_student: no evaluation\.json/);
    assert.ok(existsSync(join(old, 'report.html')));
    assert.match(readFileSync(join(old, 'report.html'), 'utf8'), /Not in this run directory/);

    const latest = await kdx(['report'], { cwd });
    assert.equal(latest.exitCode, 0, latest.stderr);
    assert.match(latest.stdout, new RegExp(`report ${recent.slice(cwd.length + 1)}/report\\.html`), 'the latest run by default');

    const both = await kdx(['report', old, recent, '--out', 'both.html'], { cwd });
    assert.equal(both.exitCode, 0, both.stderr);
    const html = readFileSync(join(cwd, 'both.html'), 'utf8');
    for (const run of ['tiny#1', 'tiny#2']) assert.ok(html.includes(`${run} · kd_student`), 'stages labelled by their run');

    for (const args of [['report', 'runs/nope'], ['report', cwd]]) {
      const wrong = await kdx(args, { cwd });
      assert.equal(wrong.exitCode, 2, `${args.join(' ')}: exit 2`);
      assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
      assert.match(wrong.stderr, /^kdx: .*(no such run directory|no summary\.json)/);
      assert.ok(!hasStackTrace(wrong.stderr));
    }

    if (!chromiumPath) return t.skip(NO_CHROMIUM);
    const screenshot = join(screenshots, 'side-by-side.png');
    const opened = await openReport(join(cwd, 'both.html'), screenshot, async () => undefined);
    t.diagnostic(`screenshot: ${screenshot}`);
    assert.deepEqual(opened.errors, []);
    assert.deepEqual(opened.blockedRequests, []);
    assert.equal(opened.charts.filter((c) => c.chart === 'confusion').length, 3, 'confusion matrices of the recent run only');
  } finally {
    cleanup(cwd);
  }
});
