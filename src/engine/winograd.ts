// Winograd kernels for the gradients of stride-1 3x3 convolutions on wasm, which otherwise cost as many
// multiply-adds as the forward convolution each (and the forward already runs near wasm-SIMD peak):
//
// - dx: a stride-1 3x3 correlation of the padded dy with the rotated filter, by F(2x2, 3x3): every 4x4 tile
//   of dy (stride 2) is transformed (B^T d B), the filter too (G g G^T), the 16 elementwise products become
//   16 matrix products [tiles, CO] . [CO, CI] on tfjs-wasm's XNNPACK kernel, and A^T m A gives each 2x2 tile
//   of dx: 16 multiplications per 4 outputs instead of 36.
// - dW: dW[kh,kw] = sum over tiles of corr(4x4 patch of x, 2x2 tile of dy) by F(3x3, 2x2), dy's tiles
//   taking the filter's place: 16 products [CI, tiles] . [tiles, CO], accumulated over the batch with
//   filter-grad-simd.ts's kernel (which reads both operands [tiles, C] in place), then A^T m A gives 3x3.
//
// The transforms are WebAssembly SIMD kernels generated from the transform matrices (one function each,
// vectorised over 4 channels: NHWC keeps channels innermost), assembled at start-up (wasm-asm.ts) and run on
// tfjs-wasm's heap. Tiles are taken a few images at a time, so the transformed tensors (16 x tiles x
// channels) stay a few MB and in cache. Edge tiles read zeros: the input is padded (PadV2) so that every
// tile lies inside it, and channels are padded to multiples of 4 (8 for dW's output channels).
// Every sum runs in a fixed order (no threads): the same bytes run to run. Float32 error: ~1e-6 relative
// to the largest output here (F(2,3) and F(3,2) use only 0, +-1 and 1/2).
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { accumulateFor, cropFilter } from './filter-grad-simd.js';
import { tf } from './tf.js';
import { I32, V128, assemble, heapModule, heapOffset, op, type WasmFunction } from './wasm-asm.js';

type TensorInfo = tf.TensorInfo;
type MatMul = (a: TensorInfo, b: TensorInfo) => TensorInfo;

// --- the transform kernels -------------------------------------------------------------------------------
// One function per transform Y = L X L^T (X: n x n vectors of 4 channels, Y: p x p, L: p x n). Element k of X
// is read at srcTable[k] + srcOff + c and element k of Y written at dstTable[k] + dstOff + c, for c in
// 0, 16, .. channelBytes - 16, for `tiles` tiles, srcOff/dstOff advancing by srcStep/dstStep per tile. A
// table holds either the offsets of a tile's pixels in an NHWC image (i*rowBytes + j*pixelBytes, with the
// image's address in the offset) or the addresses of n*n (p*p) separate matrices [tiles, C].
type TransformFn = (srcTable: number, dstTable: number, srcOff: number, dstOff: number, tiles: number,
  channelBytes: number, srcStep: number, dstStep: number) => void;

/** Winograd F(2,3): 2 outputs of a 3-tap correlation from 4 inputs. */
const F23 = {
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};
/** Winograd F(3,2): 3 outputs of a 2-tap correlation from 4 inputs (the filter gradient: dy's 2x2 tiles as taps). */
const F32 = {
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]],
  G: [[1, 0], [0.5, 0.5], [0.5, -0.5], [0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]],
};

const [SRC_TABLE, DST_TABLE, SRC_OFF, DST_OFF, TILES, CHANNEL_BYTES, SRC_STEP, DST_STEP] = [0, 1, 2, 3, 4, 5, 6, 7];
const [C_AT, SRC_AT, DST_AT] = [8, 9, 10];
const FIRST_POINTER = 11; // then n*n source pointers, then p*p destination pointers

function f32x4Splat(v: number): number[] {
  const bytes = [...new Uint8Array(new Float32Array([v]).buffer)];
  return op.v128Const([...bytes, ...bytes, ...bytes, ...bytes]);
}

