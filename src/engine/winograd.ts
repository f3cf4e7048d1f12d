// Winograd kernels for stride-1 3x3 convolutions on wasm: the forward convolution and both gradients cost the
// same multiply-adds computed directly, and XNNPACK's forward already runs near wasm-SIMD peak; Winograd
// needs fewer multiplications.
//
// - y (Conv2D, FusedConv2D): as dx below without the rotation, the bias and relu applied by the output
//   transform as it writes the tiles.
// - dx: a stride-1 3x3 correlation of the padded dy with the rotated filter, by F(4x4, 3x3): every 6x6 tile
//   of dy (stride 4) is transformed (B^T d B), the filter too (G g G^T), the 36 elementwise products become
//   36 matrix products [tiles, CO] . [CO, CI] on tfjs-wasm's XNNPACK kernel, and A^T m A gives each 4x4 tile
//   of dx: 36 multiplications per 16 outputs instead of 144.
// - dW: dW[kh,kw] = sum over tiles of corr(6x6 patch of x, 4x4 tile of dy) by F(3x3, 4x4), dy's tiles
//   taking the filter's place: 36 products [CI, tiles] . [tiles, CO], accumulated over the batch with
//   filter-grad-simd.ts's kernel (which reads both operands [tiles, C] in place), then A^T m A gives 3x3.
// F(2x2, 3x3) and F(3x3, 2x2) are kept beside them (as accurate as the direct kernels, but ~1.5x slower:
// bench/conv-grad-speed.ts --schemes F23,F32).
//
// The transforms are WebAssembly SIMD kernels generated from the transform matrices (one function each,
// vectorised over 4 channels: NHWC keeps channels innermost), assembled at start-up (wasm-asm.ts) and run on
// tfjs-wasm's heap. Tiles are taken a few images at a time, so the transformed tensors (36 x tiles x
// channels) stay a few MB and in cache. Edge tiles read zeros: the input is padded (PadV2) so that every
// tile lies inside it, and channels are padded to multiples of 4 (8 for dW's output channels).
// Every sum runs in a fixed order (no threads): the same bytes run to run. Float32 error against the cpu
// backend, relative to the largest output: ~1e-5 (F(4,3), F(3,4): constants up to 8 and 1/24), ~5e-7 (F(2,3),
// F(3,2): only 0, +-1 and 1/2).
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
// Output transforms also come with an epilogue (the forward convolution's bias, then relu): y + bias[c].
type TransformFn = (srcTable: number, dstTable: number, srcOff: number, dstOff: number, tiles: number,
  channelBytes: number, srcStep: number, dstStep: number, bias: number) => void;
type Epilogue = 'none' | 'bias' | 'biasRelu';

/**
 * A Winograd algorithm F(m, r): m outputs of an r-tap correlation y[k] = sum_i d[k+i] h[i] from n = m+r-1
 * inputs, y = AT [(G h) * (BT d)]; in 2-D, Y = AT [(G h G^T) * (BT d B)] A, n*n products per m*m outputs.
 */
interface Scheme { name: string; m: number; r: number; BT: number[][]; G: number[][]; AT: number[][] }

const transpose = (a: number[][]): number[][] => a[0]!.map((_, j) => a.map((row) => row[j]!));

/** F(2,3) and F(4,3) (Lavin & Gray, 2015) for dx; 4 and 2.25 multiplications per output instead of 9. */
const F23: Scheme = {
  name: 'F23', m: 2, r: 3,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};
const F43: Scheme = {
  name: 'F43', m: 4, r: 3,
  BT: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
  G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};
/**
 * F(3,2) and F(3,4) for dW, dy's 2x2 or 4x4 tiles taking the filter's place, 3x3 outputs: F(r,m) is F(m,r)
 * with G and A swapped (the same trilinear form, sum y[k] h[i] d[k+i], read with y and h exchanged).
 */
const swapped = (f: Scheme, name: string): Scheme => ({ name, m: f.r, r: f.m, BT: f.BT, G: transpose(f.AT), AT: transpose(f.G) });
const F32 = swapped(F23, 'F32');
const F34 = swapped(F43, 'F34');
export const WINOGRAD_SCHEMES = { F23, F43, F32, F34 };

