// What the webgpu tests share: the backend on whatever adapter this machine has (SwiftShader in CI, where
// .ci/run installs libvulkan1 and Chromium's driver), and a skip, saying why, only where none exists.
import assert from 'node:assert/strict';
import { selectBackend, type BackendInfo } from '../../src/engine/backend.js';
import { probeAdapter } from '../../src/engine/adapter-probe.js';

/** Why the webgpu tests cannot run here, or undefined when an adapter answers. CI must have one. */
export async function noAdapter(): Promise<string | undefined> {
  const probe = await probeAdapter();
  if (probe.adapter != null) return undefined;
  if (process.env.CI) assert.fail(`CI must have a WebGPU adapter (libvulkan1 and chromium's SwiftShader): ${probe.reason}`);
  return probe.reason;
}

export async function useWebgpu(): Promise<BackendInfo> {
  const info = await selectBackend('webgpu');
  assert.equal(info.name, 'webgpu');
  return info;
}

/** Max |actual - expected| within `rtol` of the largest |expected| (values of one tensor share a scale). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  assert.ok(Number.isFinite(maxDiff), `${what}: non-finite values`);
  assert.ok(maxDiff <= rtol * Math.max(scale, 1e-3), `${what}: max |webgpu - cpu| = ${maxDiff} > ${rtol} x ${scale}`);
}
