// One pass of torch.optim.Adam / AdamW over a variable, as a wasm kernel: the optimizer's dozen
// elementwise operations (plugins/optimizers.ts TorchAdam) each stream the whole variable through memory,
// about 29 ms per step for the reference teacher's 3.2M weights. Here one WebAssembly SIMD loop reads the
// four arrays once and writes three. It computes exactly what those operations compute: each of their
// operations is one float32 rounding of one IEEE operation, as each f32x4 lane here is (and as Math.fround
// of the exact result is, for the last few elements), and their scalars are float32 too: the same bytes.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { tf } from './tf.js';
import { I32, V128, assemble, heapModule, heapOffset, op } from './wasm-asm.js';

export const ADAM_UPDATE = 'KdxAdamUpdate';

export interface AdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p *= 1 - lr * wd first; else (Adam) g += wd * p. */
  decoupled: boolean;
  /** This update's number (1, 2, ...): the bias corrections. */
  step: number;
}

/** How weight decay enters: none, on the weights (AdamW), or on the gradient (Adam's L2). */
type Decay = 'none' | 'weights' | 'gradient';

/** The float32 scalars, in the order the kernel reads them (each stored 4 times: one vector). */
const SCALARS = ['decay', 'wd', 'b1', 'c1', 'b2', 'c2', 'sqrtBc2', 'eps', 'stepSize'] as const;
type Scalars = Record<(typeof SCALARS)[number], number>;

function scalars(a: AdamUpdateAttrs): Scalars {
  const f = Math.fround;
  // As the operations see them: float32 tensors of these JavaScript numbers.
  return {
    decay: f(1 - a.lr * a.weightDecay),
    wd: f(a.weightDecay),
    b1: f(a.beta1),
    c1: f(1 - a.beta1),
    b2: f(a.beta2),
    c2: f(1 - a.beta2),
    sqrtBc2: f(Math.sqrt(1 - Math.pow(a.beta2, a.step))),
    eps: f(a.eps),
    stepSize: f(a.lr / (1 - Math.pow(a.beta1, a.step))),
  };
}

/** Elements [from, n) in JavaScript: the same roundings, one Math.fround per operation. */
function updateTail(decay: Decay, k: Scalars, arrays: Float32Array[], from: number, n: number): void {
  const f = Math.fround;
  const [P, M, V, G, P1, M1, V1] = arrays;
  for (let i = from; i < n; i++) {
    const p0 = decay === 'weights' ? f(P[i] * k.decay) : P[i];
    const g = decay === 'gradient' ? f(G[i] + f(P[i] * k.wd)) : G[i];
    const m = f(f(M[i] * k.b1) + f(g * k.c1));
    const v = f(f(V[i] * k.b2) + f(f(g * g) * k.c2));
    const denom = f(f(f(Math.sqrt(v)) / k.sqrtBc2) + k.eps);
    P1[i] = f(p0 - f(f(m / denom) * k.stepSize));
    M1[i] = m;
    V1[i] = v;
  }
}

// --- the SIMD loop: update(p, m, v, g, p1, m1, v1, bytes, scalars), all addresses in bytes, bytes % 16 == 0
const [P, M, V, G, P1, M1, V1, BYTES, K] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const I = 9;
const [DECAY, WD, B1, C1, B2, C2, SQRT_BC2, EPS, STEP_SIZE, P0, GV, MV, VV] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
type UpdateFn = (p: number, m: number, v: number, g: number, p1: number, m1: number, v1: number, bytes: number, scalars: number) => void;

function updateBody(decay: Decay): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const part of parts) code.push(...part); };
  const load = (array: number) => [...op.get(array), ...op.get(I), ...op.add, ...op.v128Load(0)];
  const store = (array: number, value: number) => [...op.get(array), ...op.get(I), ...op.add, ...op.get(value), ...op.v128Store(0)];
  SCALARS.forEach((_, j) => emit(op.get(K), op.v128Load(16 * j), op.set(DECAY + j)));
  emit(op.i32(0), op.set(I), op.loop);
  emit(load(P), decay === 'weights' ? [...op.get(DECAY), ...op.f32x4Mul] : [], op.set(P0));
  emit(load(G), decay === 'gradient' ? [...load(P), ...op.get(WD), ...op.f32x4Mul, ...op.f32x4Add] : [], op.set(GV));
  emit(load(M), op.get(B1), op.f32x4Mul, op.get(GV), op.get(C1), op.f32x4Mul, op.f32x4Add, op.set(MV));
  emit(load(V), op.get(B2), op.f32x4Mul, op.get(GV), op.get(GV), op.f32x4Mul, op.get(C2), op.f32x4Mul, op.f32x4Add, op.set(VV));
  // p1 = p0 - (m / (sqrt(v) / sqrtBc2 + eps)) * stepSize
  emit(op.get(P0), op.get(MV), op.get(VV), op.f32x4Sqrt, op.get(SQRT_BC2), op.f32x4Div, op.get(EPS), op.f32x4Add, op.f32x4Div);
  emit(op.get(STEP_SIZE), op.f32x4Mul, op.f32x4Sub, op.set(P0));
  emit(store(P1, P0), store(M1, MV), store(V1, VV));
  emit(op.get(I), op.i32(16), op.add, op.tee(I), op.get(BYTES), op.ltU, op.brIf(0), op.end);
  return code;
}

export function adamModuleBytes(): Uint8Array<ArrayBuffer> {
  const locals = [{ type: I32, count: 1 }, { type: V128, count: 13 }];
  return assemble((['none', 'weights', 'gradient'] as const).map((decay) => ({ name: decay, params: 9, locals, body: updateBody(decay) })));
}

const heapKernel = heapModule<Record<Decay, UpdateFn>>(adamModuleBytes);

/** New [p, m, v] of one Adam step, as the operations of TorchAdam.update compute them. */
function adamUpdate(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const { p, m, v, g } = args.inputs as Record<'p' | 'm' | 'v' | 'g', tf.TensorInfo>;
  const a = args.attrs as unknown as AdamUpdateAttrs;
  const decay: Decay = a.weightDecay === 0 ? 'none' : a.decoupled ? 'weights' : 'gradient';
  const k = scalars(a);
  const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  const n = tf.util.sizeFromShape(p.shape);
  const kernel = heapKernel(backend)?.[decay];
  const vectorised = kernel == null ? 0 : n - (n % 4);
  if (vectorised > 0) {
    const constants = backend.makeOutput([4 * SCALARS.length], 'float32');
    (backend.typedArrayFromHeap(constants) as Float32Array).set(SCALARS.flatMap((name) => [k[name], k[name], k[name], k[name]]));
    const [pAt, mAt, vAt, gAt, p1At, m1At, v1At] = [p, m, v, g, ...outs].map((t) => heapOffset(backend, t));
    kernel!(pAt, mAt, vAt, gAt, p1At, m1At, v1At, 4 * vectorised, heapOffset(backend, constants));
    backend.disposeData(constants.dataId);
  }
  // Views after the allocations: a heap growth detaches older ones.
  const arrays = [p, m, v, g, ...outs].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  updateTail(decay, k, arrays, vectorised, n);
  return outs;
}

export const adamUpdateKernel: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'wasm',
  kernelFunc: adamUpdate as unknown as tf.KernelFunc,
};

/** Whether the current backend has the fused update (else the optimizer runs the operations). */
export function hasAdamUpdate(): boolean {
  return tf.getKernel(ADAM_UPDATE, tf.getBackend()) != null;
}
