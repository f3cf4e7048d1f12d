// The README's way of loading a trained model (lib/load-model.js, exported as kdx-distill/load-model)
// works in Node with plain @tensorflow/tfjs and in headless Chromium, and both give the same logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { chromium } from 'playwright-core';
import { loadModel } from 'kdx-distill/load-model';
import type { KdxEvent } from '../../src/events.js';
import { cleanup, kdx, parseEvents, repoRoot, scratchDir, tinyExperiment, writeExperiment } from './support.js';
import { chromiumPath, NO_CHROMIUM } from './browser.js';

const SHAPE = [3, 16, 16, 3] as const;

/** Three images of normalised values, the same every time. */
function input(): number[] {
  return Array.from({ length: SHAPE.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 1.5);
}

/** Serves the stage directory, the loader and TensorFlow.js's browser bundle. */
function serve(stageDir: string): Promise<Server> {
  const files: Record<string, string> = {
    '/tf.min.js': join(repoRoot, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'),
    '/load-model.js': join(repoRoot, 'lib', 'load-model.js'),
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script src="/tf.min.js"></script>');
      return;
    }
    const path = files[url.pathname] ?? (url.pathname.startsWith('/stage/') ? join(stageDir, normalize(url.pathname.slice('/stage/'.length))) : undefined);
    if (!path || !existsSync(path)) {
      response.writeHead(404).end();
      return;
    }
    const type = path.endsWith('.js') ? 'text/javascript' : path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    response.writeHead(200, { 'content-type': type }).end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('a trained student loads in Node and in headless Chromium, with the same logits', async (t) => {
  // CI installs Chromium (.ci/run): there, its absence is a failure, not a reason to skip.
  if (!chromiumPath && !process.env.CI) {
    t.skip(NO_CHROMIUM);
    return;
  }
  assert.ok(chromiumPath, NO_CHROMIUM);
  const cwd = scratchDir();
  let server: Server | undefined;
  try {
    const file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }));
    const run = await kdx(['run', file, '--json'], { cwd });
    assert.equal(run.exitCode, 0, run.stderr);
    const end = parseEvents(run.stdout).find((e) => e.type === 'run-end') as Extract<KdxEvent, { type: 'run-end' }>;
    const stageDir = join(cwd, end.runDir, 'stages', 'kd_student');

    // Node: the documented import, with plain @tensorflow/tfjs (no tfjs-node, so no file:// handler).
    await tf.setBackend('cpu');
    await assert.rejects(tf.loadLayersModel(`file://${join(stageDir, 'model.json')}`), 'plain tfjs cannot load a file:// URL in Node');
    const model = await loadModel(tf, stageDir);
    const x = tf.tensor4d(input(), [...SHAPE]);
    const nodeLogits = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    x.dispose();
    model.dispose();
    assert.equal(nodeLogits.length, SHAPE[0]);
    assert.equal(nodeLogits[0].length, 4);

    // Chromium: the same loader, given the URL of model.json.
    server = await serve(stageDir);
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/`);
      const browserLogits = await page.evaluate(async ({ values, shape, url }) => {
        const g = globalThis as unknown as { tf: typeof tf };
        const { loadModel: load } = (await import(`${location.origin}/load-model.js`)) as typeof import('kdx-distill/load-model');
        await g.tf.setBackend('cpu');
        const m = await load(g.tf, url);
        return (m.predict(g.tf.tensor4d(values, shape)) as tf.Tensor).arraySync() as number[][];
      }, { values: input(), shape: [...SHAPE] as [number, number, number, number], url: `${origin}/stage/model.json` });
      for (let i = 0; i < nodeLogits.length; i++) {
        for (let j = 0; j < nodeLogits[i].length; j++) {
          assert.ok(Math.abs(browserLogits[i][j] - nodeLogits[i][j]) < 1e-5, `logit [${i}][${j}]: ${browserLogits[i][j]} in Chromium, ${nodeLogits[i][j]} in Node`);
        }
      }
    } finally {
      await browser.close();
    }
  } finally {
    server?.close();
    cleanup(cwd);
  }
});