/** sum_k coefs[k] * local[k], as the fewest instructions (+-1 add or subtract; 0 skipped). */
function linearCombination(coefs: number[], locals: number[]): number[] {
  const code: number[] = [];
  let first = true;
  coefs.forEach((c, k) => {
    if (c === 0) return;
    code.push(...op.get(locals[k]!));
    if (Math.abs(c) !== 1) code.push(...f32x4Splat(Math.abs(c)), ...op.f32x4Mul);
    if (first) {
      if (c < 0) code.push(...op.f32x4Neg);
      first = false;
    } else code.push(...(c < 0 ? op.f32x4Sub : op.f32x4Add));
  });
  return first ? f32x4Splat(0) : code;
}

function transformFunction(name: string, L: number[][]): WasmFunction {
  const p = L.length;
  const n = L[0]!.length;
  const srcPtr = (k: number) => FIRST_POINTER + k;
  const dstPtr = (k: number) => FIRST_POINTER + n * n + k;
  const i32Locals = FIRST_POINTER + n * n + p * p - 8;
  const X = FIRST_POINTER + n * n + p * p; // n*n inputs, then p*n rows of L X
  const T = X + n * n;
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const part of parts) code.push(...part); };
  for (let k = 0; k < n * n; k++) emit(op.get(SRC_TABLE), op.i32Load(4 * k), op.set(srcPtr(k)));
  for (let k = 0; k < p * p; k++) emit(op.get(DST_TABLE), op.i32Load(4 * k), op.set(dstPtr(k)));
  emit(op.loop); // for each tile
  emit(op.i32(0), op.set(C_AT), op.loop); // for each 4 channels
  emit(op.get(SRC_OFF), op.get(C_AT), op.add, op.set(SRC_AT), op.get(DST_OFF), op.get(C_AT), op.add, op.set(DST_AT));
  for (let k = 0; k < n * n; k++) emit(op.get(srcPtr(k)), op.get(SRC_AT), op.add, op.v128Load(0), op.set(X + k));
  for (let a = 0; a < p; a++) {
    for (let j = 0; j < n; j++) { // (L X)[a][j] = sum_i L[a][i] X[i][j]
      emit(linearCombination(L[a]!, Array.from({ length: n }, (_, i) => X + i * n + j)), op.set(T + a * n + j));
    }
  }
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) { // Y[a][b] = sum_j (L X)[a][j] L[b][j]
      emit(op.get(dstPtr(a * p + b)), op.get(DST_AT), op.add);
      emit(linearCombination(L[b]!, Array.from({ length: n }, (_, j) => T + a * n + j)), op.v128Store(0));
    }
  }
  emit(op.get(C_AT), op.i32(16), op.add, op.tee(C_AT), op.get(CHANNEL_BYTES), op.ltU, op.brIf(0), op.end);
  emit(op.get(SRC_OFF), op.get(SRC_STEP), op.add, op.set(SRC_OFF), op.get(DST_OFF), op.get(DST_STEP), op.add, op.set(DST_OFF));
  emit(op.get(TILES), op.i32(1), op.sub, op.tee(TILES), op.brIf(0), op.end);
  return { name, params: 8, locals: [{ type: I32, count: i32Locals }, { type: V128, count: n * n + p * n }], body: code };
}

interface TransformKernels {
  dataF23: TransformFn; filterF23: TransformFn; outputF23: TransformFn;
  dataF32: TransformFn; filterF32: TransformFn; outputF32: TransformFn;
}

/** The module's bytes: (import "env" "memory"), one export per transform. */
export function winogradModuleBytes(): Uint8Array<ArrayBuffer> {
  return assemble([
    transformFunction('dataF23', F23.BT), transformFunction('filterF23', F23.G), transformFunction('outputF23', F23.AT),
    transformFunction('dataF32', F32.BT), transformFunction('filterF32', F32.G), transformFunction('outputF32', F32.AT),
  ]);
}

const heapKernel = heapModule<TransformKernels>(winogradModuleBytes);

/**
 * Fewer channels than this on either side (the first layer's 3 input channels): the transforms cost more than
 * the multiplications they save (teacher conv1 at batch 64: dx 29 ms against 21 direct, dW 16 against 13).
 */
