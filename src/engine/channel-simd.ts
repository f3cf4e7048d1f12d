// Passes over a [rows, C] float32 tensor (an NHWC activation: channels innermost) that combine elements with
// per-channel vectors, as WebAssembly SIMD kernels on tfjs-wasm's heap (wasm-asm.ts): batchNorm's statistics,
// normalisation and gradient (batch-norm-kernel.ts), and sums over leading axes (wasm-kernels.ts). Each is
// one read of its inputs where tfjs runs one elementwise operation (one pass over memory) per step.
//
// A pass is written once, as an expression of its inputs (Expr), from which both the SIMD kernel and a
// JavaScript loop (for channel counts or tails the kernel does not take, and engines without SIMD) are
// generated; every operation rounds to float32 as tfjs' elementwise kernels do, so both give the bytes those
// operations give.
// - A map gives out[r, c] = value(streams[r, c], vectors[c]), 4 lanes at a time: rows are taken
//   lcm(C, 4) floats at a time, the vectors tiled to match, so any C vectorises.
// - Column sums give sum over r of term(streams[r, c], vectors[c]) in doubles, in kdx's column-sum order:
//   rows eight at a time, ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)) added to the sum, then the rows
//   left one at a time. The kernel takes 4 or 2 channels at a time (as f64x2 pairs), so C must be even for it.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import type { tf } from './tf.js';
import { I32, V128, assemble, heapModule, heapOffset, op, type WasmFunction } from './wasm-asm.js';

type TensorInfo = tf.TensorInfo;

/** An elementwise expression: element r, c of stream i; element c of vector j; float32 operations. */
export type Expr = { stream: number } | { vector: number } | ['add' | 'sub' | 'mul', Expr, Expr];
export const stream = (i: number): Expr => ({ stream: i });
export const vector = (j: number): Expr => ({ vector: j });
export const add = (a: Expr, b: Expr): Expr => ['add', a, b];
export const sub = (a: Expr, b: Expr): Expr => ['sub', a, b];
export const mul = (a: Expr, b: Expr): Expr => ['mul', a, b];

/** A pass reads `streams` tensors [rows, C] and `vectors` [C]; a map writes `value`, column sums one sum per term. */
export interface MapPass { streams: number; vectors: number; value: Expr }
export interface SumsPass { streams: number; vectors: number; terms: Expr[] }

const f32x4Ops = { add: op.f32x4Add, sub: op.f32x4Sub, mul: op.f32x4Mul };

function emitExpr(e: Expr, leaf: (e: { stream: number } | { vector: number }) => number[]): number[] {
  if (!Array.isArray(e)) return leaf(e);
  return [...emitExpr(e[1], leaf), ...emitExpr(e[2], leaf), ...f32x4Ops[e[0]]];
}

/** The expression as a JavaScript function of (element i, channel c) over these arrays. */
function compileExpr(e: Expr, streams: Float32Array[], vectors: Float32Array[]): (i: number, c: number) => number {
  if (!Array.isArray(e)) {
    if ('stream' in e) {
      const a = streams[e.stream]!;
      return (i) => a[i]!;
    }
    const v = vectors[e.vector]!;
    return (_, c) => v[c]!;
  }
  const f = compileExpr(e[1], streams, vectors);
  const g = compileExpr(e[2], streams, vectors);
  const fr = Math.fround;
  if (e[0] === 'add') return (i, c) => fr(f(i, c) + g(i, c));
  if (e[0] === 'sub') return (i, c) => fr(f(i, c) - g(i, c));
  return (i, c) => fr(f(i, c) * g(i, c));
}

// --- the kernels ------------------------------------------------------------------------------------------
// map(out, s0.., v0.., rows, rowBytes): every 16 bytes of every row.
// sums(acc, s0.., v0.., blocks, rowBytes): acc (f64 [terms, C]) += the terms of 8 rows at a time, 4 (or 2)
// channels at a time, the 8 rows of a block rowBytes apart.

function mapFunction(name: string, pass: MapPass): WasmFunction {
  const params = 1 + pass.streams + pass.vectors + 2;
  const [OUT, S0, V0, ROWS, ROW_BYTES] = [0, 1, 1 + pass.streams, params - 2, params - 1];
  const [ROW, C, AT] = [params, params + 1, params + 2];
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const p of parts) code.push(...p); };
  emit(op.i32(0), op.set(ROW), op.loop); // for each row
  emit(op.i32(0), op.set(C), op.loop); //   for each 4 floats of it
  emit(op.get(ROW), op.get(C), op.add, op.set(AT));
  emit(op.get(OUT), op.get(AT), op.add);
  emit(emitExpr(pass.value, (l) => 'stream' in l
    ? [...op.get(S0 + l.stream), ...op.get(AT), ...op.add, ...op.v128Load(0)]
    : [...op.get(V0 + l.vector), ...op.get(C), ...op.add, ...op.v128Load(0)]));
  emit(op.v128Store(0));
  emit(op.get(C), op.i32(16), op.add, op.tee(C), op.get(ROW_BYTES), op.ltU, op.brIf(0), op.end);
  emit(op.get(ROW), op.get(ROW_BYTES), op.add, op.set(ROW));
  emit(op.get(ROWS), op.i32(1), op.sub, op.tee(ROWS), op.brIf(0), op.end);
  return { name, params, locals: [{ type: I32, count: 3 }], body: code };
}

