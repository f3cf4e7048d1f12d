// Kernels kdx adds to (or replaces in) the TensorFlow.js wasm backend so that training is not 10-100x
// slower than inference there.
//
// - Conv2D and FusedConv2D (bias, linear or relu): for stride-1 3x3 layers with 16+ channels, Winograd
//   F(4x4, 3x3) (winograd.ts; ~0.4x XNNPACK's direct convolution); else tfjs-wasm's XNNPACK kernels.
// - Conv2DBackpropFilter (missing on wasm): for stride-1 3x3 layers with 16+ channels, Winograd F(3x3, 4x4)
//   (winograd.ts; ~0.4x a direct forward convolution); else a WebAssembly SIMD kernel of kdx's on the heap, reading x
//   and dy in place (filter-grad-simd.ts; ~0.8x). Engines without SIMD compute it through the XNNPACK Conv2D
//   forward kernel (transposes, dy as the filter, dilated by the stride: ~1.7x).
// - Conv2DBackpropInput (slow, scalar C++): for stride-1 3x3 layers with 16+ channels, Winograd F(4x4, 3x3)
//   (winograd.ts; ~0.45x a direct forward convolution); strided layers as one stride-1 convolution per output
//   phase (strided-input-grad.ts; ~1x, where the zero-dilated dy cost 3.5x for stride 2); 1x1 stride-1 layers as
//   one matrix product; else through the XNNPACK Conv2D forward kernel with a flipped filter (~1.0x).
// - BatchMatMul with transposeA/transposeB falls off XNNPACK onto a naive strided loop in tfjs-wasm (250 ms
//   for the dense gradient 4096x64 . 64x256); explicit transposes then the XNNPACK product take ~9 ms.
// - MaxPoolGrad: a channel-innermost JS loop over the heap is several times faster than the built-in (which
//   also loses the gradient of windows whose maximum is negative); 2x2 windows, a SIMD kernel (~4x the loop).
// - Sum and Mean over leading axes (bias gradients, batch statistics): column sums instead of a generic
//   transpose then a row sum.
// - DepthwiseConv2dNativeBackpropInput / BackpropFilter (missing on wasm): the input gradient on XNNPACK (by
//   output phase where strided) or JS loops over the heap; the filter gradient (multiplier 1) a SIMD kernel, else JS loops.
// - Tile (batchNorm's gradient): whole contiguous blocks copied per axis instead of an index per element.
// - Slice and SplitV (ShuffleNetV2's channel split, concat's gradient): contiguous runs copied (slice.ts).
// - Identity / same-dtype Cast: share the data instead of copying it (the engine clones every tensor a
//   gradient needs).
//
// Every kernel here calls other wasm kernels directly (`kernelFunc({inputs, backend, attrs})`), so nothing it
// does shows in tf.profile or tf.memory() except its own output; intermediates are freed with
// backend.disposeData(dataId).
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { adamUpdateKernel } from './adam-kernel.js';
import { batchNormKernels } from './batch-norm-kernel.js';
import { columnSums } from './channel-simd.js';
import { depthwiseFilterGradSimd, filterGradSimd } from './filter-grad-simd.js';
import { maxPoolGrad2x2Simd } from './maxpool-grad-simd.js';
import { slice, splitV } from './slice.js';
import { inputGradByPhase, inputGradPhases, phaseFilter } from './strided-input-grad.js';
import { tf } from './tf.js';
import { winogradConv3x3, winogradFilterGrad3x3, winogradPays } from './winograd.js';

type TensorInfo = tf.TensorInfo;
type KernelConfig = tf.KernelConfig;
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

const BACKEND = 'wasm';

/** Kernel configs of tfjs-backend-wasm that kdx replaced, kept so the replacements can call them. */
const originals = new Map<string, KernelConfig>();
let registered = false;

function kernel(name: string): KernelConfig {
  const k = originals.get(name) ?? tf.getKernel(name, BACKEND);
  if (k == null) throw new Error(`kdx: the wasm backend has no ${name} kernel`);
  return k;
}

/** Run a wasm kernel directly (bypassing the engine: no tensor bookkeeping, no profiling). */
function run(backend: BackendWasm, name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): TensorInfo {
  const out = kernel(name).kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? out[0]! : out;
}

