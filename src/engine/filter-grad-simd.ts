// Filter gradients as WebAssembly SIMD kernels that run on tfjs-wasm's own memory:
//
//   dW[kh,kw,ci,co] = sum over b, oh, ow of x[b, oh*sh+kh-padTop, ow*sw+kw-padLeft, ci] * dy[b,oh,ow,co]
//
// Through XNNPACK (a convolution whose "filter" is the whole of dy) it cost ~1.7x the forward convolution:
// x and dy transposed, dy transposed again and packed as weights at every call, and the contraction over
// 65536 pixels streaming the packed operand from memory for every tile. Here both operands are read where
// they are, in NHWC: a pixel of x gives C contiguous inputs, the same pixel of dy CO contiguous outputs, and
// each call adds a block of pixels into every 4 x 8 tile of dW, the tile held in registers (~0.8x forward).
// A second kernel gives the depthwise filter gradient, 4 channels at a time. (A dense layer's weight
// gradient x^T.dy is the same product over the batch, but for 64x4096 . 64x256 it measured 9.5 ms against
// 8 ms for XNNPACK after a transpose: dy does not stay in L1 across the tiles.)
//
// The module is assembled at start-up from the listings below (wasm-asm.ts), in under a kilobyte. It
// imports the memory of the tfjs-wasm instance, so tensors are addressed by their heap offsets, without
// copies. Every dW element is a sum in a fixed order (the walk over blocks and taps, then rows, then
// pixels): the same bytes run to run.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { tf } from './tf.js';
import { I32, V128, assemble, heapModule, heapOffset, op, type WasmFunction } from './wasm-asm.js';

type TensorInfo = tf.TensorInfo;

/**
 * dw[ci, co] += sum over r < rows, k < n of x[r*xRow + k*xPixel + ci] * dy[r*dyRow + k*outChannels + co].
 * Addresses and strides in bytes (float32 data); rows, n >= 1; channels % 4 == 0, outChannels % 8 == 0.
 */
export type AccumulateFn = (x: number, dy: number, dw: number, rows: number, n: number, xPixel: number, xRow: number,
  dyRow: number, channels: number, outChannels: number) => void;

// --- the filter gradient ------------------------------------------------------------------------------
// Parameters, then locals, by index.
const [X, DY, DW, ROWS, N, X_PIXEL, X_ROW, DY_ROW, C, CO] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const [CI, CJ, R, K, XP, DP, XR, DR, ACC, DW_ROW] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
const A = 20; // a0..a7: the 4 x 8 block of dW, rows ci..ci+3, two vectors of 4 outputs each
const [S, D0, D1] = [28, 29, 30];

function accumulateBody(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const p of parts) code.push(...p); };
  const accAddress = (row: number) => [...op.get(ACC), ...(row === 0 ? [] : [...op.get(DW_ROW), ...op.i32(row), ...op.mul, ...op.add])];

  emit(op.get(CO), op.i32(4), op.mul, op.set(DW_ROW)); // bytes per row of dW
  emit(op.i32(0), op.set(CI), op.loop); // for ci in 0, 4, .. C-4
  emit(op.i32(0), op.set(CJ), op.loop); //   for co in 0, 8, .. CO-8
  // acc = dw + (ci * CO + co) * 4; a[2r], a[2r+1] = dw[ci + r, co .. co+7]
  emit(op.get(DW), op.get(CI), op.get(CO), op.mul, op.get(CJ), op.add, op.i32(4), op.mul, op.add, op.set(ACC));
  for (let r = 0; r < 4; r++) {
    emit(accAddress(r), op.v128Load(0), op.set(A + 2 * r));
    emit(accAddress(r), op.v128Load(16), op.set(A + 2 * r + 1));
  }
  emit(op.get(X), op.get(CI), op.i32(4), op.mul, op.add, op.set(XR));
  emit(op.get(DY), op.get(CJ), op.i32(4), op.mul, op.add, op.set(DR));
  emit(op.get(ROWS), op.set(R), op.loop); //     for each row
  emit(op.get(XR), op.set(XP), op.get(DR), op.set(DP), op.get(N), op.set(K), op.loop); // for each pixel
  emit(op.get(DP), op.v128Load(0), op.set(D0), op.get(DP), op.v128Load(16), op.set(D1));
  for (let r = 0; r < 4; r++) {
    emit(op.get(XP), op.f32Load(4 * r), op.f32x4Splat, op.set(S));
    emit(op.get(A + 2 * r), op.get(S), op.get(D0), op.f32x4Mul, op.f32x4Add, op.set(A + 2 * r));
    emit(op.get(A + 2 * r + 1), op.get(S), op.get(D1), op.f32x4Mul, op.f32x4Add, op.set(A + 2 * r + 1));
  }
  emit(op.get(XP), op.get(X_PIXEL), op.add, op.set(XP));
  emit(op.get(DP), op.get(DW_ROW), op.add, op.set(DP)); // a pixel of dy is CO floats, as a row of dW
  emit(op.get(K), op.i32(1), op.sub, op.tee(K), op.brIf(0), op.end);
  emit(op.get(XR), op.get(X_ROW), op.add, op.set(XR), op.get(DR), op.get(DY_ROW), op.add, op.set(DR));
  emit(op.get(R), op.i32(1), op.sub, op.tee(R), op.brIf(0), op.end);
  for (let r = 0; r < 4; r++) {
    emit(accAddress(r), op.get(A + 2 * r), op.v128Store(0));
    emit(accAddress(r), op.get(A + 2 * r + 1), op.v128Store(16));
  }
  emit(op.get(CJ), op.i32(8), op.add, op.tee(CJ), op.get(CO), op.ltU, op.brIf(0), op.end);
  emit(op.get(CI), op.i32(4), op.add, op.tee(CI), op.get(C), op.ltU, op.brIf(0), op.end);
  return code;
}