const [SRC_TABLE, DST_TABLE, SRC_OFF, DST_OFF, TILES, CHANNEL_BYTES, SRC_STEP, DST_STEP, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const PARAMS = 9;
const [C_AT, SRC_AT, DST_AT] = [9, 10, 11];
const FIRST_POINTER = 12; // then n*n source pointers, then p*p destination pointers

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

function transformFunction(name: string, L: number[][], epilogue: Epilogue = 'none'): WasmFunction {
  const p = L.length;
  const n = L[0]!.length;
  const srcPtr = (k: number) => FIRST_POINTER + k;
  const dstPtr = (k: number) => FIRST_POINTER + n * n + k;
  const i32Locals = FIRST_POINTER + n * n + p * p - PARAMS;
  const X = FIRST_POINTER + n * n + p * p; // n*n inputs, then p*n rows of L X, then the bias
  const T = X + n * n;
  const BIAS_V = T + p * n;
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const part of parts) code.push(...part); };
  for (let k = 0; k < n * n; k++) emit(op.get(SRC_TABLE), op.i32Load(4 * k), op.set(srcPtr(k)));
  for (let k = 0; k < p * p; k++) emit(op.get(DST_TABLE), op.i32Load(4 * k), op.set(dstPtr(k)));
  emit(op.loop); // for each tile
  emit(op.i32(0), op.set(C_AT), op.loop); // for each 4 channels
  emit(op.get(SRC_OFF), op.get(C_AT), op.add, op.set(SRC_AT), op.get(DST_OFF), op.get(C_AT), op.add, op.set(DST_AT));
  for (let k = 0; k < n * n; k++) emit(op.get(srcPtr(k)), op.get(SRC_AT), op.add, op.v128Load(0), op.set(X + k));
  if (epilogue !== 'none') emit(op.get(BIAS), op.get(C_AT), op.add, op.v128Load(0), op.set(BIAS_V));
  for (let a = 0; a < p; a++) {
    for (let j = 0; j < n; j++) { // (L X)[a][j] = sum_i L[a][i] X[i][j]
      emit(linearCombination(L[a]!, Array.from({ length: n }, (_, i) => X + i * n + j)), op.set(T + a * n + j));
    }
  }
  for (let a = 0; a < p; a++) {
    for (let b = 0; b < p; b++) { // Y[a][b] = sum_j (L X)[a][j] L[b][j]
      emit(op.get(dstPtr(a * p + b)), op.get(DST_AT), op.add);
      emit(linearCombination(L[b]!, Array.from({ length: n }, (_, j) => T + a * n + j)));
      if (epilogue !== 'none') emit(op.get(BIAS_V), op.f32x4Add);
      if (epilogue === 'biasRelu') emit(f32x4Splat(0), op.f32x4Max);
      emit(op.v128Store(0));
    }
  }
  emit(op.get(C_AT), op.i32(16), op.add, op.tee(C_AT), op.get(CHANNEL_BYTES), op.ltU, op.brIf(0), op.end);
  emit(op.get(SRC_OFF), op.get(SRC_STEP), op.add, op.set(SRC_OFF), op.get(DST_OFF), op.get(DST_STEP), op.add, op.set(DST_OFF));
  emit(op.get(TILES), op.i32(1), op.sub, op.tee(TILES), op.brIf(0), op.end);
  return { name, params: PARAMS, locals: [{ type: I32, count: i32Locals }, { type: V128, count: n * n + p * n + 1 }], body: code };
}

type TransformKernels = Record<string, TransformFn>;
type Part = 'data' | 'filter' | 'output' | 'output_bias' | 'output_biasRelu';
const transformName = (scheme: Scheme, part: Part) => `${scheme.name}_${part}`;

/** The module's bytes: (import "env" "memory"), exports F23_data, F23_filter, F23_output, ... for each scheme. */
export function winogradModuleBytes(): Uint8Array<ArrayBuffer> {
  return assemble(Object.values(WINOGRAD_SCHEMES).flatMap((f) => [
    transformFunction(transformName(f, 'data'), f.BT), transformFunction(transformName(f, 'filter'), f.G),
    transformFunction(transformName(f, 'output'), f.AT),
    transformFunction(transformName(f, 'output_bias'), f.AT, 'bias'), transformFunction(transformName(f, 'output_biasRelu'), f.AT, 'biasRelu'),
  ]));
}

const heapKernel = heapModule<TransformKernels>(winogradModuleBytes);

