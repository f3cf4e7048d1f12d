// A model trained elsewhere, that a stage loads instead of training (`load:`): a tfjs model.json with its
// weight files, or a directory holding one (a previous run's stage directory). Its files' hash enters the
// stage's job key, so every job that depends on it changes when the files do.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tf } from '../engine/tf.js';
import type { LayersModel } from '../engine/tf.js';
import { hashBytes } from '../util/hash.js';
import { ensureBuiltins } from '../plugins/builtin.js';

export interface TrainedModelFiles {
  /** Absolute path of model.json. */
  modelJson: string;
  /** Hash of model.json and every weight file it names. */
  hash: string;
}

/** A problem with the files themselves: missing, unreadable, not a tfjs layers model. */
export class TrainedModelError extends Error {}

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: unknown[] }[];
}

function read(path: string): { json: ModelJson; weights: Buffer[]; text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TrainedModelError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path} (${code})`);
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch {
    throw new TrainedModelError(`${path} is not JSON: a tfjs model.json is expected`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new TrainedModelError(`${path} is not a tfjs layers model (model.json with modelTopology and weightsManifest)`);
  }
  const weights = json.weightsManifest.flatMap((group) =>
    group.paths.map((file) => {
      try {
        return readFileSync(join(dirname(path), file));
      } catch {
        throw new TrainedModelError(`${path} names the weight file ${file}, which is not next to it`);
      }
    }),
  );
  return { json, weights, text };
}

/** The model.json a `load:` path means, and the hash of its files. */
export function locateTrainedModel(path: string): TrainedModelFiles {
  let modelJson = path;
  try {
    if (statSync(path).isDirectory()) modelJson = join(path, 'model.json');
  } catch {
    throw new TrainedModelError(`no such file or directory: ${path}`);
  }
  const { text, weights } = read(modelJson);
  return { modelJson, hash: hashBytes(Buffer.concat([Buffer.from(text), ...weights])) };
}

/** Loads the model (kdx's own layers, such as grouped convolutions, included). */
export async function loadTrainedModel(files: TrainedModelFiles): Promise<LayersModel> {
  await ensureBuiltins();
  const { json, weights } = read(files.modelJson);
  const data = Buffer.concat(weights);
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: json.weightsManifest!.flatMap((group) => group.weights) as Parameters<typeof tf.io.fromMemory>[1],
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      }),
    );
  } catch (error) {
    throw new TrainedModelError(`${files.modelJson} does not load as a tfjs model: ${(error as Error).message.split('\n')[0]}`);
  }
}
