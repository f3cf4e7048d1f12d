// Choice of the TensorFlow.js backend: `auto` tries tensorflow on a GPU (libtensorflow through the optional
// @tensorflow/tfjs-node-gpu), then webgpu on a hardware adapter (Dawn, webgpu.ts), then tensorflow on the
// CPU, then wasm (with kdx's training kernels), then the pure-JS cpu backend.
import { tf } from './tf.js';
import { registerWasmKernels } from './wasm-kernels.js';
import { describeAdapter, loadWebgpu, type GpuAdapter } from './webgpu.js';
import { UserError } from '../errors.js';

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The tfjs backend actually in use (tf.getBackend()). */
  name: string;
  /** What was asked for. */
  requested: BackendName;
  /** Whether computation runs on a GPU (tensorflow with CUDA, or webgpu on a hardware adapter). */
  gpu: boolean;
  /** webgpu's adapter: vendor, architecture, whether it is software. */
  adapter?: GpuAdapter;
  /** Why each earlier choice of `auto` was skipped, e.g. "tensorflow: @tensorflow/tfjs-node-gpu is not installed". */
  fallbacks: string[];
}

type Concrete = Exclude<BackendName, 'auto'>;
type Loaded = { ok: true; gpu: boolean; adapter?: GpuAdapter } | { ok: false; reason: string };

/** `auto`'s order; tensorflow is taken at once only on a GPU, else after webgpu (see selectBackend). */
const AUTO_ORDER: readonly Concrete[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';

/** One load attempt per backend and process; failures are remembered too (a failed native load won't heal). */
const loads = new Map<Concrete, Promise<Loaded>>();
let last: BackendInfo | null = null;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n').find((l) => l.trim() !== '') ?? msg).trim();
}

function isNotInstalled(err: unknown, pkg: string): boolean {
  const code = (err as { code?: string } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && firstLine(err).includes(pkg);
}

/** Import an optional package by a computed name, so TypeScript does not require it to be installed. */
async function importOptional(pkg: string): Promise<unknown> {
  return import(pkg);
}

async function initialise(name: Concrete): Promise<boolean> {
  // tf.setBackend logs a warning and resolves false when the backend's factory fails.
  return tf.getBackend() === name || (await tf.setBackend(name));
}

async function loadTensorflow(): Promise<Loaded> {
  try {
    await importOptional(TFJS_NODE_GPU);
  } catch (err) {
    if (isNotInstalled(err, TFJS_NODE_GPU)) {
      return { ok: false, reason: `${TFJS_NODE_GPU} is not installed (an optional dependency)` };
    }
    return { ok: false, reason: `${TFJS_NODE_GPU} failed to load: ${firstLine(err)}` };
  }
  if (tf.findBackendFactory('tensorflow') == null) {
    return { ok: false, reason: `${TFJS_NODE_GPU} registered itself in another copy of @tensorflow/tfjs-core (all @tensorflow packages must be 4.22.0)` };
  }
  if (!(await initialise('tensorflow'))) return { ok: false, reason: 'libtensorflow failed to initialise' };
  const instance = tf.findBackend('tensorflow') as { isUsingGpuDevice?: boolean } | null;
  return { ok: true, gpu: instance?.isUsingGpuDevice === true };
}

async function loadWasm(): Promise<Loaded> {
  try {
    await importOptional(TFJS_WASM);
  } catch (err) {
    if (isNotInstalled(err, TFJS_WASM)) return { ok: false, reason: `${TFJS_WASM} is not installed` };
    return { ok: false, reason: `${TFJS_WASM} failed to load: ${firstLine(err)}` };
  }
  if (tf.findBackendFactory('wasm') == null) {
    return { ok: false, reason: `${TFJS_WASM} registered itself in another copy of @tensorflow/tfjs-core (all @tensorflow packages must be 4.22.0)` };
  }
  if (!(await initialise('wasm'))) return { ok: false, reason: 'the WebAssembly module failed to initialise' };
  registerWasmKernels();
  return { ok: true, gpu: false };
}

async function loadCpu(): Promise<Loaded> {
  if (!(await initialise('cpu'))) return { ok: false, reason: 'the cpu backend failed to initialise' };
  // kdx reports the backend itself: silence tfjs-cpu's "install the node backend" banner on first use.
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu != null && 'firstUse' in cpu) cpu.firstUse = false;
  return { ok: true, gpu: false };
}