/**
 * Fewer channels than this on either side (the first layer's 3 input channels): the transforms cost more than
 * the multiplications they save (teacher conv1, batch 64: forward 25 ms against 18 direct; F(2,3): dW 16 against 13).
 */
const MIN_CHANNELS = 16;

/** Whether Winograd beats the direct kernels for a 3x3 stride-1 convolution with these channels (measured). */
export function winogradPays(inChannels: number, outChannels: number): boolean {
  return Math.min(inChannels, outChannels) >= MIN_CHANNELS;
}

/** The schemes the kernels use (measured: bench/conv-grad-speed.ts). */
let convScheme: Scheme = F43;
let filterGradScheme: Scheme = F34;

/** The bench picks the schemes to compare them. */
export function setWinogradSchemes(conv: Scheme, filterGrad: Scheme): void {
  convScheme = conv;
  filterGradScheme = filterGrad;
}

let winogradEnabled = true;

/** The bench and tests turn the Winograd paths off to measure and check the kernels they replace. */
export function setWinogradEnabled(on: boolean): void {
  winogradEnabled = on;
}

function kernelsFor(backend: BackendWasm): TransformKernels | null {
  return winogradEnabled ? heapKernel(backend) : null;
}

// --- driving them ----------------------------------------------------------------------------------------

/**
 * Bytes of transformed tiles per pass (whole images, at least one): n*n x tiles x channels floats, in and out
 * of the products, stay a few MB (and in cache) instead of growing with the batch.
 */
const BYTES_PER_PASS = 2 * 2 ** 20;
/**
 * Bytes of the two operands per call of the filter-gradient product: enough tiles that loading and storing the
 * 4x8 blocks of M is a small part of a call even at 256 channels (16 KB, filter-grad-simd.ts's block, gave
 * only 8 tiles there), few enough to stay in L2.
 */
const BYTES_PER_PRODUCT_CALL = 64 * 1024;

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

/** For each image b of [b0, b1) and row ty of its tiles: `visit` with the index of the row's first tile in the pass. */
/**
 * Tiles of `tile` x `tile` outputs covering outH x outW, and the input (H x W, padded by padTop / padLeft
 * and what the last tiles need below and right) that a 3x3 window reads for them. Null when the given
 * padding is larger than a 3x3 window can use (the direct kernels handle it).
 */
function tiling(H: number, W: number, outH: number, outW: number, tile: number, padTop: number, padLeft: number) {
  const tilesH = Math.ceil(outH / tile);
  const tilesW = Math.ceil(outW / tile);
  const padBottom = tile * tilesH + 2 - padTop - H;
  const padRight = tile * tilesW + 2 - padLeft - W;
  if (Math.min(padTop, padLeft, padBottom, padRight) < 0) return null;
  return { tilesH, tilesW, padBottom, padRight, Hp: H + padTop + padBottom, Wp: W + padLeft + padRight };
}

function forEachTileRow(b0: number, b1: number, tilesH: number, tilesW: number, visit: (b: number, ty: number, firstTile: number) => void): void {
  for (let b = b0; b < b1; b++) for (let ty = 0; ty < tilesH; ty++) visit(b, ty, ((b - b0) * tilesH + ty) * tilesW);
}

/** Where a stride-1 3x3 correlation reads and writes, and what it adds to its outputs. */
export interface Conv3x3Options {
  padTop: number; padLeft: number; outH: number; outW: number;
  /** Correlate with the filter rotated by 180 degrees (the input gradient). */
  rotate: boolean;
  /** [K], added to every output; then, with `relu`, max(0, .): the forward convolution's fused epilogue. */
  bias?: TensorInfo | null;
  relu?: boolean;
}

/**
 * Stride-1 3x3 correlation by F(m x m, 3x3): out[b,i,j,k] = sum x[b, i+a-padTop, j+c-padLeft, ci] g[a,c,ci,k]
 * for i < outH, j < outW (zeros outside x), with g = filter, or the filter rotated by 180 degrees when
 * `rotate`. filter: [3, 3, CI, K]. `matMul` multiplies [1, m, k] . [1, k, n] (tfjs-wasm's BatchMatMul, which
 * runs such a single untransposed product on XNNPACK). Null where the SIMD kernels cannot run.
 */
