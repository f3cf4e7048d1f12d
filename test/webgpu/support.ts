// What the webgpu tests share: the backend on whatever adapter this machine has (SwiftShader in CI, where
// .ci/run installs libvulkan1 and Chromium's driver), and a skip, saying why, only where none exists.
import assert from 'node:assert/strict';
import { selectBackend, type BackendInfo } from '../../src/engine/backend.js';
import { probeAdapter } from '../../src/engine/adapter-probe.js';
import { assertClose as assertCloseTo } from '../engine/close.js';

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

/** Within `rtol` (1e-4) of the cpu backend's values, relative to the tensor's largest, or to 1e-2 for a
 * tensor of values all nearer zero (a batchNorm's moving mean of about 1e-7): 1e-6 absolute there. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4): void {
  assertCloseTo(actual, expected, what, { rtol, floor: 1e-2, compared: 'webgpu - cpu' });
}