/** webgpu for `auto` refuses a software adapter; asked for by name, it takes one. */
async function loadWebgpuBackend(allowSoftware: boolean): Promise<Loaded> {
  const result = await loadWebgpu(allowSoftware);
  if (!result.ok) return result;
  if (!(await initialise('webgpu'))) return { ok: false, reason: 'the WebGPU device failed to initialise' };
  return { ok: true, gpu: !result.adapter.software, adapter: result.adapter };
}

const LOADERS: Record<Concrete, () => Promise<Loaded>> = {
  tensorflow: loadTensorflow,
  webgpu: () => loadWebgpuBackend(true),
  wasm: loadWasm,
  cpu: loadCpu,
};

function load(name: Concrete, forAuto = false): Promise<Loaded> {
  // auto's webgpu is asked separately: a software adapter is refused there but taken by name.
  if (name === 'webgpu' && forAuto) return loadWebgpuBackend(false);
  let p = loads.get(name);
  if (p == null) {
    p = LOADERS[name]();
    loads.set(name, p);
  }
  return p;
}

function copy(info: BackendInfo): BackendInfo {
  return { ...info, fallbacks: [...info.fallbacks] };
}

/**
 * Make `requested` the active tfjs backend and say what is in use. `auto` falls back tensorflow on a GPU ->
 * webgpu on a hardware adapter -> tensorflow on the CPU -> wasm -> cpu and records why in `fallbacks`; an
 * explicit backend that cannot load throws a one-line Error.
 * Cheap when called again (each backend is loaded once per process; switching is tf.setBackend).
 */
export async function selectBackend(requested: BackendName): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`unknown backend "${String(requested)}" (expected one of ${BACKEND_NAMES.join(', ')})`);
  }
  if (last != null && last.requested === requested && tf.getBackend() === last.name) return copy(last);

  const auto = requested === 'auto';
  const order = auto ? AUTO_ORDER : [requested];
  const fallbacks: string[] = [];
  // libtensorflow on the CPU is kept for after webgpu: a hardware adapter trains faster.
  let tensorflowOnCpu = false;
  for (const name of order) {
    if (auto && name === 'wasm' && tensorflowOnCpu && (await initialise('tensorflow'))) {
      last = { name: 'tensorflow', requested, gpu: false, fallbacks };
      return copy(last);
    }
    const result = await load(name, auto);
    if (auto && name === 'tensorflow' && result.ok && !result.gpu) {
      tensorflowOnCpu = true;
      continue;
    }
    if (result.ok && (await initialise(name))) {
      last = { name: tf.getBackend(), requested, gpu: result.gpu, ...(result.adapter ? { adapter: result.adapter } : {}), fallbacks };
      return copy(last);
    }
    const reason = result.ok ? 'failed to initialise' : result.reason;
    if (!auto) throw new Error(`backend "${name}" is not available: ${reason}`);
    fallbacks.push(`${name}: ${reason}`);
  }
  throw new Error(`no TensorFlow.js backend could be loaded (${fallbacks.join('; ')})`);
}

/** Every fixed label backendLabel can give; webgpu's name their adapter, and `kdx cache gc` reads those
 * from the store's entries. */
export const BACKEND_LABELS: readonly string[] = ['tensorflow (GPU)', 'tensorflow (no GPU found: CPU)', 'wasm', 'cpu'];

/** The backend as runs record it, and as job keys include it: tfjs-node-gpu runs on the CPU when it finds
 * no GPU, and the two give different bytes, so say which; webgpu names its adapter (another GPU, or
 * another driver, may round differently). */
export function backendLabel(backend: BackendInfo): string {
  if (backend.name === 'webgpu' && backend.adapter) return `webgpu (${describeAdapter(backend.adapter)})`;
  if (backend.name !== 'tensorflow') return backend.name;
  return backend.gpu ? 'tensorflow (GPU)' : 'tensorflow (no GPU found: CPU)';
}

/** selectBackend for commands: a backend that cannot load is the user's environment, not a bug (exit 1). */
export async function selectBackendOrFail(requested: BackendName): Promise<BackendInfo> {
  try {
    return await selectBackend(requested);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
}