const MIN_CHANNELS = 16;

let winogradEnabled = true;

/** The bench and tests turn the Winograd paths off to measure and check the kernels they replace. */
export function setWinogradEnabled(on: boolean): void {
  winogradEnabled = on;
}

function kernelsFor(backend: BackendWasm): TransformKernels | null {
  return winogradEnabled ? heapKernel(backend) : null;
}

// --- driving them ----------------------------------------------------------------------------------------

/** Tiles transformed per pass (whole images): 16 x tiles x channels floats stay a few MB. */
const TILES_PER_PASS = 1024;
/** Bytes of the two operands per call of the filter-gradient product (as filter-grad-simd.ts: L1-sized). */
const BYTES_PER_PRODUCT_CALL = 16384;

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

function free(backend: BackendWasm, ...infos: (TensorInfo | null | undefined)[]): void {
  for (const t of infos) if (t != null) backend.disposeData(t.dataId);
}

/** t zero-padded by `paddings` ([before, after] per axis), or t itself where they are all zero. */
function pad(backend: BackendWasm, t: TensorInfo, paddings: [number, number][]): TensorInfo {
  if (paddings.every(([a, b]) => a === 0 && b === 0)) return t;
  const out = tf.getKernel(tf.PadV2, 'wasm')!.kernelFunc({
    inputs: { x: t }, backend, attrs: { paddings, constantValue: 0 } as unknown as tf.NamedAttrMap,
  });
  return out as TensorInfo;
}

/** An int32 table of byte offsets/addresses on the heap, for a transform kernel to read. */
function table(backend: BackendWasm, entries: number[]): TensorInfo {
  const t = backend.makeOutput([entries.length], 'int32');
  (backend.typedArrayFromHeap(t) as Int32Array).set(entries);
  return t;
}

/** Offsets of the pixels of an n x n tile of an NHWC image [*, *, width, channels]. */
function tileOffsets(n: number, width: number, channels: number): number[] {
  return Array.from({ length: n * n }, (_, k) => 4 * channels * (Math.floor(k / n) * width + (k % n)));
}

function matrices(backend: BackendWasm, count: number, shape: number[]): TensorInfo[] {
  return Array.from({ length: count }, () => backend.makeOutput(shape, 'float32'));
}

const addresses = (backend: BackendWasm, ts: TensorInfo[]): number[] => ts.map((t) => heapOffset(backend, t));

/**
 * For each image b of [b0, b1) and row of tiles, `transform` from the NHWC image `image` (tiles n x n at
 * stride 2) into (or from) the 16 matrices [tiles, C]: the walk both directions of the data share.
 */
function forEachTileRow(b0: number, b1: number, tilesH: number, visit: (b: number, ty: number, firstTile: number) => void): void {
  for (let b = b0; b < b1; b++) for (let ty = 0; ty < tilesH; ty++) visit(b, ty, ((b - b0) * tilesH + ty));
}

/**
 * Stride-1 3x3 correlation by F(2x2, 3x3): out[b,i,j,k] = sum x[b, i+a-padTop, j+c-padLeft, ci] g[a,c,ci,k]
 * for i < outH, j < outW (zeros outside x), with g = filter, or the filter rotated by 180 degrees when
 * `rotate`. filter: [3, 3, CI, K]. `matMul` multiplies [1, m, k] . [1, k, n] (tfjs-wasm's BatchMatMul, which
 * runs such a single untransposed product on XNNPACK). Null where the SIMD kernels cannot run.
 */