/** Moves lanes 2 and 3 of a vector of f32 to lanes 0 and 1 (for f64x2.promote_low). */
const HIGH_HALF = [...op.i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15])];

/** `lanes` 4 (C % 4 == 0: a vector of 4 channels, promoted in two halves) or 2 (C % 2 == 0: 64-bit loads). */
function sumsFunction(name: string, pass: SumsPass, lanes: 2 | 4): WasmFunction {
  const params = 1 + pass.streams + pass.vectors + 2;
  const [ACC, S0, V0, BLOCKS, ROW_BYTES] = [0, 1, 1 + pass.streams, params - 2, params - 1];
  const [ROW, C, AT, ACC_AT] = [params, params + 1, params + 2, params + 3];
  const RK = params + 4; // RK + k - 1: k * rowBytes, k = 1..7
  const SC = RK + 7; // SC + i: stream i's address at this row and channel
  const i32Locals = SC + pass.streams - params;
  const [F, VV] = [SC + pass.streams, SC + pass.streams + 1]; // a term (f32x4); the vectors at this channel
  const LO = VV + pass.vectors; // LO..LO+7, HI..HI+7: the 8 rows' terms (f64x2), channels 0-1 and 2-3
  const HI = LO + 8;
  const load = lanes === 4 ? op.v128Load(0) : op.v128Load64Zero(0);
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const p of parts) code.push(...p); };
  for (let k = 1; k < 8; k++) emit(op.get(ROW_BYTES), op.i32(k), op.mul, op.set(RK + k - 1));
  emit(op.i32(0), op.set(ROW), op.loop); // for each block of 8 rows
  emit(op.i32(0), op.set(C), op.loop); //   for each `lanes` channels
  emit(op.get(ROW), op.get(C), op.add, op.set(AT));
  for (let i = 0; i < pass.streams; i++) emit(op.get(S0 + i), op.get(AT), op.add, op.set(SC + i));
  for (let j = 0; j < pass.vectors; j++) emit(op.get(V0 + j), op.get(C), op.add, load, op.set(VV + j));
  pass.terms.forEach((term, t) => {
    for (let k = 0; k < 8; k++) {
      emit(emitExpr(term, (l) => 'stream' in l
        ? [...op.get(SC + l.stream), ...(k === 0 ? [] : [...op.get(RK + k - 1), ...op.add]), ...load]
        : op.get(VV + l.vector)));
      emit(op.tee(F), op.f64x2PromoteLow, op.set(LO + k));
      if (lanes === 4) emit(op.get(F), op.get(F), HIGH_HALF, op.f64x2PromoteLow, op.set(HI + k));
    }
    // acc[t, c..] += ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7)), at acc + t*2*rowBytes + 2*C
    emit(op.get(ACC), op.get(C), op.i32(2), op.mul, op.add, ...(t === 0 ? [] : [op.get(ROW_BYTES), op.i32(2 * t), op.mul, op.add]), op.set(ACC_AT));
    for (const [half, offset] of lanes === 4 ? [[LO, 0], [HI, 16]] : [[LO, 0]]) {
      const pair = (a: number) => [...op.get(half! + a), ...op.get(half! + a + 1), ...op.f64x2Add];
      emit(op.get(ACC_AT), op.get(ACC_AT), op.v128Load(offset!));
      emit(pair(0), pair(2), op.f64x2Add, pair(4), pair(6), op.f64x2Add, op.f64x2Add, op.f64x2Add, op.v128Store(offset!));
    }
  });
  emit(op.get(C), op.i32(4 * lanes), op.add, op.tee(C), op.get(ROW_BYTES), op.ltU, op.brIf(0), op.end);
  emit(op.get(ROW), op.get(RK + 6), op.get(ROW_BYTES), op.add, op.add, op.set(ROW)); // + 8 rows
  emit(op.get(BLOCKS), op.i32(1), op.sub, op.tee(BLOCKS), op.brIf(0), op.end);
  return { name, params, locals: [{ type: I32, count: i32Locals }, { type: V128, count: 1 + pass.vectors + 16 }], body: code };
}

type KernelFn = (...args: number[]) => void;

/**
 * The kernels of some passes, and the functions that run them on tensors (in JavaScript where the kernels
 * cannot run). Names are the passes' keys.
 */
