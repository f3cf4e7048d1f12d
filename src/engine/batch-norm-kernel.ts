// batchNorm's training passes (plugins/channel-layers.ts BatchNorm) as wasm kernels: the batch statistics in
// two reads of x, the normalisation in one, the gradient's sums in one read of dy and x, the input gradient in
// one more; where the layer's operations (sub, mul, square, mean, sum, div, ...) each streamed whole
// activations through memory, a quarter of a ResNet-20 training step. Each computes exactly what those
// operations compute on wasm: the same float32 roundings per element (channel-simd.ts), the sums in doubles in
// kdx's column-sum order (the Sum and Mean kernels of wasm-kernels.ts), so the same bytes.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { add, channelPasses, columnSums, mul, stream, sub, vector } from './channel-simd.js';
import { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;

/** x [..., C] -> [mean, variance] over every axis but the last: tf.moments. */
export const BATCH_NORM_MOMENTS = 'KdxBatchNormMoments';
/** {x, mean, rstd, gamma, beta} -> (x - mean) * rstd * gamma + beta. */
export const BATCH_NORM_NORMALIZE = 'KdxBatchNormNormalize';
/** {dy, x, mean, rstd} -> [sum dy, sum dy * xhat] over every axis but the last, xhat = (x - mean) * rstd. */
export const BATCH_NORM_GRAD_SUMS = 'KdxBatchNormGradSums';
/** {dy, x, mean, rstd, scale, sumDy, sumDyXhat}, attr count -> ((dy - sumDy/count) - xhat * (sumDyXhat/count)) * scale. */
export const BATCH_NORM_GRAD_INPUT = 'KdxBatchNormGradInput';

// Vectors by index: mean, rstd, then the pass's own.
const xhat = (x: number) => mul(sub(stream(x), vector(0)), vector(1));
const deviation = sub(stream(0), vector(0));
const passes = channelPasses({
  normalize: { streams: 1, vectors: 4, value: add(mul(xhat(0), vector(2)), vector(3)) }, // vectors: mean, rstd, gamma, beta
  // streams dy, x; vectors mean, rstd, mean dy, mean dy*xhat, scale
  gradInput: { streams: 2, vectors: 5, value: mul(sub(sub(stream(0), vector(2)), mul(xhat(1), vector(3))), vector(4)) },
}, {
  squaredDeviation: { streams: 1, vectors: 1, terms: [mul(deviation, deviation)] },
  gradSums: { streams: 2, vectors: 2, terms: [stream(0), mul(stream(0), xhat(1))] }, // streams dy, x
});

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const channels = (t: TensorInfo) => t.shape[t.shape.length - 1]!;
const rowsOf = (t: TensorInfo) => tf.util.sizeFromShape(t.shape) / channels(t);
/** A [C] tensor's values, copied off the heap (which a later allocation may move). */
const values = (backend: BackendWasm, t: TensorInfo) => (backend.typedArrayFromHeap(t) as Float32Array).slice();

/** [C] float32 tensors of float64 sums, each divided by `divisor` first (rounded once, as kdx's Mean). */
function vectorsOf(backend: BackendWasm, sums: Float64Array[], divisor = 1): TensorInfo[] {
  return sums.map((s) => {
    const t = backend.makeOutput([s.length], 'float32');
    const out = backend.typedArrayFromHeap(t) as Float32Array;
    for (let c = 0; c < s.length; c++) out[c] = s[c]! / divisor;
    return t;
  });
}

function moments({ inputs, backend }: KernelArgs): TensorInfo[] {
  const b = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const C = channels(x);
  const rows = rowsOf(x);
  const [mean] = vectorsOf(b, [columnSums(b, x, rows, C)], rows);
  const [variance] = vectorsOf(b, passes.sums(b, 'squaredDeviation', C, [x], [values(b, mean!)]), rows);
  return [mean!, variance!];
}

function normalize({ inputs, backend }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { x, mean, rstd, gamma, beta } = inputs as Record<'x' | 'mean' | 'rstd' | 'gamma' | 'beta', TensorInfo>;
  return passes.map(b, 'normalize', x.shape, [x], [mean!, rstd!, gamma!, beta!].map((t) => values(b, t)));
}

function gradSums({ inputs, backend }: KernelArgs): TensorInfo[] {
  const b = backend as BackendWasm;
  const { dy, x, mean, rstd } = inputs as Record<'dy' | 'x' | 'mean' | 'rstd', TensorInfo>;
  return vectorsOf(b, passes.sums(b, 'gradSums', channels(x), [dy!, x!], [values(b, mean!), values(b, rstd!)]));
}

function gradInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { dy, x, mean, rstd, scale, sumDy, sumDyXhat } = inputs as Record<'dy' | 'x' | 'mean' | 'rstd' | 'scale' | 'sumDy' | 'sumDyXhat', TensorInfo>;
  const count = Math.fround((attrs as unknown as { count: number }).count);
  // As tf.div(sum, count): one float32 division.
  const perCount = (t: TensorInfo) => values(b, t).map((v) => v / count);
  return passes.map(b, 'gradInput', x.shape, [dy!, x!], [values(b, mean!), values(b, rstd!), perCount(sumDy!), perCount(sumDyXhat!), values(b, scale!)]);
}

const kernelFuncs: Array<[string, (args: KernelArgs) => TensorInfo | TensorInfo[]]> = [
  [BATCH_NORM_MOMENTS, moments],
  [BATCH_NORM_NORMALIZE, normalize],
  [BATCH_NORM_GRAD_SUMS, gradSums],
  [BATCH_NORM_GRAD_INPUT, gradInput],
];

export const batchNormKernels: tf.KernelConfig[] = kernelFuncs.map(([kernelName, f]) => ({
  kernelName, backendName: 'wasm', kernelFunc: f as unknown as tf.KernelFunc,
}));

let fusedEnabled = true;

/** Tests turn the fused kernels off to compare them with the operations they replace. */
export function setFusedBatchNormEnabled(on: boolean): void {
  fusedEnabled = on;
}

/** Whether the current backend has the fused batchNorm kernels (else the layer runs the operations). */
export function hasFusedBatchNorm(): boolean {
  return fusedEnabled && tf.getKernel(BATCH_NORM_NORMALIZE, tf.getBackend()) != null;
}