export function winogradConv3x3(backend: BackendWasm, x: TensorInfo, filter: TensorInfo,
  geometry: { padTop: number; padLeft: number; outH: number; outW: number; rotate: boolean }, matMul: MatMul): TensorInfo | null {
  const kernels = kernelsFor(backend);
  if (kernels == null) return null;
  const [B, H, W, CI] = x.shape as [number, number, number, number];
  const K = filter.shape[3]!;
  if (CI < MIN_CHANNELS || K < MIN_CHANNELS) return null;
  const { padTop, padLeft, outH, outW } = geometry;
  const tilesH = Math.ceil(outH / 2);
  const tilesW = Math.ceil(outW / 2);
  const padBottom = 2 * tilesH + 2 - padTop - H;
  const padRight = 2 * tilesW + 2 - padLeft - W;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return null;
  const C = roundUp(CI, 4);
  const KP = roundUp(K, 4);
  const Wp = W + padLeft + padRight;
  const Hp = H + padTop + padBottom;

  // U[m] = (G g G^T)[m]: [C, KP] each.
  const gC = pad(backend, filter, [[0, 0], [0, 0], [0, C - CI], [0, KP - K]]);
  const U = matrices(backend, 16, [C, KP]);
  const tap = (k: number) => (geometry.rotate ? 8 - k : k) * 4 * C * KP;
  const tapTable = table(backend, Array.from({ length: 9 }, (_, k) => heapOffset(backend, gC) + tap(k)));
  const uTable = table(backend, addresses(backend, U));
  kernels.filterF23(heapOffset(backend, tapTable), heapOffset(backend, uTable), 0, 0, 1, 4 * C * KP, 0, 0);
  free(backend, tapTable, uTable, gC === filter ? null : gC);

  const xp = pad(backend, x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, C - CI]]);
  const out = backend.makeOutput([B, 2 * tilesH, 2 * tilesW, KP], 'float32');
  const patch = table(backend, tileOffsets(4, Wp, C));
  const block = table(backend, tileOffsets(2, 2 * tilesW, KP));
  const imagesPerPass = Math.max(1, Math.floor(TILES_PER_PASS / (tilesH * tilesW)));
  for (let b0 = 0; b0 < B; b0 += imagesPerPass) {
    const b1 = Math.min(B, b0 + imagesPerPass);
    const tiles = (b1 - b0) * tilesH * tilesW;
    const V = matrices(backend, 16, [tiles, C]);
    const vTable = table(backend, addresses(backend, V));
    const xAt = heapOffset(backend, xp);
    forEachTileRow(b0, b1, tilesH, (b, ty, row) => {
      kernels.dataF23(heapOffset(backend, patch), heapOffset(backend, vTable), xAt + 4 * C * (b * Hp + 2 * ty) * Wp,
        4 * C * row * tilesW, tilesW, 4 * C, 8 * C, 4 * C);
    });
    const M = V.map((v, m) => {
      const product = matMul({ ...v, shape: [1, tiles, C] }, { ...U[m]!, shape: [1, C, KP] });
      backend.disposeData(v.dataId);
      return product;
    });
    free(backend, vTable);
    const mTable = table(backend, addresses(backend, M));
    const outAt = heapOffset(backend, out);
    forEachTileRow(b0, b1, tilesH, (b, ty, row) => {
      kernels.outputF23(heapOffset(backend, mTable), heapOffset(backend, block), 4 * KP * row * tilesW,
        outAt + 4 * KP * (b * 2 * tilesH + 2 * ty) * 2 * tilesW, tilesW, 4 * KP, 4 * KP, 8 * KP);
    });
    free(backend, mTable, ...M);
  }
  free(backend, patch, block, xp === x ? null : xp, ...U);
  if (2 * tilesH === outH && 2 * tilesW === outW && KP === K) return out;
  const slice = tf.getKernel(tf.Slice, 'wasm')!;
  const cropped = slice.kernelFunc({ inputs: { x: out }, backend, attrs: { begin: [0, 0, 0, 0], size: [B, outH, outW, K] } as unknown as tf.NamedAttrMap }) as TensorInfo;
  free(backend, out);
  return cropped;
}

/**
 * dW[kh,kw,ci,co] = sum over b, oh < OH, ow < OW of x[b, oh+kh-padTop, ow+kw-padLeft, ci] dy[b,oh,ow,co]
 * (a stride-1 3x3 convolution's filter gradient) by F(3x3, 2x2). Null where the SIMD kernels cannot run.
 */
