// `kdx doctor`: what this machine can train on, as text and as one JSON object. The training figures are
// left out here (`--no-measure`: the cpu backend and SwiftShader take tens of seconds a step).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DoctorReport } from '../../src/commands/doctor.js';
import { probeAdapter } from '../../src/engine/adapter-probe.js';
import { cleanup, hasStackTrace, kdx, scratchDir } from './support.js';

test('kdx doctor --json: the machine, every backend and whether it loads, the adapters; auto is wasm here', async () => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['doctor', '--json', '--no-measure'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stderr, '');
    const report = JSON.parse(result.stdout) as DoctorReport;
    assert.equal(report.node, process.version);
    assert.ok(report.cores >= 1 && report.memory.totalBytes > 0);
    const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]));
    assert.deepEqual(Object.keys(byName), ['tensorflow', 'webgpu', 'wasm', 'cpu']);
    assert.equal(byName.wasm!.loads, true);
    assert.equal(byName.cpu!.loads, true);
    if (!byName.tensorflow!.loads) assert.match(byName.tensorflow!.reason!, /tfjs-node-gpu is not installed/);
    const probe = await probeAdapter();
    if (probe.adapter != null) {
      // This machine's only adapter is SwiftShader (CI's too): listed as software, loaded by name, passed by auto.
      assert.equal(report.adapters[0]!.software, probe.adapter.software);
      assert.equal(byName.webgpu!.loads, true);
      if (probe.adapter.software) assert.equal(report.auto, 'wasm');
    } else {
      assert.deepEqual(report.adapters, []);
      assert.match(report.adapterReason!, /no WebGPU adapter|not installed/);
    }
  } finally {
    cleanup(cwd);
  }
});

test('kdx doctor: the same as text, software adapters said to be software', async () => {
  const cwd = scratchDir();
  try {
    const result = await kdx(['doctor', '--no-measure'], { cwd });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.match(result.stdout, /^Node v\d+\.\d+\.\d+ on \w+ \w+, \d+ cores, [\d.]+ GiB memory/);
    assert.match(result.stdout, /^ {2}wasm +loads \(wasm\)$/m);
    assert.match(result.stdout, /^ {2}cpu +loads \(cpu\)$/m);
    assert.match(result.stdout, /^--backend auto picks: \S+/m);
    if ((await probeAdapter()).adapter?.software) assert.match(result.stdout, /software: a CPU emulation, for testing \(auto passes it by\)/);
  } finally {
    cleanup(cwd);
  }
});