// --- the depthwise filter gradient (one output channel per input channel) ------------------------------
// dw[c] += sum over r < rows, k < n of x[r*xRow + k*xPixel + c] * dy[r*dyRow + k*channels + c], by 4 channels.
type AccumulateDepthwiseFn = (x: number, dy: number, dw: number, rows: number, n: number, xPixel: number, xRow: number,
  dyRow: number, channels: number) => void;
// Parameters as the kernel above's first nine (x .. channels = C); then locals:
const [CH, ROWS_LEFT, PIXELS_LEFT, XQ, DQ, X_ROW_AT, DY_ROW_AT, DY_PIXEL] = [9, 10, 11, 12, 13, 14, 15, 16];
const SUM = 17; // the 4 channels' sums

function accumulateDepthwiseBody(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => { for (const p of parts) code.push(...p); };
  emit(op.get(C), op.i32(4), op.mul, op.set(DY_PIXEL));
  emit(op.i32(0), op.set(CH), op.loop); // for c in 0, 4, .. C-4
  emit(op.get(DW), op.get(CH), op.i32(4), op.mul, op.add, op.v128Load(0), op.set(SUM));
  emit(op.get(X), op.get(CH), op.i32(4), op.mul, op.add, op.set(X_ROW_AT));
  emit(op.get(DY), op.get(CH), op.i32(4), op.mul, op.add, op.set(DY_ROW_AT));
  emit(op.get(ROWS), op.set(ROWS_LEFT), op.loop); //   for each row
  emit(op.get(X_ROW_AT), op.set(XQ), op.get(DY_ROW_AT), op.set(DQ), op.get(N), op.set(PIXELS_LEFT), op.loop); // for each pixel
  emit(op.get(SUM), op.get(XQ), op.v128Load(0), op.get(DQ), op.v128Load(0), op.f32x4Mul, op.f32x4Add, op.set(SUM));
  emit(op.get(XQ), op.get(X_PIXEL), op.add, op.set(XQ), op.get(DQ), op.get(DY_PIXEL), op.add, op.set(DQ));
  emit(op.get(PIXELS_LEFT), op.i32(1), op.sub, op.tee(PIXELS_LEFT), op.brIf(0), op.end);
  emit(op.get(X_ROW_AT), op.get(X_ROW), op.add, op.set(X_ROW_AT), op.get(DY_ROW_AT), op.get(DY_ROW), op.add, op.set(DY_ROW_AT));
  emit(op.get(ROWS_LEFT), op.i32(1), op.sub, op.tee(ROWS_LEFT), op.brIf(0), op.end);
  emit(op.get(DW), op.get(CH), op.i32(4), op.mul, op.add, op.get(SUM), op.v128Store(0));
  emit(op.get(CH), op.i32(4), op.add, op.tee(CH), op.get(C), op.ltU, op.brIf(0), op.end);
  return code;
}

