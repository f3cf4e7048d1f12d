// Slice and SplitV on wasm as copies of contiguous runs: tfjs-wasm's took ~12 ns per element for a slice of
// the channels (ShuffleNetV2's split, and SplitV in the gradient of every concat: ~600 ms of a 1.8 s
// training step). A slice of [..., C] keeps whole runs of the innermost axes it does not cut; each run is
// one loop over the heap.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

import { tf } from './tf.js';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Heap = Float32Array | Int32Array | Uint8Array;

/** x[begin : begin + size] (begin and size given for every axis), or null where the built-in must (strings, scalars). */
export function sliceOnHeap(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo | null {
  const shape = x.shape;
  const rank = shape.length;
  if (x.dtype === 'string' || x.dtype === 'complex64' || rank === 0) return null;
  const out = backend.makeOutput(size, x.dtype);
  // The innermost axis the slice cuts: everything inside it is copied whole, in runs.
  let cut = rank - 1;
  while (cut > 0 && begin[cut] === 0 && size[cut] === shape[cut]) cut--;
  const strides = tf.util.computeStrides(shape);
  const inner = cut + 1 < rank ? strides[cut]! : 1;
  const run = size[cut]! * inner;
  const runs = tf.util.sizeFromShape(size.slice(0, cut));
  const src = backend.typedArrayFromHeap(x) as Heap;
  const dst = backend.typedArrayFromHeap(out) as Heap;
  const index = new Array<number>(cut).fill(0); // the run's position among the outer axes of `size`
  for (let r = 0, d = 0; r < runs; r++) {
    let s = begin[cut]! * inner;
    for (let a = 0; a < cut; a++) s += (begin[a]! + index[a]!) * strides[a]!;
    for (let e = s + run; s < e;) dst[d++] = src[s++]!;
    for (let a = cut - 1; a >= 0; a--) { // next outer index, odometer-wise
      if (++index[a]! < size[a]!) break;
      index[a] = 0;
    }
  }
  return out;
}

export function slice(args: KernelArgs, builtin: () => TensorInfo): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin, attrs.size);
  return sliceOnHeap(args.backend as BackendWasm, x, begin, size) ?? builtin();
}

export function splitV(args: KernelArgs, builtin: () => TensorInfo[]): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return builtin();
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, $axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[$axis] = s;
    const part = sliceOnHeap(args.backend as BackendWasm, x, begin, size)!;
    begin[$axis]! += s;
    return part;
  });
}