export function winogradFilterGrad3x3(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, padTop: number, padLeft: number): TensorInfo | null {
  const kernels = kernelsFor(backend);
  const accumulate = accumulateFor(backend);
  if (kernels == null || accumulate == null) return null;
  const [B, H, W, CI] = x.shape as [number, number, number, number];
  const [, OH, OW, CO] = dy.shape as [number, number, number, number];
  if (CI < MIN_CHANNELS || CO < MIN_CHANNELS) return null;
  const tilesH = Math.ceil(OH / 2);
  const tilesW = Math.ceil(OW / 2);
  const padBottom = 2 * tilesH + 2 - padTop - H;
  const padRight = 2 * tilesW + 2 - padLeft - W;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return null;
  const C = roundUp(CI, 4);
  const K = roundUp(CO, 8);
  const Hp = H + padTop + padBottom;
  const Wp = W + padLeft + padRight;
  const xp = pad(backend, x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, C - CI]]);
  const dyp = pad(backend, dy, [[0, 0], [0, 2 * tilesH - OH], [0, 2 * tilesW - OW], [0, K - CO]]);
  const M = matrices(backend, 16, [C, K]);
  for (const m of M) (backend.typedArrayFromHeap(m) as Float32Array).fill(0);
  const patch = table(backend, tileOffsets(4, Wp, C));
  const taps = table(backend, tileOffsets(2, 2 * tilesW, K));
  const imagesPerPass = Math.max(1, Math.floor(TILES_PER_PASS / (tilesH * tilesW)));
  const tilesPerCall = Math.max(1, Math.floor(BYTES_PER_PRODUCT_CALL / (4 * (C + K))));
  for (let b0 = 0; b0 < B; b0 += imagesPerPass) {
    const b1 = Math.min(B, b0 + imagesPerPass);
    const tiles = (b1 - b0) * tilesH * tilesW;
    const V = matrices(backend, 16, [tiles, C]);
    const U = matrices(backend, 16, [tiles, K]);
    const vTable = table(backend, addresses(backend, V));
    const uTable = table(backend, addresses(backend, U));
    const xAt = heapOffset(backend, xp);
    const dyAt = heapOffset(backend, dyp);
    forEachTileRow(b0, b1, tilesH, (b, ty, row) => {
      kernels.dataF32(heapOffset(backend, patch), heapOffset(backend, vTable), xAt + 4 * C * (b * Hp + 2 * ty) * Wp,
        4 * C * row * tilesW, tilesW, 4 * C, 8 * C, 4 * C);
      kernels.filterF32(heapOffset(backend, taps), heapOffset(backend, uTable), dyAt + 4 * K * (b * 2 * tilesH + 2 * ty) * 2 * tilesW,
        4 * K * row * tilesW, tilesW, 4 * K, 8 * K, 4 * K);
    });
    const vAt = addresses(backend, V);
    const uAt = addresses(backend, U);
    const mAt = addresses(backend, M);
    for (let t0 = 0; t0 < tiles; t0 += tilesPerCall) {
      const n = Math.min(tilesPerCall, tiles - t0);
      for (let m = 0; m < 16; m++) accumulate(vAt[m]! + 4 * C * t0, uAt[m]! + 4 * K * t0, mAt[m]!, 1, n, 4 * C, 0, 0, C, K);
    }
    free(backend, vTable, uTable, ...V, ...U);
  }
  free(backend, patch, taps, xp === x ? null : xp, dyp === dy ? null : dyp);
  const dw = backend.makeOutput([3, 3, C, K], 'float32');
  const mTable = table(backend, addresses(backend, M));
  const dwTable = table(backend, Array.from({ length: 9 }, (_, k) => heapOffset(backend, dw) + 4 * k * C * K));
  kernels.outputF32(heapOffset(backend, mTable), heapOffset(backend, dwTable), 0, 0, 1, 4 * C * K, 0, 0);
  free(backend, mTable, dwTable, ...M);
  if (C === CI && K === CO) return dw;
  const cropped = cropFilter(backend, dw, [3, 3, CI, CO]);
  free(backend, dw);
  return cropped;
}
