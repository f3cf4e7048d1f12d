// The input gradient of a strided convolution (Conv2DBackpropInput, DepthwiseConv2dNativeBackpropInput) by
// output phase, without the zero-dilated dy.
//
//   dx[b,i,j,:] = sum over (oh,kh), (ow,kw) with oh*sh + kh - padTop = i, ow*sw + kw - padLeft = j of dy[b,oh,ow,:] W[kh,kw]
//
// Rows i = pi + sh*t of one phase pi < sh receive only the taps kh = kh0, kh0 + sh, ... with
// kh0 = (pi + padTop) mod sh, from oh = t + (pi + padTop - kh) / sh: a stride-1 correlation of dy with that
// sub-filter, taps in reverse order. Each of the sh*sw phases is one stride-1 convolution on XNNPACK, its
// result copied into every sh-th row and sw-th column of dx. The multiply-adds are those of the forward
// convolution; correlating the dilated dy with the whole filter (what this replaces) did sh*sw times as many,
// three in four of them with zeros for stride 2. A 1x1 stride-2 layer (a ResNet shortcut) becomes one matrix
// product for the even pixels and zeros elsewhere.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import type { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;

/** One axis of one phase: which taps it takes (first, count; every stride-th) and how dy is padded for them. */
interface PhaseAxis {
  /** First dx row (column) of the phase; it covers phase, phase + stride, ... */
  phase: number;
  /** dx rows (columns) in the phase. */
  size: number;
  firstTap: number;
  taps: number;
  padBefore: number;
  padAfter: number;
}

/** The phases of one axis, or null where some phase needs dy cropped (paddings beyond the kernel: rare). */
function phaseAxes(inSize: number, outSize: number, kernel: number, stride: number, pad: number): PhaseAxis[] | null {
  const axes: PhaseAxis[] = [];
  for (let phase = 0; phase < Math.min(stride, inSize); phase++) {
    const size = Math.ceil((inSize - phase) / stride);
    const firstTap = (phase + pad) % stride;
    const taps = firstTap < kernel ? Math.ceil((kernel - firstTap) / stride) : 0;
    const offset = (phase + pad - firstTap) / stride; // dy row of tap firstTap for dx row `phase`
    const padBefore = taps - 1 - offset;
    const padAfter = size + offset - outSize;
    if (taps > 0 && (padBefore < 0 || padAfter < 0)) return null;
    axes.push({ phase, size, firstTap, taps, padBefore, padAfter });
  }
  return axes;
}

export interface Phase {
  rows: PhaseAxis;
  cols: PhaseAxis;
  /** The filter taps of the sub-filter, row-major, in the order the stride-1 correlation applies them. */
  taps: Array<[kh: number, kw: number]>;
  /** dy padding for the stride-1 correlation: [[0,0],[top,bottom],[left,right],[0,0]]. */
  pad: [[number, number], [number, number], [number, number], [number, number]];
}

/**
 * The sh*sw phases of a strided convolution's input gradient (`info` as tfjs computes it for the forward
 * convolution), or null where this decomposition does not apply (stride 1, dilation, odd paddings).
 */
export function inputGradPhases(info: tf.backend_util.Conv2DInfo): Phase[] | null {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inHeight, inWidth, outHeight, outWidth } = info;
  if ((sh === 1 && sw === 1) || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const rows = phaseAxes(inHeight, outHeight, kh, sh, info.padInfo.top);
  const cols = phaseAxes(inWidth, outWidth, kw, sw, info.padInfo.left);
  if (rows == null || cols == null) return null;
  return rows.flatMap((r) => cols.map((c) => {
    const taps: Array<[number, number]> = [];
    // Tap m of the correlation is kernel row firstTap + stride*(taps-1-m): dy rows ascend as kernel rows descend.
    for (let m = 0; m < r.taps; m++) {
      for (let n = 0; n < c.taps; n++) taps.push([r.firstTap + sh * (r.taps - 1 - m), c.firstTap + sw * (c.taps - 1 - n)]);
    }
    return { rows: r, cols: c, taps, pad: [[0, 0], [r.padBefore, r.padAfter], [c.padBefore, c.padAfter], [0, 0]] };
  }));
}

/** dx of `info` from one stride-1 correlation per phase: `correlate(phase)` gives [B, rows.size, cols.size, C]. */
export function inputGradByPhase(backend: BackendWasm, info: tf.backend_util.Conv2DInfo, phases: Phase[],
  correlate: (phase: Phase) => TensorInfo): TensorInfo {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, strideHeight: sh, strideWidth: sw } = info;
  const dx = backend.makeOutput([B, H, W, C], 'float32');
  for (const p of phases) {
    // Phases without taps (a 1x1 stride-2 kernel's odd pixels) receive zeros.
    const part = p.taps.length > 0 ? correlate(p) : null;
    // Views after the allocation: a heap growth detaches older ones.
    const src = part == null ? null : backend.typedArrayFromHeap(part) as Float32Array;
    const dst = backend.typedArrayFromHeap(dx) as Float32Array;
    const { size: rows, phase: i0 } = p.rows;
    const { size: cols, phase: j0 } = p.cols;
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < rows; t++) {
        let d = ((b * H + i0 + sh * t) * W + j0) * C;
        for (let u = 0; u < cols; u++, d += (sw - 1) * C) {
          if (src == null) {
            dst.fill(0, d, d + C);
            d += C;
          } else for (let c = 0; c < C; c++) dst[d++] = src[s++]!;
        }
      }
    }
    if (part != null) backend.disposeData(part.dataId);
  }
  return dx;
}

/**
 * The sub-filter of a phase from a filter [KH, KW, A, Z] laid out as the correlation wants it (for a
 * convolution, the filter with in/out channels swapped: [KH, KW, CO, CI]): [taps rows, taps cols, A, Z].
 */
export function phaseFilter(backend: BackendWasm, filter: TensorInfo, phase: Phase): TensorInfo {
  const [, KW, A, Z] = filter.shape as [number, number, number, number];
  const block = A * Z;
  const out = backend.makeOutput([phase.rows.taps, phase.cols.taps, A, Z], 'float32');
  const src = backend.typedArrayFromHeap(filter) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  phase.taps.forEach(([kh, kw], k) => dst.set(src.subarray((kh * KW + kw) * block, (kh * KW + kw + 1) * block), k * block));
  return out;
}