export function winogradConv3x3(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, options: Conv3x3Options,
  matMul: MatMul, scheme: Scheme = convScheme): TensorInfo | null {
  const kernels = kernelsFor(backend);
  if (kernels == null) return null;
  const [B, H, W, CI] = x.shape as [number, number, number, number];
  const K = filter.shape[3]!;
  const { padTop, padLeft, outH, outW } = options;
  const { m } = scheme;
  const n = m + 2;
  const grid = tiling(H, W, outH, outW, m, padTop, padLeft);
  if (grid == null) return null;
  const { tilesH, tilesW, padBottom, padRight, Hp, Wp } = grid;
  const C = roundUp(CI, 4);
  const KP = roundUp(K, 4);

  // U[t] = (G g G^T)[t]: n*n matrices [C, KP].
  const gC = pad(backend, filter, [[0, 0], [0, 0], [0, C - CI], [0, KP - K]]);
  const U = matrices(backend, n * n, [C, KP]);
  const tap = (k: number) => (options.rotate ? 8 - k : k) * 4 * C * KP;
  const tapTable = table(backend, Array.from({ length: 9 }, (_, k) => heapOffset(backend, gC) + tap(k)));
  const uTable = table(backend, addresses(backend, U));
  kernels[transformName(scheme, 'filter')]!(heapOffset(backend, tapTable), heapOffset(backend, uTable), 0, 0, 1, 4 * C * KP, 0, 0, 0);
  free(backend, tapTable, uTable, gC === filter ? null : gC);

  const xp = pad(backend, x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, C - CI]]);
  const bias = options.bias == null ? null : pad(backend, options.bias, [[0, KP - K]]);
  const outputTransform = kernels[transformName(scheme, bias == null ? 'output' : options.relu === true ? 'output_biasRelu' : 'output_bias')]!;
  if (bias == null && options.relu === true) throw new Error('kdx: winogradConv3x3 applies relu only after a bias');
  const out = backend.makeOutput([B, m * tilesH, m * tilesW, KP], 'float32');
  const patch = table(backend, tileOffsets(n, Wp, C));
  const block = table(backend, tileOffsets(m, m * tilesW, KP));
  const imagesPerPass = Math.max(1, Math.floor(BYTES_PER_PASS / (4 * n * n * (C + KP) * tilesH * tilesW)));
  for (let b0 = 0; b0 < B; b0 += imagesPerPass) {
    const b1 = Math.min(B, b0 + imagesPerPass);
    const tiles = (b1 - b0) * tilesH * tilesW;
    const V = matrices(backend, n * n, [tiles, C]);
    const vTable = table(backend, addresses(backend, V));
    const xAt = heapOffset(backend, xp);
    forEachTileRow(b0, b1, tilesH, tilesW, (b, ty, first) => {
      kernels[transformName(scheme, 'data')]!(heapOffset(backend, patch), heapOffset(backend, vTable),
        xAt + 4 * C * (b * Hp + m * ty) * Wp, 4 * C * first, tilesW, 4 * C, 4 * m * C, 4 * C, 0);
    });
    const M = V.map((v, t) => {
      const product = matMul({ ...v, shape: [1, tiles, C] }, { ...U[t]!, shape: [1, C, KP] });
      backend.disposeData(v.dataId);
      return product;
    });
    free(backend, vTable);
    const mTable = table(backend, addresses(backend, M));
    const outAt = heapOffset(backend, out);
    const biasAt = bias == null ? 0 : heapOffset(backend, bias);
    forEachTileRow(b0, b1, tilesH, tilesW, (b, ty, first) => {
      outputTransform(heapOffset(backend, mTable), heapOffset(backend, block), 4 * KP * first,
        outAt + 4 * KP * (b * m * tilesH + m * ty) * m * tilesW, tilesW, 4 * KP, 4 * KP, 4 * m * KP, biasAt);
    });
    free(backend, mTable, ...M);
  }
  free(backend, patch, block, xp === x ? null : xp, bias === options.bias ? null : bias, ...U);
  if (m * tilesH === outH && m * tilesW === outW && KP === K) return out;
  const slice = tf.getKernel(tf.Slice, 'wasm')!;
  const cropped = slice.kernelFunc({ inputs: { x: out }, backend, attrs: { begin: [0, 0, 0, 0], size: [B, outH, outW, K] } as unknown as tf.NamedAttrMap }) as TensorInfo;
  free(backend, out);
  return cropped;
}

