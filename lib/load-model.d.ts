import type * as tf from '@tensorflow/tfjs';

/** Loads a kdx stage's model: a stage directory (Node) or the URL of its model.json (browser or Node). */
export function loadModel(tfjs: typeof tf, location: string): Promise<tf.LayersModel>;
