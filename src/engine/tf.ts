// The one place kdx imports TensorFlow.js from. Two copies of tfjs-core would mean two engines and a
// backend registered in the wrong one, so every module takes `tf` from here.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type { Tensor, Scalar, Rank, NamedTensorMap, LayersModel } from '@tensorflow/tfjs';
export type { NamedTensor } from '../registry/types.js';

// Production mode: no per-op debug checks, and no console banner recommending tfjs-node (kdx chooses the
// backend itself and reports it).
tf.enableProdMode();
