// Loads a model kdx trained (a stage directory's model.json + weights.bin, TensorFlow.js's own format)
// with plain @tensorflow/tfjs, in Node or in a browser. In a browser tf.loadLayersModel(url) works by
// itself; in Node only tfjs-node registers a file:// handler, so this reads the two files itself.
// Plain JavaScript with no other import, so Node and browsers load it without a build step.

/**
 * @param {typeof import('@tensorflow/tfjs')} tf  the caller's TensorFlow.js (one copy per program)
 * @param {string} location  a stage directory (Node), or the URL of its model.json (browser or Node)
 * @returns {Promise<import('@tensorflow/tfjs').LayersModel>}
 */
export async function loadModel(tf, location) {
  if (/^https?:\/\//.test(location) || typeof process === 'undefined' || !process.versions?.node) {
    return tf.loadLayersModel(location);
  }
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const dir = location.replace(/^file:\/\//, '').replace(/\/model\.json$/, '');
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const manifest = json.weightsManifest ?? [];
  // Weight groups in order, concatenated: what the http loader does with the same manifest.
  const parts = await Promise.all(manifest.flatMap((group) => group.paths.map((path) => readFile(join(dir, path)))));
  const bytes = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: manifest.flatMap((group) => group.weights),
      weightData: bytes.buffer,
    }),
  );
}
