// WebGPU through Dawn in Node (the npm package `webgpu`): any GPU with a Vulkan, Metal or D3D12 driver,
// with tfjs-backend-webgpu's kernels on it. It has every kernel kdx's layers, losses and optimizers use,
// computing what the cpu backend does (test/webgpu/): kdx adds none of its own.
//
// Which adapter there is gets found in a child process (adapter-probe.ts): Dawn prints its warnings about
// drivers it refuses (Mesa's lavapipe, say) on this process's stderr, which kdx's output must not carry.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeAdapter, type AdapterProbe, type GpuAdapter } from './adapter-probe.js';
import { tf } from './tf.js';

export type { GpuAdapter } from './adapter-probe.js';

const require = createRequire(import.meta.url);
export const WEBGPU_PACKAGE = 'webgpu';
export const TFJS_WEBGPU = '@tensorflow/tfjs-backend-webgpu';

type Loaded = { ok: true; adapter: GpuAdapter } | { ok: false; reason: string };

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  features: Set<string>;
  limits: Record<string, number>;
  info: { vendor: string; architecture: string; device: string; description: string };
  requestDevice(descriptor: unknown): Promise<{ lost: Promise<{ message: string }>; destroy(): void }>;
}

/** The layer whose output, for a whole batch, is over the GPU's limit for one buffer (a WebGPU binding):
 * what no kernel can run. undefined where the batch fits, or on another backend. */
export function oversizedOutput(model: { layers: { name: string; outputShape: unknown }[] }, batch: number):
  { layer: string; shape: number[]; bytes: number; limit: number; maxBatch: number } | undefined {
  if (loaded == null || tf.getBackend() !== 'webgpu') return undefined;
  // The device was asked for the adapter's own limits (loadWebgpu).
  const limit = Math.min(loaded.limits.maxBufferSize, loaded.limits.maxStorageBufferBindingSize);
  let largest: { layer: string; shape: number[]; size: number } | undefined;
  for (const layer of model.layers) {
    const shapes = (Array.isArray((layer.outputShape as unknown[])[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    for (const shape of shapes) {
      const perImage = shape.slice(1) as number[];
      const size = perImage.reduce((a, b) => a * b, 1);
      if (largest === undefined || size > largest.size) largest = { layer: layer.name, shape: perImage, size };
    }
  }
  if (largest === undefined || largest.size * batch * 4 <= limit) return undefined;
  return { layer: largest.layer, shape: largest.shape, bytes: largest.size * batch * 4, limit, maxBatch: Math.floor(limit / (largest.size * 4)) };
}

/** The adapter the registered backend runs on. */
let loaded: GpuAdapter | undefined;

/**
 * Register the `webgpu` tfjs backend on the adapter the probe found. `allowSoftware: false` (auto) refuses a
 * software adapter, where wasm trains faster. The environment the probe needed (SwiftShader's
 * VK_ICD_FILENAMES where only it answers) is set for this process and every process it starts.
 */
export async function loadWebgpu(allowSoftware: boolean): Promise<Loaded> {
  const probe: AdapterProbe = await probeAdapter();
  if (probe.adapter == null) return { ok: false, reason: probe.reason };
  if (probe.adapter.software && !allowSoftware) {
    return {
      ok: false,
      reason: `only a software adapter (${describeAdapter(probe.adapter)}), where wasm is faster; --backend webgpu uses it`,
    };
  }
  if (tf.findBackendFactory('webgpu') == null) {
    for (const [name, value] of Object.entries(probe.adapter.env)) process.env[name] = value;
    let dawn: DawnModule;
    let backendModule: { WebGPUBackend: new (device: unknown, info: unknown) => never };
    try {
      dawn = (await import(WEBGPU_PACKAGE)) as DawnModule;
      backendModule = require(TFJS_WEBGPU) as typeof backendModule;
    } catch (error) {
      return { ok: false, reason: `${WEBGPU_PACKAGE} or ${TFJS_WEBGPU} failed to load: ${(error as Error).message.split('\n')[0]}` };
    }
    // tfjs-backend-webgpu reads the WebGPU globals (GPUBufferUsage...) and navigator.gpu, as in a browser.
    for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
    const { gpu, adapter } = await withRuntimeDir(async () => {
      const gpu = dawn.create([]);
      return { gpu, adapter: await gpu.requestAdapter({ powerPreference: 'high-performance' }) };
    });
    const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: unknown };
    if (nav.gpu == null) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
    if (adapter == null) return { ok: false, reason: 'the adapter the probe found did not answer again' };
    // What tfjs-backend-webgpu's own factory asks for: the adapter's full limits, and timestamps if any.
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    // Every kernel on the GPU: tfjs would run ops on small tensors still held in JS on its cpu backend,
    // which trains fine but is not what `webgpu` promises (nor what its tests would test).
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    const info = adapter.info;
    tf.registerBackend('webgpu', () => new backendModule.WebGPUBackend(device, { vendor: info.vendor, architecture: info.architecture }), 0);
    loaded = probe.adapter;
  }
  return { ok: true, adapter: loaded! };
}

/**
 * Vulkan drivers look for a Wayland display while Dawn enumerates them, and libwayland prints an error on
 * stderr where XDG_RUNTIME_DIR is unset (a server, CI): give them an empty private one meanwhile.
 */
async function withRuntimeDir<T>(f: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux' || process.env.XDG_RUNTIME_DIR) return f();
  const dir = mkdtempSync(join(tmpdir(), 'kdx-runtime-'));
  process.env.XDG_RUNTIME_DIR = dir;
  try {
    return await f();
  } finally {
    delete process.env.XDG_RUNTIME_DIR;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `google swiftshader, software` / `nvidia hopper`: what names an adapter in labels and keys. */
export function describeAdapter(adapter: GpuAdapter): string {
  const name = [adapter.vendor, adapter.architecture || adapter.device].filter((part) => part !== '').join(' ') || adapter.description || 'unknown adapter';
  return adapter.software ? `${name}, software` : name;
}