/** The module's bytes: (import "env" "memory"), exports "accumulate" and "accumulateDepthwise". */
export function filterGradModuleBytes(): Uint8Array<ArrayBuffer> {
  return assemble([
    // 10 i32 locals, then 11 v128 (8 accumulators, a splat, two vectors of dy), as indexed above.
    { name: 'accumulate', params: 10, locals: [{ type: I32, count: 10 }, { type: V128, count: 11 }], body: accumulateBody() },
    { name: 'accumulateDepthwise', params: 9, locals: [{ type: I32, count: 8 }, { type: V128, count: 1 }], body: accumulateDepthwiseBody() },
  ]);
}

const heapKernel = heapModule<{ accumulate: AccumulateFn; accumulateDepthwise: AccumulateDepthwiseFn }>(filterGradModuleBytes);
/** The kernel that adds x^T.dy over a block of pixels into dW (also winograd.ts's products), or null. */
export const accumulateFor = (backend: BackendWasm): AccumulateFn | null => heapKernel(backend)?.accumulate ?? null;

/** Outputs o in [0, outSize) whose tap k reads inside the input: 0 <= o*stride + k - pad < size. */
function validOutputs(k: number, pad: number, stride: number, size: number, outSize: number): [number, number] {
  return [Math.max(0, Math.ceil((pad - k) / stride)), Math.min(outSize, Math.floor((size - 1 - k + pad) / stride) + 1)];
}

/** [..., C] -> [..., to] with zeros in the added channels (the kernel takes channels by 4 and outputs by 8). */
function padChannels(backend: BackendWasm, t: TensorInfo, to: number): TensorInfo {
  const c = t.shape[t.shape.length - 1]!;
  const out = backend.makeOutput([...t.shape.slice(0, -1), to], 'float32');
  const src = backend.typedArrayFromHeap(t) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  for (let p = 0, n = src.length / c; p < n; p++) dst.set(src.subarray(p * c, (p + 1) * c), p * to);
  return out;
}

/** [KH, KW, C4, CO8] -> [KH, KW, C, CO]: drop the padded channels. */
export function cropFilter(backend: BackendWasm, padded: TensorInfo, shape: [number, number, number, number]): TensorInfo {
  const [, , c4, co8] = padded.shape as [number, number, number, number];
  const [kh, kw, c, co] = shape;
  const out = backend.makeOutput(shape, 'float32');
  const src = backend.typedArrayFromHeap(padded) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  for (let t = 0; t < kh * kw; t++) {
    for (let i = 0; i < c; i++) dst.set(src.subarray((t * c4 + i) * co8, (t * c4 + i) * co8 + co), (t * c + i) * co);
  }
  return out;
}

/**
 * Bytes of x and dy per call (a block of pixels): small enough to stay in L1 while every 4 x 8 tile of dW
 * reads them, large enough that loading and storing the tile is a small part of a call.
 */
const BYTES_PER_CALL = 16384;

/** One call's block: rows x n output pixels and the input pixels one tap of the filter reads for them. */
type BlockVisitor = (xPixel: number, dyPixel: number, tap: number, rows: number, n: number) => void;

/**
 * Walks the output pixels of `info` in blocks of whole rows (about BYTES_PER_CALL of x and dy per block at
 * `bytesPerPixel`) and, for each block, each tap of the filter with the part of the block it reads inside
 * the input. Pixel indices count pixels (not floats). The order of this walk, then rows, then pixels within
 * a call, is the order of every sum: fixed.
 */