function free(backend: BackendWasm, ...infos: (TensorInfo | null | undefined)[]): void {
  for (const t of infos) if (t != null) backend.disposeData(t.dataId);
}

function explicitPad(top: number, bottom: number, left: number, right: number): ExplicitPadding {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

function conv2d(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, pad: ExplicitPadding, dilations: [number, number] = [1, 1]): TensorInfo {
  const attrs: tf.Conv2DAttrs = { strides: [1, 1], pad, dataFormat: 'NHWC', dilations };
  return run(backend, tf.Conv2D, { x, filter }, attrs as unknown as tf.NamedAttrMap);
}

function isNHWC(dataFormat: string | undefined): boolean {
  return dataFormat == null || dataFormat === 'NHWC';
}

/** [B, H, W, C] -> [B, (H-1)*sh+1, (W-1)*sw+1, C] with zeros between the rows/columns (a transposed stride). */
function dilateSpatial(backend: BackendWasm, t: TensorInfo, sh: number, sw: number): TensorInfo {
  const [b, h, w, c] = t.shape as [number, number, number, number];
  const oh = (h - 1) * sh + 1;
  const ow = (w - 1) * sw + 1;
  const out = backend.makeOutput([b, oh, ow, c], 'float32');
  // Views are taken after the allocation: a heap growth detaches older ones.
  const src = backend.typedArrayFromHeap(t) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h; i++) {
      const srcRow = (n * h + i) * w * c;
      const dstRow = (n * oh + i * sh) * ow * c;
      for (let j = 0; j < w; j++) {
        dst.set(src.subarray(srcRow + j * c, srcRow + (j + 1) * c), dstRow + j * sw * c);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropInput: dx = conv(dilate(dy, stride), flip(filter) with in/out channels swapped), stride 1.
//   dx[b,i,j,ci] = sum dy[b,oh,ow,co] W[kh,kw,ci,co] over oh*s+kh-padTop = i, ow*s+kw-padLeft = j.
// With dy dilated by the stride (zeros between), that is a stride-1 correlation with the 180-degree rotated
// filter, padded by K-1-padTop above and by whatever makes the output inH rows tall below.
function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (!isNHWC(attrs.dataFormat)) return run(backend, tf.Conv2DBackpropInput, args.inputs, args.attrs);

  const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number],
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { top, bottom, left, right } = info.padInfo;
  if (info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1 && top + bottom + left + right === 0) {
    // 1x1, stride 1: one matrix product, dx [pixels, ci] = dy [pixels, co] . W [ci, co]^T (through XNNPACK's
    // convolution it cost up to 3x more: MobileNetV2's last 1x1 layer, 160 -> 1280 channels at 2x2).
    const pixels = info.batchSize * info.inHeight * info.inWidth;
    const dx = batchMatMul({
      inputs: { a: { ...dy, shape: [pixels, info.outChannels] }, b: { ...filter, shape: [info.inChannels, info.outChannels] } },
      backend, attrs: { transposeA: false, transposeB: true },
    });
    return { ...dx, shape: [...attrs.inputShape] };
  }
  const phases = inputGradPhases(info);
  if (phases != null) {
    // Strided: one stride-1 convolution per output phase (strided-input-grad.ts), no zero-dilated dy.
    const filterT = run(backend, tf.Transpose, { x: filter }, { perm: [0, 1, 3, 2] }); // [kh, kw, co, ci]
    const dx = inputGradByPhase(backend, info, phases, (phase) => {
      const sub = phaseFilter(backend, filterT, phase);
      const part = conv2d(backend, dy, sub, phase.pad);
      free(backend, sub);
      return part;
    });
    free(backend, filterT);
    return dx;
  }
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  const padTop = kh - 1 - info.padInfo.top;
  const padLeft = kw - 1 - info.padInfo.left;
  const dilH = (outHeight - 1) * sh + 1;
  const dilW = (outWidth - 1) * sw + 1;
  const padBottom = inHeight - dilH - padTop + kh - 1;
  const padRight = inWidth - dilW - padLeft + kw - 1;
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
    // Explicit paddings larger than the kernel: rare; the built-in kernel handles them.
    return run(backend, tf.Conv2DBackpropInput, args.inputs, args.attrs);
  }

  if (kh === 3 && kw === 3 && sh === 1 && sw === 1 && winogradPays(info.inChannels, info.outChannels)) {
    // Winograd (winograd.ts), rotating the filter as it transforms it.
    const filterT = run(backend, tf.Transpose, { x: filter }, { perm: [0, 1, 3, 2] }); // [kh, kw, co, ci]
    const dx = winogradConv3x3(backend, dy, filterT, { padTop, padLeft, outH: inHeight, outW: inWidth, rotate: true },
      (a, b) => run(backend, tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false }));
    free(backend, filterT);
    if (dx != null) return dx;
  }
  const flipped = run(backend, tf.Reverse, { x: filter }, { dims: [0, 1] });
  const filterT = run(backend, tf.Transpose, { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, co, ci]
  free(backend, flipped);
  const dyIn = sh > 1 || sw > 1 ? dilateSpatial(backend, dy, sh, sw) : dy;
  const dx = conv2d(backend, dyIn, filterT, explicitPad(padTop, padBottom, padLeft, padRight));
  free(backend, filterT, dyIn === dy ? null : dyIn);
  return dx;
}

