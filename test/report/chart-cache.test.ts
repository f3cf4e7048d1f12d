// Report charts are drawn once per spec: a cached `kdx run` draws the same charts as the run before it,
// and takes them from the per-user cache instead of loading Vega.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderSvg } from '../../src/report/html/svg.js';
import { curveSpec } from '../../src/report/html/specs.js';

const spec = (last: number) => curveSpec({
  title: 'loss', yTitle: 'loss', series: ['teacher'], epochs: 2,
  points: [{ epoch: 1, value: 1.5, series: 'teacher' }, { epoch: 2, value: last, series: 'teacher' }],
});

test('a chart is drawn once per spec and served from the cache after, with this page\'s id prefix', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'kdx-charts-'));
  try {
    const drawn = await renderSvg(spec(0.5), 'c0', cache);
    assert.match(drawn, /^<svg role="img" /);
    const files = readdirSync(cache);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^[0-9a-f]{64}\.svg$/);
    assert.equal(await renderSvg(spec(0.5), 'c0', cache), drawn, 'the same chart again');

    // What the cache holds is what is served (so a hit never draws): shown by a planted entry.
    writeFileSync(join(cache, files[0]!), '<svg id="planted"></svg>');
    assert.equal(await renderSvg(spec(0.5), 'c3', cache), '<svg role="img" id="c3-planted"></svg>');

    // Other data is another chart.
    const other = await renderSvg(spec(0.25), 'c0', cache);
    assert.notEqual(other, drawn);
    assert.equal(readdirSync(cache).length, 2);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('a cache that cannot be written costs only the drawing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kdx-charts-'));
  try {
    const notADir = join(dir, 'file');
    writeFileSync(notADir, '');
    assert.match(await renderSvg(spec(0.5), 'c0', join(notADir, 'charts')), /^<svg role="img" /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