export function channelPasses<M extends string, S extends string>(maps: Record<M, MapPass>, sums: Record<S, SumsPass>) {
  const build = () => assemble([
    ...Object.entries<MapPass>(maps).map(([name, pass]) => mapFunction(`map_${name}`, pass)),
    ...Object.entries<SumsPass>(sums).flatMap(([name, pass]) => [sumsFunction(`sums4_${name}`, pass, 4), sumsFunction(`sums2_${name}`, pass, 2)]),
  ]);
  const heapKernel = heapModule<Record<string, KernelFn>>(build);

  /** Copies of `vectors` on the heap, each repeated `times` times (freed by the caller). */
  const heapVectors = (backend: BackendWasm, vectors: Float32Array[], times: number): TensorInfo[] => vectors.map((v) => {
    const t = backend.makeOutput([v.length * times], 'float32');
    const dst = backend.typedArrayFromHeap(t) as Float32Array;
    for (let k = 0; k < times; k++) dst.set(v, k * v.length);
    return t;
  });
  const free = (backend: BackendWasm, ts: TensorInfo[]) => { for (const t of ts) backend.disposeData(t.dataId); };

  return {
    /** A new [rows, C] tensor (of `shape`) of the pass's value over `streams` (each of that size) and `vectors` ([C]). */
    map(backend: BackendWasm, name: M, shape: number[], streams: TensorInfo[], vectors: Float32Array[]): TensorInfo {
      const pass = maps[name];
      const C = shape[shape.length - 1]!;
      const n = streams[0]!.shape.reduce((a, b) => a * b, 1);
      const out = backend.makeOutput(shape, 'float32');
      const kernel = heapKernel(backend)?.[`map_${name}`];
      const width = C % 4 === 0 ? C : C % 2 === 0 ? 2 * C : 4 * C; // lcm(C, 4)
      const rows = kernel == null ? 0 : Math.floor(n / width);
      if (rows > 0) {
        const v = heapVectors(backend, vectors, width / C);
        kernel!(heapOffset(backend, out), ...streams.map((s) => heapOffset(backend, s)), ...v.map((t) => heapOffset(backend, t)), rows, 4 * width);
        free(backend, v);
      }
      // Views after the allocations: a heap growth detaches older ones.
      const value = compileExpr(pass.value, streams.map((t) => backend.typedArrayFromHeap(t) as Float32Array), vectors);
      const o = backend.typedArrayFromHeap(out) as Float32Array;
      for (let i = rows * width; i < n; i++) o[i] = value(i, i % C);
      return out;
    },

    /** The pass's column sums (one [C] array per term) over `streams` [rows, C] and `vectors` ([C]). */
    sums(backend: BackendWasm, name: S, C: number, streams: TensorInfo[], vectors: Float32Array[]): Float64Array[] {
      const pass = sums[name];
      const rows = streams[0]!.shape.reduce((a, b) => a * b, 1) / C;
      const acc = pass.terms.map(() => new Float64Array(C));
      const kernel = C % 2 === 0 ? heapKernel(backend)?.[`sums${C % 4 === 0 ? 4 : 2}_${name}`] : undefined;
      const blocks = kernel == null ? 0 : Math.floor(rows / 8);
      if (blocks > 0) {
        const sumsOut = backend.makeOutput([2 * C * pass.terms.length], 'float32'); // f64 [terms, C]
        const at = heapOffset(backend, sumsOut);
        if (at % 8 !== 0) throw new Error('kdx: a wasm heap allocation not aligned to 8 bytes');
        const v = heapVectors(backend, vectors, 1);
        const f64 = () => new Float64Array((backend.typedArrayFromHeap(sumsOut) as Float32Array).buffer, at, C * pass.terms.length);
        f64().fill(0);
        kernel!(at, ...streams.map((s) => heapOffset(backend, s)), ...v.map((t) => heapOffset(backend, t)), blocks, 4 * C);
        const result = f64();
        acc.forEach((a, t) => a.set(result.subarray(t * C, (t + 1) * C)));
        free(backend, [...v, sumsOut]);
      }
      const s = streams.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      pass.terms.forEach((e, t) => {
        const x = compileExpr(e, s, vectors);
        const sum = acc[t]!;
        let r = blocks * 8;
        for (; r + 8 <= rows; r += 8) {
          for (let c = 0, i = r * C; c < C; c++, i++) {
            sum[c]! += ((x(i, c) + x(i + C, c)) + (x(i + 2 * C, c) + x(i + 3 * C, c))) +
              ((x(i + 4 * C, c) + x(i + 5 * C, c)) + (x(i + 6 * C, c) + x(i + 7 * C, c)));
          }
        }
        for (; r < rows; r++) for (let c = 0; c < C; c++) sum[c]! += x(r * C + c, c);
      });
      return acc;
    },
  };
}

const plainSums = channelPasses({}, { sum: { streams: 1, vectors: 0, terms: [stream(0)] } });

/** Sums of the columns of x as a row-major [rows, cols] matrix, in doubles (Sum and Mean over leading axes). */
export function columnSums(backend: BackendWasm, x: TensorInfo, rows: number, cols: number): Float64Array {
  return plainSums.sums(backend, 'sum', cols, [{ ...x, shape: [rows, cols] }], [])[0]!;
}
