import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';

import { type BackendName, selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { wasmKernelsRegistered } from '../../src/engine/wasm-kernels.js';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const hasTensorflow = installed('@tensorflow/tfjs-node-gpu');

describe('selectBackend', () => {
  test('auto picks the first backend that loads and says why it skipped the others', async () => {
    const info = await selectBackend('auto');
    assert.equal(info.requested, 'auto');
    assert.equal(info.name, tf.getBackend());
    if (hasTensorflow) {
      assert.equal(info.name, 'tensorflow');
      assert.deepEqual(info.fallbacks, []);
    } else {
      assert.equal(info.name, 'wasm');
      assert.equal(info.gpu, false);
      assert.equal(info.fallbacks.length, 2);
      assert.match(info.fallbacks[0]!, /^tensorflow: @tensorflow\/tfjs-node-gpu is not installed/);
      // No hardware GPU here: a software adapter (SwiftShader, where CI has it) is passed by, or none found.
      assert.match(info.fallbacks[1]!, /^webgpu: (only a software adapter \(.+, software\), where wasm is faster; --backend webgpu uses it|no WebGPU adapter found.*)$/);
      assert.ok(wasmKernelsRegistered(), 'selecting wasm registers kdx kernels');
    }
  });

  test('calling again is cheap and gives the same answer', async () => {
    const first = await selectBackend('auto');
    const t0 = performance.now();
    const again = await selectBackend('auto');
    assert.ok(performance.now() - t0 < 50);
    assert.deepEqual(again, first);
    again.fallbacks.push('mutated');
    assert.deepEqual((await selectBackend('auto')).fallbacks, first.fallbacks, 'callers get copies');
  });

  test('cpu works, and switching back and forth in one process works', async () => {
    const cpu = await selectBackend('cpu');
    assert.deepEqual(cpu, { name: 'cpu', requested: 'cpu', gpu: false, fallbacks: [] });
    const onCpu = tf.tidy(() => tf.tensor([1, 2, 3]).square().sum().dataSync()[0]);
    const wasm = await selectBackend('wasm');
    assert.deepEqual(wasm, { name: 'wasm', requested: 'wasm', gpu: false, fallbacks: [] });
    const onWasm = tf.tidy(() => tf.tensor([1, 2, 3]).square().sum().dataSync()[0]);
    assert.equal(onCpu, 14);
    assert.equal(onWasm, 14);
    assert.equal((await selectBackend('cpu')).name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
  });

  test('an explicit tensorflow request that cannot load throws one clear line', { skip: hasTensorflow }, async () => {
    const before = tf.getBackend();
    await assert.rejects(selectBackend('tensorflow'), (err: Error) => {
      assert.equal(err.message, 'backend "tensorflow" is not available: @tensorflow/tfjs-node-gpu is not installed (an optional dependency)');
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.equal(tf.getBackend(), before, 'a failed request leaves the backend as it was');
  });

  test('an unknown name is rejected', async () => {
    await assert.rejects(selectBackend('gpu' as BackendName), /unknown backend "gpu" \(expected one of auto, tensorflow, webgpu, wasm, cpu\)/);
  });
});