function forEachBlock(info: tf.backend_util.Conv2DInfo, bytesPerPixel: number, visit: BlockVisitor): void {
  const { batchSize, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  const rowsOf = Array.from({ length: KH }, (_, kh) => validOutputs(kh * dh, top, sh, H, OH));
  const colsOf = Array.from({ length: KW }, (_, kw) => validOutputs(kw * dw, left, sw, W, OW));
  const rowsPerCall = Math.max(1, Math.floor(BYTES_PER_CALL / (bytesPerPixel * OW)));
  for (let b = 0; b < batchSize; b++) {
    for (let oh0 = 0; oh0 < OH; oh0 += rowsPerCall) {
      for (let kh = 0; kh < KH; kh++) {
        const lo = Math.max(oh0, rowsOf[kh]![0]);
        const hi = Math.min(oh0 + rowsPerCall, rowsOf[kh]![1]);
        if (lo >= hi) continue;
        for (let kw = 0; kw < KW; kw++) {
          const [wlo, whi] = colsOf[kw]!;
          if (wlo >= whi) continue;
          visit((b * H + lo * sh + kh * dh - top) * W + wlo * sw + kw * dw - left, (b * OH + lo) * OW + wlo, kh * KW + kw, hi - lo, whi - wlo);
        }
      }
    }
  }
}

/**
 * Conv2DBackpropFilter (NHWC, any stride and padding) with the SIMD kernel, or null where the kernel cannot
 * run. Channels that are not a multiple of 4 (inputs) or 8 (outputs) are padded with zeros around the call.
 */
export function filterGradSimd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const accumulate = accumulateFor(backend);
  if (accumulate == null) return null;
  const { inWidth: W, outWidth: OW, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const C = Math.ceil(info.inChannels / 4) * 4;
  const CO = Math.ceil(info.outChannels / 8) * 8;
  const xIn = C === info.inChannels ? x : padChannels(backend, x, C);
  const dyIn = CO === info.outChannels ? dy : padChannels(backend, dy, CO);
  const dw = backend.makeOutput([KH, KW, C, CO], 'float32');
  (backend.typedArrayFromHeap(dw) as Float32Array).fill(0);
  const xAt = heapOffset(backend, xIn);
  const dyAt = heapOffset(backend, dyIn);
  const dwAt = heapOffset(backend, dw);
  forEachBlock(info, 4 * (C + CO), (xPixel, dyPixel, tap, rows, n) => {
    accumulate(xAt + 4 * C * xPixel, dyAt + 4 * CO * dyPixel, dwAt + 4 * tap * C * CO, rows, n,
      4 * sw * C, 4 * sh * W * C, 4 * OW * CO, C, CO);
  });
  if (xIn !== x) backend.disposeData(xIn.dataId);
  if (dyIn !== dy) backend.disposeData(dyIn.dataId);
  if (C === info.inChannels && CO === info.outChannels) return dw;
  const cropped = cropFilter(backend, dw, [KH, KW, info.inChannels, info.outChannels]);
  backend.disposeData(dw.dataId);
  return cropped;
}

/**
 * DepthwiseConv2dNativeBackpropFilter with one output channel per input channel (MobileNetV2, ShuffleNets),
 * any stride, padding and dilation, with the SIMD kernel; null where it cannot run or the channel
 * multiplier is not 1. Channels that are not a multiple of 4 are padded with zeros around the call.
 */
export function depthwiseFilterGradSimd(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const accumulate = heapKernel(backend)?.accumulateDepthwise;
  if (accumulate == null || info.outChannels !== info.inChannels) return null;
  const { inWidth: W, outWidth: OW, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const C = Math.ceil(info.inChannels / 4) * 4;
  const xIn = C === info.inChannels ? x : padChannels(backend, x, C);
  const dyIn = C === info.inChannels ? dy : padChannels(backend, dy, C);
  const dw = backend.makeOutput([KH, KW, C, 1], 'float32');
  (backend.typedArrayFromHeap(dw) as Float32Array).fill(0);
  const xAt = heapOffset(backend, xIn);
  const dyAt = heapOffset(backend, dyIn);
  const dwAt = heapOffset(backend, dw);
  forEachBlock(info, 8 * C, (xPixel, dyPixel, tap, rows, n) => {
    accumulate(xAt + 4 * C * xPixel, dyAt + 4 * C * dyPixel, dwAt + 4 * tap * C, rows, n, 4 * sw * C, 4 * sh * W * C, 4 * OW * C, C);
  });
  if (xIn !== x) backend.disposeData(xIn.dataId);
  if (dyIn !== dy) backend.disposeData(dyIn.dataId);
  if (C === info.inChannels) return dw;
  const cropped = cropFilter(backend, dw, [KH, KW, info.inChannels, 1]);
  backend.disposeData(dw.dataId);
  return cropped;
}
