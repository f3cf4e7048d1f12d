// A minimal WebAssembly binary writer, enough to assemble kdx's SIMD kernels (filter-grad-simd.ts,
// maxpool-grad-simd.ts, winograd.ts, adam-kernel.ts) from listings of their instructions at start-up, with no build step and no binary
// in the repository; and their instantiation on tfjs-wasm's memory, where they address tensors in place.
// Encodings: https://webassembly.github.io/spec/core/binary/
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import type { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;

export const I32 = 0x7f;
export const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));
const simd = (code: number): number[] => [0xfd, ...uleb(code)];

/** The instructions the kernels use. Memory accesses take a static byte offset. */
export const op = {
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  ltU: [0x49],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  v128Load: (offset: number) => [...simd(0x00), 4, ...uleb(offset)],
  v128Load64Zero: (offset: number) => [...simd(0x5d), 3, ...uleb(offset)], // 2 floats into the low lanes, zeros above
  v128Store: (offset: number) => [...simd(0x0b), 4, ...uleb(offset)],
  v128Const: (bytes: number[]) => [...simd(0x0c), ...bytes],
  i8x16Shuffle: (lanes: number[]) => [...simd(0x0d), ...lanes], // bytes of a (0-15) and b (16-31)
  f32x4Splat: simd(0x13),
  f32x4Gt: simd(0x44),
  v128And: simd(0x4e),
  v128AndNot: simd(0x4f), // a & ~b
  v128Or: simd(0x50),
  v128Bitselect: simd(0x52), // (a & c) | (b & ~c)
  f32x4Neg: simd(0xe1),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Sqrt: simd(0xe3),
  f32x4Max: simd(0xe9),
  f64x2PromoteLow: simd(0x5f), // the two low f32 lanes as f64
  f64x2Add: simd(0xf0),
};

export interface WasmFunction {
  name: string;
  /** Number of i32 parameters (the kernels take addresses, sizes and strides only). */
  params: number;
  /** Locals after the parameters, in order. */
  locals: { type: number; count: number }[];
  body: number[];
}

/** A module that imports its memory as env.memory and exports `functions`, none returning a value. */
export function assemble(functions: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [I32])), ...vec([])]);
  const bodies = functions.map((f) => {
    const code = [...vec(f.locals.map((l) => [...uleb(l.count), l.type])), ...f.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

// --- running on tfjs-wasm's heap --------------------------------------------------------------------------

let simdEnabled = true;

/** Tests turn kdx's SIMD kernels off to check the paths that engines without WebAssembly SIMD take. */
export function setSimdKernelsEnabled(on: boolean): void {
  simdEnabled = on;
}

/**
 * The exports of the module `build` returns, instantiated on the memory of a tfjs-wasm backend (once per
 * memory), or null where it cannot run: an engine without SIMD rejects the module, and tfjs-wasm's
 * multi-threaded build has a shared memory, which these modules do not declare.
 */
export function heapModule<T>(build: () => Uint8Array<ArrayBuffer>): (backend: BackendWasm) => T | null {
  const instances = new WeakMap<WebAssembly.Memory, T | null>();
  return (backend) => {
    if (!simdEnabled) return null;
    const memory = (backend.wasm as unknown as { asm: { memory: WebAssembly.Memory } }).asm.memory;
    if (!instances.has(memory)) {
      let exports: T | null = null;
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      if (!shared) {
        try {
          exports = new WebAssembly.Instance(new WebAssembly.Module(build()), { env: { memory } }).exports as T;
        } catch {
          exports = null;
        }
      }
      instances.set(memory, exports);
    }
    return instances.get(memory)!;
  };
}

/** Byte offset of a tensor's data in the heap. */
export function heapOffset(backend: BackendWasm, t: TensorInfo): number {
  return (backend.dataIdMap.get(t.dataId) as { memoryOffset: number }).memoryOffset;
}
