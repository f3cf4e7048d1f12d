// TensorFlow.js's own model format without tfjs-node: model.json + weights.bin, the files tfjs-node's
// file:// handler writes, tf.loadLayersModel reads in a browser, and lib/load-model.js reads in Node.
import { tf } from '../engine/tf.js';
import type { LayersModel, NamedTensor } from '../engine/tf.js';
import { loadModel } from '../../lib/load-model.js';

export type ModelFiles = { 'model.json': string; 'weights.bin': Uint8Array };

export async function modelToFiles(model: LayersModel): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData as ArrayBuffer;
      files = {
        'model.json': JSON.stringify({
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          generatedBy: 'kdx',
          convertedBy: null,
          weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs }],
        }),
        'weights.bin': new Uint8Array(weightData),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return files!;
}

/** A stage's model from its directory: the same loader users get (lib/load-model.js, see the README). */
export function loadModelDir(dir: string): Promise<LayersModel> {
  return loadModel(tf, dir);
}

/** Named tensors (optimizer state) <-> one binary blob + its specs. */
export async function encodeTensors(tensors: NamedTensor[]): Promise<{ specs: unknown; data: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { specs, data: new Uint8Array(data as ArrayBuffer) };
}

export function decodeTensors(data: Uint8Array, specs: unknown): NamedTensor[] {
  const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const map = tf.io.decodeWeights(buffer as ArrayBuffer, specs as Parameters<typeof tf.io.decodeWeights>[1]);
  return Object.entries(map).map(([name, tensor]) => ({ name, tensor }));
}