// ---------------------------------------------------------------------------------------------------------
// Conv2D and FusedConv2D (bias, then linear or relu): stride-1 3x3 layers with 16+ channels by Winograd
// F(4x4, 3x3) (winograd.ts, bias and relu applied as the tiles are written); ~0.4x XNNPACK's direct
// convolution on the reference models' layers. Everything else (other activations, prelu weights, strides,
// kernel sizes, the first layer) on tfjs-wasm's XNNPACK kernels.
function winogradForward(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | null, relu: boolean,
  attrs: tf.Conv2DAttrs): TensorInfo | null {
  if (!isNHWC(attrs.dataFormat) || x.dtype !== 'float32') return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  if (kh !== 3 || kw !== 3 || sh !== 1 || sw !== 1 || dh !== 1 || dw !== 1 || !winogradPays(info.inChannels, info.outChannels)) return null;
  // relu needs the epilogue, which adds a bias: zeros where the layer has none.
  const b = bias ?? (relu ? zeros(backend, [info.outChannels]) : null);
  const y = winogradConv3x3(backend, x, filter, {
    padTop: info.padInfo.top, padLeft: info.padInfo.left, outH: info.outHeight, outW: info.outWidth, rotate: false, bias: b, relu,
  }, (p, q) => run(backend, tf.BatchMatMul, { a: p, b: q }, { transposeA: false, transposeB: false }));
  if (b !== bias) free(backend, b);
  return y;
}

function zeros(backend: BackendWasm, shape: number[]): TensorInfo {
  const t = backend.makeOutput(shape, 'float32');
  (backend.typedArrayFromHeap(t) as Float32Array).fill(0);
  return t;
}

function conv2D(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  return winogradForward(backend, x, filter, null, false, args.attrs as unknown as tf.Conv2DAttrs) ??
    run(backend, tf.Conv2D, args.inputs, args.attrs);
}

function fusedConv2D(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DAttrs & { activation?: string };
  const activation = attrs.activation ?? 'linear';
  const fusable = preluActivationWeights == null && (activation === 'linear' || activation === 'relu') &&
    (bias == null || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3] && bias.dtype === 'float32'));
  const y = fusable ? winogradForward(backend, x, filter, bias ?? null, activation === 'relu', attrs) : null;
  return y ?? run(backend, tf.FusedConv2D, args.inputs, args.attrs);
}

/**
 * [B, H, W, C] -> [C, H, W, B]. tfjs-wasm's generic 4-D transpose takes ~35 ms for 64x32x32x32; a 2-D
 * transpose [B, HWC] -> [HWC, B] then [HW, C, B] -> [C, HW, B] (contiguous runs of B) takes ~8 ms.
 */
