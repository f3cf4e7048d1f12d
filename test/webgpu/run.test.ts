// `kdx run --backend webgpu` end to end on small data: a teacher, a student and a distilled student
// train; two runs give the same bytes; the adapter is in every job key, so a webgpu entry is never served
// to a wasm run nor the other way round; `--jobs 2` runs one job at a time on the GPU.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rmSync } from 'node:fs';
import { countEvents, kdx, parseEvents, scratchDir, tinyExperiment, writeExperiment } from '../e2e/support.js';
import { noAdapter } from './support.js';

const skip = await noAdapter();
const STAGES = ['teacher', 'student', 'kd_student'];

describe('kdx run --backend webgpu', { skip }, () => {
  let cwd: string;
  let file: string;
  before(() => {
    cwd = scratchDir('kdx-webgpu-');
    // Few images and one epoch: SwiftShader emulates the GPU on the CPU.
    file = writeExperiment(cwd, 'tiny.yaml', tinyExperiment({ epochs: 1 }).replace('train: 1024, test: 128', 'train: 64, test: 32').replace('batchSize: 32', 'batchSize: 16'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  const run = async (args: string[]) => {
    const result = await kdx(['run', file, '--json', ...args], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    const events = parseEvents(result.stdout);
    const end = events.find((e) => e.type === 'run-end') as Extract<(typeof events)[number], { type: 'run-end' }>;
    const plan = events.find((e) => e.type === 'plan') as Extract<(typeof events)[number], { type: 'plan' }>;
    return { events, end, plan, stderr: result.stderr };
  };
  const bytesOf = (runDir: string) =>
    Object.fromEntries(STAGES.flatMap((stage) => ['metrics.json', 'weights.bin'].map((name) => [`${stage}/${name}`, readFileSync(resolve(cwd, runDir, 'stages', stage, name)).toString('base64')])));

  let first: Awaited<ReturnType<typeof run>>;
  test('trains the three stages on the adapter, named in the plan and in timing.json', async () => {
    first = await run(['--backend', 'webgpu', '--cache-dir', join(cwd, 'cache-a')]);
    assert.equal(first.end.status, 'ok');
    assert.equal(countEvents(first.events, 'job-end'), 3);
    assert.match(first.plan.backend, /^webgpu \(.+\)$/);
    const timing = JSON.parse(readFileSync(resolve(cwd, first.end.runDir, 'stages', 'kd_student', 'timing.json'), 'utf8')) as { backend: string };
    assert.equal(timing.backend, first.plan.backend);
    assert.equal(first.stderr, '', 'nothing from Dawn or the drivers on stderr');
  });

  test('a second run into another store gives the same bytes', async () => {
    const second = await run(['--backend', 'webgpu', '--cache-dir', join(cwd, 'cache-b')]);
    assert.equal(countEvents(second.events, 'job-end'), 3, 'trained again, not served from the first store');
    assert.deepEqual(bytesOf(second.end.runDir), bytesOf(first.end.runDir));
  });

  test('a wasm run trains its own jobs; webgpu again is served from the store; --jobs 2 is one at a time', async () => {
    const wasm = await run(['--backend', 'wasm', '--cache-dir', join(cwd, 'cache-a')]);
    assert.equal(countEvents(wasm.events, 'job-cached'), 0, 'no webgpu entry served to wasm');
    assert.equal(countEvents(wasm.events, 'job-end'), 3);
    const again = await run(['--backend', 'webgpu', '--cache-dir', join(cwd, 'cache-a'), '--jobs', '2']);
    assert.equal(countEvents(again.events, 'job-cached'), 3, 'the webgpu entries, not the wasm ones');
    assert.ok(again.events.some((e) => e.type === 'log' && /webgpu: one job at a time/.test(e.message)));
  });
});
