// Registers kdx's built-in layers, losses, optimizers, datasets and transforms, through the same API a
// user's plugin uses.
import { pluginApi } from './load.js';
import { builtinLayers } from './layers.js';
import { builtinLosses } from './losses.js';
import { builtinOptimizers } from './optimizers.js';
import { builtinDatasets } from './datasets/index.js';
import { builtinTransforms } from './transforms.js';

let registered = false;

export async function ensureBuiltins(): Promise<void> {
  if (registered) return;
  registered = true;
  for (const [name, factory] of Object.entries(builtinLayers)) pluginApi.registerLayer(name, factory);
  for (const [name, factory] of Object.entries(builtinLosses)) pluginApi.registerLoss(name, factory);
  for (const [name, factory] of Object.entries(builtinOptimizers)) pluginApi.registerOptimizer(name, factory);
  for (const [name, factory] of Object.entries(builtinDatasets)) pluginApi.registerDataset(name, factory);
  for (const [name, factory] of Object.entries(builtinTransforms)) pluginApi.registerTransform(name, factory);
}