function batchToLast(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const flat = { ...x, shape: [b, h * w * c] };
  const t1 = run(backend, tf.Transpose, { x: flat }, { perm: [1, 0] }); // [h*w*c, b]
  if (c === 1) return { ...t1, shape: [c, h, w, b] };
  const t2 = run(backend, tf.Transpose, { x: { ...t1, shape: [h * w, c, b] } }, { perm: [1, 0, 2] }); // [c, h*w, b]
  free(backend, t1);
  return { ...t2, shape: [c, h, w, b] };
}

// ---------------------------------------------------------------------------------------------------------
// Conv2DBackpropFilter: the batch becomes the contraction ("channels"), the input channels the batch, and
// dy the filter, dilated by the stride:
//   dW[kh,kw,ci,co] = sum over b,oh,ow of x[b, oh*s+kh-padTop, ow*s+kw-padLeft, ci] * dy[b,oh,ow,co]
//                   = conv(x^T [ci,H,W,b], dy^T [oh,ow,b,co], dilation s)[ci,kh,kw,co]
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (!isNHWC(attrs.dataFormat)) {
    throw new Error('kdx wasm Conv2DBackpropFilter supports only NHWC (channelsLast) data');
  }
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape,
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const { batchSize, inChannels, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { inHeight, inWidth, outHeight, outWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  if (kh === 3 && kw === 3 && sh === 1 && sw === 1 && winogradPays(inChannels, info.outChannels)) {
    const winograd = winogradFilterGrad3x3(backend, x, dy, padTop, padLeft); // winograd.ts
    if (winograd != null) return winograd;
  }
  const simd = filterGradSimd(backend, x, dy, info);
  if (simd != null) return simd;
  // Without WebAssembly SIMD (see filter-grad-simd.ts), through the XNNPACK convolution.
  // Rows below the last one any output reads are cropped (valid padding with a stride that does not fit).
  let padBottom = kh + (outHeight - 1) * sh - inHeight - padTop;
  let padRight = kw + (outWidth - 1) * sw - inWidth - padLeft;
  let xIn = x;
  if (padBottom < 0 || padRight < 0) {
    const h = inHeight + Math.min(padBottom, 0);
    const w = inWidth + Math.min(padRight, 0);
    xIn = run(backend, tf.Slice, { x }, { begin: [0, 0, 0, 0], size: [batchSize, h, w, inChannels] });
    padBottom = Math.max(padBottom, 0);
    padRight = Math.max(padRight, 0);
  }
  const xT = batchToLast(backend, xIn); // [ci, H, W, b]
  if (xIn !== x) free(backend, xIn);
  const dyT = run(backend, tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, b, co]
  const dwT = conv2d(backend, xT, dyT, explicitPad(padTop, padBottom, padLeft, padRight), [sh, sw]); // [ci, kh, kw, co]
  free(backend, xT, dyT);
  const dw = run(backend, tf.Transpose, { x: dwT }, { perm: [1, 2, 0, 3] });
  free(backend, dwT);
  return dw;
}

// ---------------------------------------------------------------------------------------------------------
// BatchMatMul: tfjs-wasm uses XNNPACK only for a single, untransposed product (its b is the packed "weights"
// operand); everything else goes through a naive loop that strides through memory when transposeA is set or
// transposeB is not (~250 ms instead of ~9 for the dense-layer gradient x^T.dy, 4096x64 . 64x256).
// Single products: compute C = op(a).op(b) directly, or as C = (op(b)^T . op(a)^T)^T, whichever moves less
// data (transposes + packing the weights operand), both through the XNNPACK path. Batched products: hand the
// loop the layout it reads contiguously (a untransposed, b transposed).
function swapLast2(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** A rank-2 view [rows, cols] of a tensor whose leading dimensions are all 1. */
function as2d(t: TensorInfo): TensorInfo {
  const r = t.shape.length;
  return { ...t, shape: [t.shape[r - 2]!, t.shape[r - 1]!] };
}

function transpose2d(backend: BackendWasm, t: TensorInfo): TensorInfo {
  return run(backend, tf.Transpose, { x: t }, { perm: [1, 0] });
}

function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  if (batchA !== 1 || batchB !== 1) {
    if (!transposeA && transposeB) return run(backend, tf.BatchMatMul, args.inputs, args.attrs);
    const a2 = transposeA ? run(backend, tf.Transpose, { x: a }, { perm: swapLast2(a.shape.length) }) : a;
    const b2 = transposeB ? b : run(backend, tf.Transpose, { x: b }, { perm: swapLast2(b.shape.length) });
    const out = run(backend, tf.BatchMatMul, { a: a2, b: b2 }, { transposeA: false, transposeB: true });
    free(backend, a2 === a ? null : a2, b2 === b ? null : b2);
    return out;
  }
  if (!transposeA && !transposeB) return run(backend, tf.BatchMatMul, args.inputs, args.attrs);

  const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const a2d = as2d(a);
  const b2d = as2d(b);
  const [m, k] = transposeA ? [a2d.shape[1]!, a2d.shape[0]!] : [a2d.shape[0]!, a2d.shape[1]!];
  const n = transposeB ? b2d.shape[0]! : b2d.shape[1]!;
  // Element moves: transposes of the operands (and of the result), plus packing the weights operand twice
  // (tfjs-wasm transposes it for XNNPACK, which then packs it).
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + 2 * k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + 2 * k * m + m * n;
  let out: TensorInfo;
  if (direct <= swapped) {
    const a3 = transposeA ? transpose2d(backend, a2d) : a2d; // [m, k]
    const b3 = transposeB ? transpose2d(backend, b2d) : b2d; // [k, n]
    out = run(backend, tf.BatchMatMul, { a: a3, b: b3 }, { transposeA: false, transposeB: false });
    free(backend, transposeA ? a3 : null, transposeB ? b3 : null);
  } else {
    const bt = transposeB ? b2d : transpose2d(backend, b2d); // op(b)^T: [n, k]
    const at = transposeA ? a2d : transpose2d(backend, a2d); // op(a)^T: [k, m]
    const outT = run(backend, tf.BatchMatMul, { a: bt, b: at }, { transposeA: false, transposeB: false }); // [n, m]
    free(backend, transposeB ? null : bt, transposeA ? null : at);
    out = transpose2d(backend, as2d(outT));
    free(backend, outT);
  }
  return { ...out, shape: [...outShape, m, n] };
}

// ---------------------------------------------------------------------------------------------------------
// Sum and Mean over leading axes (bias gradients: dy [B,H,W,C] -> [C]; batchNorm's batch statistics):
// tfjs-wasm first moves the reduced axes innermost with its generic transpose (~35 ms for 64x32x32x32);
// summing columns in place takes ~3 ms.
function reduceLeadingAxes(name: typeof tf.Sum | typeof tf.Mean) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((v, i) => v === i);
    if (x.dtype !== 'float32' || !leading) return run(backend, name, args.inputs, args.attrs);
    const cols = tf.util.sizeFromShape(x.shape.slice(axes.length));
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const outShape = keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    const sums = columnSums(backend, x, rows, cols); // channel-simd.ts
    if (name === tf.Mean) for (let c = 0; c < cols; c++) sums[c]! /= rows;
    const out = backend.makeOutput(outShape, 'float32');
    (backend.typedArrayFromHeap(out) as Float32Array).set(sums);
    return out;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Identity and same-dtype Cast: tfjs-wasm copies the data; tensors are immutable, so share it (with a
// reference count), as tfjs-cpu does and as wasm's own Reshape does. The engine clones every tensor a
// gradient will need (saveTensorsForBackwardMode), so training copied each activation once per step.
function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return run(backend, tf.Identity, args.inputs, args.attrs);
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function cast(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || dtype === 'string') return run(args.backend as BackendWasm, tf.Cast, args.inputs, args.attrs);
  return identity(args);
}

// ---------------------------------------------------------------------------------------------------------
// MaxPoolGrad: for each output pixel, the first maximum of its window (scan order, strict >, as tfjs-cpu)
// receives dy. tfjs-wasm's built-in is slower (~65 ms for 64x32x32x32) and drops the gradient of windows
// whose maximum is negative. Channels innermost: contiguous reads of x and writes of dx.
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  if (input.dtype !== 'float32') return run(backend, tf.MaxPoolGrad, args.inputs, args.attrs);
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize,
    attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const dx = backend.makeOutput(input.shape, 'float32');
  const X = backend.typedArrayFromHeap(input) as Float32Array;
  const DY = backend.typedArrayFromHeap(dy) as Float32Array;
  const DX = backend.typedArrayFromHeap(dx) as Float32Array;
  const { strideHeight: sh, strideWidth: sw, outHeight, outWidth, inHeight, inWidth } = info;
  const windows2x2 = info.effectiveFilterHeight === 2 && info.effectiveFilterWidth === 2 && sh === 2 && sw === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 && outHeight * 2 <= inHeight && outWidth * 2 <= inWidth;
  if (windows2x2) {
    if (!maxPoolGrad2x2Simd(backend, input, dy, dx)) maxPoolGrad2x2(X, DY, DX, info);
  } else maxPoolGradGeneric(X, DY, DX, info);
  return dx;
}

