// The one place kdx imports TensorFlow.js from. Two copies of tfjs-core would mean two engines and a
// backend registered in the wrong one, so every module takes `tf` from here.
//
// Loaded with require: @tensorflow/tfjs is CommonJS, and an ESM import makes Node scan its large bundles
// for named exports, ~0.4-1 s on every kdx start (and every worker). It is the same module either way.
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';

const tf = createRequire(import.meta.url)('@tensorflow/tfjs') as typeof TF;

// `tf.Tensor` and friends in type positions: a namespace of types merged with the value above.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace tf {
  export type Rank = TF.Rank;
  export type Tensor<R extends TF.Rank = TF.Rank> = TF.Tensor<R>;
  export type Tensor1D = TF.Tensor1D;
  export type Tensor2D = TF.Tensor2D;
  export type Tensor4D = TF.Tensor4D;
  export type Scalar = TF.Scalar;
  export type Variable<R extends TF.Rank = TF.Rank> = TF.Variable<R>;
  export type TensorInfo = TF.TensorInfo;
  export type NamedTensorMap = TF.NamedTensorMap;
  export type NamedAttrMap = TF.NamedAttrMap;
  export type NamedTensorInfoMap = TF.NamedTensorInfoMap;
  export type KernelFunc = TF.KernelFunc;
  export type KernelConfig = TF.KernelConfig;
  export type Optimizer = TF.Optimizer;
  export type LayersModel = TF.LayersModel;
  export type Sequential = TF.Sequential;
  export type SumAttrs = TF.SumAttrs;
  export type CastAttrs = TF.CastAttrs;
  export type Conv2DAttrs = TF.Conv2DAttrs;
  export type Conv2DBackpropFilterAttrs = TF.Conv2DBackpropFilterAttrs;
  export type Conv2DBackpropInputAttrs = TF.Conv2DBackpropInputAttrs;
  export type MaxPoolGradAttrs = TF.MaxPoolGradAttrs;
  export type BatchMatMulAttrs = TF.BatchMatMulAttrs;
  export type SliceAttrs = TF.SliceAttrs;
  export type SplitVAttrs = TF.SplitVAttrs;
  export namespace backend_util {
    export type Conv2DInfo = TF.backend_util.Conv2DInfo;
  }
}

export { tf };
export type { Tensor, Scalar, Rank, NamedTensorMap, LayersModel } from '@tensorflow/tfjs';
export type { NamedTensor } from '../registry/types.js';

// Production mode: no per-op debug checks, and no console banner recommending tfjs-node (kdx chooses the
// backend itself and reports it).
tf.enableProdMode();