/**
 * dW[kh,kw,ci,co] = sum over b, oh < OH, ow < OW of x[b, oh+kh-padTop, ow+kw-padLeft, ci] dy[b,oh,ow,co]
 * (a stride-1 3x3 convolution's filter gradient) by F(3x3, r x r), dy's r x r tiles as the taps. Null where
 * the SIMD kernels cannot run.
 */
export function winogradFilterGrad3x3(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, padTop: number, padLeft: number,
  scheme: Scheme = filterGradScheme): TensorInfo | null {
  const kernels = kernelsFor(backend);
  const accumulate = accumulateFor(backend);
  if (kernels == null || accumulate == null) return null;
  const [B, H, W, CI] = x.shape as [number, number, number, number];
  const [, OH, OW, CO] = dy.shape as [number, number, number, number];
  const { r } = scheme;
  const n = r + 2;
  const grid = tiling(H, W, OH, OW, r, padTop, padLeft);
  if (grid == null) return null;
  const { tilesH, tilesW, padBottom, padRight, Hp, Wp } = grid;
  const C = roundUp(CI, 4);
  const K = roundUp(CO, 8);
  const xp = pad(backend, x, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, C - CI]]);
  const dyp = pad(backend, dy, [[0, 0], [0, r * tilesH - OH], [0, r * tilesW - OW], [0, K - CO]]);
  const M = matrices(backend, n * n, [C, K]);
  for (const mt of M) (backend.typedArrayFromHeap(mt) as Float32Array).fill(0);
  const patch = table(backend, tileOffsets(n, Wp, C));
  const taps = table(backend, tileOffsets(r, r * tilesW, K));
  const imagesPerPass = Math.max(1, Math.floor(BYTES_PER_PASS / (4 * n * n * (C + K) * tilesH * tilesW)));
  const tilesPerCall = Math.max(1, Math.floor(BYTES_PER_PRODUCT_CALL / (4 * (C + K))));
  for (let b0 = 0; b0 < B; b0 += imagesPerPass) {
    const b1 = Math.min(B, b0 + imagesPerPass);
    const tiles = (b1 - b0) * tilesH * tilesW;
    const V = matrices(backend, n * n, [tiles, C]);
    const U = matrices(backend, n * n, [tiles, K]);
    const vTable = table(backend, addresses(backend, V));
    const uTable = table(backend, addresses(backend, U));
    const xAt = heapOffset(backend, xp);
    const dyAt = heapOffset(backend, dyp);
    forEachTileRow(b0, b1, tilesH, tilesW, (b, ty, first) => {
      kernels[transformName(scheme, 'data')]!(heapOffset(backend, patch), heapOffset(backend, vTable),
        xAt + 4 * C * (b * Hp + r * ty) * Wp, 4 * C * first, tilesW, 4 * C, 4 * r * C, 4 * C, 0);
      kernels[transformName(scheme, 'filter')]!(heapOffset(backend, taps), heapOffset(backend, uTable),
        dyAt + 4 * K * (b * r * tilesH + r * ty) * r * tilesW, 4 * K * first, tilesW, 4 * K, 4 * r * K, 4 * K, 0);
    });
    const vAt = addresses(backend, V);
    const uAt = addresses(backend, U);
    const mAt = addresses(backend, M);
    for (let t0 = 0; t0 < tiles; t0 += tilesPerCall) {
      const count = Math.min(tilesPerCall, tiles - t0);
      for (let t = 0; t < n * n; t++) accumulate(vAt[t]! + 4 * C * t0, uAt[t]! + 4 * K * t0, mAt[t]!, 1, count, 4 * C, 0, 0, C, K);
    }
    free(backend, vTable, uTable, ...V, ...U);
  }
  free(backend, patch, taps, xp === x ? null : xp, dyp === dy ? null : dyp);
  const dw = backend.makeOutput([3, 3, C, K], 'float32');
  const mTable = table(backend, addresses(backend, M));
  const dwTable = table(backend, Array.from({ length: 9 }, (_, k) => heapOffset(backend, dw) + 4 * k * C * K));
  kernels[transformName(scheme, 'output')]!(heapOffset(backend, mTable), heapOffset(backend, dwTable), 0, 0, 1, 4 * C * K, 0, 0, 0);
  free(backend, mTable, dwTable, ...M);
  if (C === CI && K === CO) return dw;
  const cropped = cropFilter(backend, dw, [3, 3, CI, CO]);
  free(backend, dw);
  return cropped;
}