/** Non-overlapping 2x2 windows (the usual maxPool 2): every input pixel is written once, no zero-fill. */
function maxPoolGrad2x2(X: Float32Array, DY: Float32Array, DX: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight, outWidth } = info;
  if (outHeight * 2 < H || outWidth * 2 < W) DX.fill(0); // odd sizes: the last row/column gets no gradient
  const row = W * C;
  let yi = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowA = (n * H + 2 * oh) * row;
      for (let ow = 0; ow < outWidth; ow++) {
        const ia = rowA + 2 * ow * C;
        const ib = ia + C;
        const ic = ia + row;
        const id = ic + C;
        for (let c = 0; c < C; c++, yi++) {
          const a = X[ia + c]!;
          const b = X[ib + c]!;
          const cc = X[ic + c]!;
          const d = X[id + c]!;
          DX[ia + c] = 0;
          DX[ib + c] = 0;
          DX[ic + c] = 0;
          DX[id + c] = 0;
          // Exactly tfjs-cpu's scan: start at -Infinity, take strictly greater values (NaN never wins).
          let at = -1;
          let m = -Infinity;
          if (a > m) { m = a; at = ia; }
          if (b > m) { m = b; at = ib; }
          if (cc > m) { m = cc; at = ic; }
          if (d > m) at = id;
          if (at >= 0) DX[at + c] = DY[yi]!;
        }
      }
    }
  }
}

