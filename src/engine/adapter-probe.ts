// Which WebGPU adapter this machine has, asked in a child process: Dawn writes warnings about the Vulkan
// drivers it refuses (Mesa's lavapipe lacks a feature it needs) straight to the process's stderr, and a
// wedged driver must not hang kdx. Where only a software adapter exists and no driver was chosen
// (VK_ICD_FILENAMES unset), Chromium's SwiftShader is tried as the last resort.
//
// The answer is kept in the user cache under a fingerprint of what decides it (the Vulkan driver files,
// the variables that choose them, the package's version), so a `kdx run` asks once per machine setup;
// `kdx doctor` always asks afresh.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { contentHash } from '../util/hash.js';
import { userCacheDir } from '../util/user-cache.js';

export interface GpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU emulation (SwiftShader, llvmpipe, lavapipe, WARP): `auto` never picks it. */
  software: boolean;
  /** The limits a batch must fit in, and the workgroup storage kernels may use. */
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number };
  /** `features` the adapter offers (f16, timestamps...). */
  features: string[];
  /** The environment it answers in: {} as kdx was started, or SwiftShader's VK_ICD_FILENAMES. */
  env: Record<string, string>;
}

/** Every adapter found, best first; `adapter` is the one kdx takes (the first), or null and why. */
export type AdapterProbe =
  | { adapter: GpuAdapter; adapters: GpuAdapter[] }
  | { adapter: null; adapters: []; reason: string };

/** Chromium's SwiftShader Vulkan driver, as Debian and Ubuntu package it. */
export const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];
const DRIVER_VARIABLES = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'VK_LOADER_DRIVERS_SELECT', 'VK_LOADER_DRIVERS_DISABLE'];
const PROBE_TIMEOUT_MS = 30_000;
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|software|microsoft basic render|warp/i;

// Runs in the child: every adapter each candidate environment gives (for both power preferences), in
// order; the first is the one kdx takes. JSON on stdout.
const PROBE_SCRIPT = `
const { create } = await import(process.argv[1]);
const found = [];
for (const env of JSON.parse(process.argv[2])) {
  Object.assign(process.env, env);
  const gpu = create([]);
  for (const powerPreference of ['high-performance', 'low-power']) {
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (adapter == null) continue;
    const { vendor, architecture, device, description } = adapter.info;
    if (found.some((f) => f.info.description === description && f.info.device === device)) continue;
    const l = adapter.limits;
    const limits = { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize };
    found.push({ env, info: { vendor, architecture, device, description, fallback: adapter.info.isFallbackAdapter === true }, limits, features: [...adapter.features].sort() });
  }
}
process.stdout.write(JSON.stringify(found));
process.exit(0);
`;

interface ProbeOutput {
  env: Record<string, string>;
  info: { vendor: string; architecture: string; device: string; description: string; fallback: boolean };
  limits: GpuAdapter['limits'];
  features: string[];
}

function webgpuEntry(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
}

/** The environments to try: as it is, then (where nobody chose a driver) SwiftShader. */
function candidates(): Record<string, string>[] {
  const chosen = DRIVER_VARIABLES.some((name) => (process.env[name] ?? '') !== '');
  const swiftshader = chosen || process.platform !== 'linux' ? undefined : SWIFTSHADER_ICDS.find((path) => existsSync(path));
  return [{}, ...(swiftshader ? [{ VK_ICD_FILENAMES: swiftshader }] : [])];
}

/** What the answer depends on: the package, the driver variables, and the Vulkan driver manifests. */
function fingerprint(entry: string): string {
  const dirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d',
    ...(process.env.XDG_DATA_DIRS ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'vulkan/icd.d'))];
  const files: string[] = [];
  for (const path of [...dirs.flatMap(listDir), ...SWIFTSHADER_ICDS, '/dev/dri', '/dev/nvidia0']) {
    try {
      files.push(`${path}:${statSync(path).mtimeMs}`);
    } catch {
      // absent: part of the fingerprint by its absence
    }
  }
  let version = '';
  try {
    version = statSync(join(dirname(entry), 'package.json')).mtimeMs.toString();
  } catch {
    // the entry's folder without a package.json: its path alone
  }
  const env = DRIVER_VARIABLES.map((name) => `${name}=${process.env[name] ?? ''}`);
  return contentHash({ entry, version, platform: process.platform, arch: process.arch, env, files }).slice(0, 24);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).map((name) => join(dir, name));
  } catch {
    return [];
  }
}

function runProbe(entry: string): Promise<AdapterProbe> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, pathToFileURL(entry).href, JSON.stringify(candidates())],
      { timeout: PROBE_TIMEOUT_MS, maxBuffer: 1 << 20 }, (error, stdout) => {
        if (error) {
          const why = error.killed ? `no answer in ${PROBE_TIMEOUT_MS / 1000} s` : (error.message.split('\n')[0] ?? 'failed');
          return resolve({ adapter: null, adapters: [], reason: `asking Dawn for an adapter failed (${why})` });
        }
        const adapters = (JSON.parse(stdout) as ProbeOutput[]).map(({ env, info, limits, features }): GpuAdapter => {
          const software = info.fallback || SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
          return { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, software, limits, features, env };
        });
        if (adapters.length > 0) return resolve({ adapter: adapters[0]!, adapters });
        const hint = process.platform === 'linux' ? ' (on Linux: a Vulkan driver and libvulkan1; see `kdx doctor`)' : '';
        resolve({ adapter: null, adapters: [], reason: `no WebGPU adapter found${hint}` });
      });
  });
}

/** The adapter WebGPU would give kdx here, from the cache unless `fresh`. */
export async function probeAdapter(options: { fresh?: boolean } = {}): Promise<AdapterProbe> {
  const entry = webgpuEntry();
  if (entry == null) return { adapter: null, adapters: [], reason: 'the webgpu package is not installed' };
  const file = userCacheDir('webgpu', `adapter-${fingerprint(entry)}.json`);
  if (!options.fresh) {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as AdapterProbe;
    } catch {
      // not asked yet on this setup
    }
  }
  const probe = await runProbe(entry);
  // A failed or timed-out probe is asked again next time; an answer (an adapter, or none) is kept.
  if (probe.adapter == null && !probe.reason.startsWith('no WebGPU adapter')) return probe;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.${process.pid}`, JSON.stringify(probe));
    await rename(`${file}.${process.pid}`, file);
  } catch {
    // a cache that cannot be written only costs the next run another probe
  }
  return probe;
}