function maxPoolGradGeneric(X: Float32Array, DY: Float32Array, DX: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  DX.fill(0);
  const best = new Float32Array(C);
  const bestAt = new Int32Array(C);
  let dyAt = 0;
  for (let n = 0; n < batchSize; n++) {
    const xBatch = n * H * W * C;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * sh - padTop;
      const hStart = Math.max(h0, 0);
      const hEnd = Math.min(h0 + fh, H);
      for (let ow = 0; ow < outWidth; ow++, dyAt += C) {
        const w0 = ow * sw - padLeft;
        const wStart = Math.max(w0, 0);
        const wEnd = Math.min(w0 + fw, W);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let h = hStart; h < hEnd; h++) {
          for (let w = wStart; w < wEnd; w++) {
            const base = xBatch + (h * W + w) * C;
            for (let c = 0; c < C; c++) {
              const v = X[base + c]!;
              if (v > best[c]!) {
                best[c] = v;
                bestAt[c] = base + c;
              }
            }
          }
        }
        for (let c = 0; c < C; c++) {
          const at = bestAt[c]!;
          if (at >= 0) DX[at]! += DY[dyAt + c]!;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Depthwise convolution gradients (MobileNetV2, ShuffleNet), which tfjs-wasm lacks: the input gradient on
// XNNPACK when it can, else (and the filter gradient always) channel-innermost JS loops over the heap, the
// same number of multiply-adds as the forward pass.
//   dx[b,i,j,c]  = sum over m, (oh,kh), (ow,kw) with oh*s + kh*d - padTop = i, ... of dy[b,oh,ow,c*M+m] W[kh,kw,c,m]
//   dW[kh,kw,c,m] = sum over b, oh, ow of x[b, oh*s + kh*d - padTop, ow*s + kw*d - padLeft, c] dy[b,oh,ow,c*M+m]
type DepthwiseAttrs = { strides: number | [number, number]; pad: tf.Conv2DAttrs['pad']; dimRoundingMode?: 'floor' | 'round' | 'ceil'; dilations?: number | [number, number] };

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: DepthwiseAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

/** Calls `visit(xAt, dyAt, wAt)` for every input pixel, output pixel and kernel tap that meet. */
function depthwiseTaps(info: tf.backend_util.Conv2DInfo, visit: (xAt: number, dyAt: number, wAt: number) => void): void {
  const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const dyAt = ((b * OH + oh) * OW + ow) * outChannels;
        for (let kh = 0; kh < KH; kh++) {
          const i = oh * sh + kh * dh - top;
          if (i < 0 || i >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const j = ow * sw + kw * dw - left;
            if (j < 0 || j >= W) continue;
            visit(((b * H + i) * W + j) * C, dyAt, (kh * KW + kw) * outChannels);
          }
        }
      }
    }
  }
}

function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { inputShape: number[] };
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  const C = info.inChannels;
  const M = info.outChannels / C;
  // One output channel per input channel (MobileNet, ShuffleNet): as for Conv2DBackpropInput, a stride-1
  // depthwise correlation of the stride-dilated dy with the rotated filter, on XNNPACK.
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth, outHeight, outWidth } = info;
  const padTop = kh - 1 - info.padInfo.top;
  const padLeft = kw - 1 - info.padInfo.left;
  const padBottom = inHeight - ((outHeight - 1) * sh + 1) - padTop + kh - 1;
  const padRight = inWidth - ((outWidth - 1) * sw + 1) - padLeft + kw - 1;
  const phases = M === 1 ? inputGradPhases(info) : null;
  if (phases != null) {
    // Strided: one stride-1 depthwise correlation per output phase (strided-input-grad.ts).
    return inputGradByPhase(backend, info, phases, (phase) => {
      const sub = phaseFilter(backend, filter, phase);
      const part = run(backend, tf.DepthwiseConv2dNative, { x: dy, filter: sub }, {
        strides: [1, 1], pad: phase.pad, dilations: [1, 1], dataFormat: 'NHWC',
      } as unknown as tf.NamedAttrMap);
      free(backend, sub);
      return part;
    });
  }
  if (M === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 && Math.min(padTop, padLeft, padBottom, padRight) >= 0) {
    const flipped = run(backend, tf.Reverse, { x: filter }, { dims: [0, 1] });
    const dyIn = sh > 1 || sw > 1 ? dilateSpatial(backend, dy, sh, sw) : dy;
    const dx = run(backend, tf.DepthwiseConv2dNative, { x: dyIn, filter: flipped }, {
      strides: [1, 1], pad: explicitPad(padTop, padBottom, padLeft, padRight), dilations: [1, 1], dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap);
    free(backend, flipped, dyIn === dy ? null : dyIn);
    return dx;
  }
  const out = backend.makeOutput(attrs.inputShape, 'float32');
  const DX = backend.typedArrayFromHeap(out) as Float32Array;
  const DY = backend.typedArrayFromHeap(dy) as Float32Array;
  const Wt = backend.typedArrayFromHeap(filter) as Float32Array;
  DX.fill(0);
  depthwiseTaps(info, (xAt, dyAt, wAt) => {
    if (M === 1) {
      for (let c = 0; c < C; c++) DX[xAt + c]! += DY[dyAt + c]! * Wt[wAt + c]!;
      return;
    }
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let m = 0; m < M; m++) sum += DY[dyAt + c * M + m]! * Wt[wAt + c * M + m]!;
      DX[xAt + c]! += sum;
    }
  });
  return out;
}

function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as DepthwiseAttrs & { filterShape: number[] };
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const simd = depthwiseFilterGradSimd(backend, x, dy, info); // multiplier 1, with WebAssembly SIMD
  if (simd != null) return simd;
  const C = info.inChannels;
  const M = info.outChannels / C;
  // Sums over batch and positions: accumulated in doubles, written once.
  const sums = new Float64Array(tf.util.sizeFromShape(attrs.filterShape));
  const X = backend.typedArrayFromHeap(x) as Float32Array;
  const DY = backend.typedArrayFromHeap(dy) as Float32Array;
  depthwiseTaps(info, (xAt, dyAt, wAt) => {
    if (M === 1) {
      for (let c = 0; c < C; c++) sums[wAt + c]! += X[xAt + c]! * DY[dyAt + c]!;
      return;
    }
    for (let c = 0; c < C; c++) {
      const xv = X[xAt + c]!;
      for (let m = 0; m < M; m++) sums[wAt + c * M + m]! += xv * DY[dyAt + c * M + m]!;
    }
  });
  const out = backend.makeOutput(attrs.filterShape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(sums);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Tile: batchNorm's gradient tiles a per-channel vector to the whole activation; tfjs-wasm's Tile computes
// every output element's source index (~2.5 s of a 6 s ResNet-20 training step at batch 64). Here each
// axis is expanded in turn, innermost first, by copying whole contiguous blocks.
function tile(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as { reps: number[] };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return run(backend, tf.Tile, args.inputs, args.attrs);
  const shape = [...x.shape];
  let data: Float32Array | Int32Array = (backend.typedArrayFromHeap(x) as Float32Array | Int32Array).slice();
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const r = reps[axis]!;
    if (r === 1) continue;
    const outer = tf.util.sizeFromShape(shape.slice(0, axis));
    const block = tf.util.sizeFromShape(shape.slice(axis));
    const next = new (data.constructor as Float32ArrayConstructor | Int32ArrayConstructor)(outer * block * r);
    for (let o = 0; o < outer; o++) {
      const row = data.subarray(o * block, (o + 1) * block);
      for (let k = 0; k < r; k++) next.set(row, (o * r + k) * block);
    }
    data = next;
    shape[axis] = shape[axis]! * r;
  }
  const out = backend.makeOutput(shape, x.dtype);
  (backend.typedArrayFromHeap(out) as Float32Array | Int32Array).set(data);
  return out;
}

// ---------------------------------------------------------------------------------------------------------

type KernelFn = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => TensorInfo | TensorInfo[];

const replacements: Array<[string, KernelFn]> = [
  [tf.Conv2D, conv2D],
  [tf.FusedConv2D, fusedConv2D],
  [tf.Conv2DBackpropFilter, conv2DBackpropFilter],
  [tf.Conv2DBackpropInput, conv2DBackpropInput],
  [tf.BatchMatMul, batchMatMul],
  [tf.MaxPoolGrad, maxPoolGrad],
  [tf.Sum, reduceLeadingAxes(tf.Sum)],
  [tf.Mean, reduceLeadingAxes(tf.Mean)],
  [tf.Identity, identity],
  [tf.Cast, cast],
  [tf.DepthwiseConv2dNativeBackpropInput, depthwiseBackpropInput],
  [tf.DepthwiseConv2dNativeBackpropFilter, depthwiseBackpropFilter],
  [tf.Tile, tile],
  [tf.Slice, (args) => slice(args, () => run(args.backend as BackendWasm, tf.Slice, args.inputs, args.attrs))],
  [tf.SplitV, (args) => splitV(args, () => kernel(tf.SplitV).kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo[])],
];

/**
 * Register kdx's wasm kernels (idempotent). Call after `await tf.setBackend('wasm')` or before the wasm
 * backend is first initialised: a replaced kernel's setup is chained so either order works.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  if (tf.findBackendFactory(BACKEND) == null) {
    // Registering first would make the package's own registrations fail ("already registered") and leave
    // the replacements without the originals they delegate to.
    throw new Error('kdx: import @tensorflow/tfjs-backend-wasm before registering kdx wasm kernels');
  }
  for (const [name, fn] of replacements) {
    const existing = tf.getKernel(name, BACKEND);
    if (existing != null) {
      originals.set(name, existing);
      tf.unregisterKernel(name, BACKEND);
    }
    const setupFunc = existing?.setupFunc;
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: fn as unknown as tf.KernelFunc,
      ...(setupFunc != null ? { setupFunc } : {}),
    });
  }
  tf.registerKernel(adamUpdateKernel);
  for (const k of batchNormKernels) tf.registerKernel(k);
  registered = true;
}

/** Whether registerWasmKernels() has run in this process. */
export function wasmKernelsRegistered(): boolean {
  return registered;
}
