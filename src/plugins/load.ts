// User plugins: modules named in an experiment's `plugins:` list. A plugin's default export receives the
// same registration API the built-ins use:
//
//   export default function (kdx) {
//     kdx.registerLayer('swish', { description: 'x * sigmoid(x)', create: () => new Swish() });
//   }
import { pathToFileURL } from 'node:url';
import { tf } from '../engine/tf.js';
import { registry } from '../registry/index.js';
import type { DatasetFactory, LayerFactory, LossFactory, OptimizerFactory, TransformFactory } from '../registry/types.js';

export interface PluginApi {
  /** The TensorFlow.js instance kdx uses: build layers with this one, never a second copy. */
  tf: typeof tf;
  registerLayer(name: string, factory: LayerFactory): void;
  registerLoss(name: string, factory: LossFactory): void;
  registerOptimizer(name: string, factory: OptimizerFactory): void;
  registerDataset(name: string, factory: DatasetFactory): void;
  registerTransform(name: string, factory: TransformFactory): void;
}

export type Plugin = (api: PluginApi) => void | Promise<void>;

export const pluginApi: PluginApi = {
  tf,
  registerLayer: (name, factory) => registry.layers.register(name, factory),
  registerLoss: (name, factory) => registry.losses.register(name, factory),
  registerOptimizer: (name, factory) => registry.optimizers.register(name, factory),
  registerDataset: (name, factory) => registry.datasets.register(name, factory),
  registerTransform: (name, factory) => registry.transforms.register(name, factory),
};

const loaded = new Map<string, Promise<void>>();

/** Loads a plugin once per process, however many experiments name it. */
export function loadPlugin(absolutePath: string): Promise<void> {
  let loading = loaded.get(absolutePath);
  if (!loading) {
    loading = (async () => {
      const url = pathToFileURL(absolutePath).href;
      // kdx itself may run compiled (dist/), without tsx's loader: a TypeScript plugin goes through tsx.
      const module = /\.[cm]?tsx?$/.test(absolutePath) ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url) : await import(url);
      const plugin = module.default as unknown;
      if (typeof plugin !== 'function') throw new Error('its default export must be a function (kdx) => { ... }');
      await (plugin as Plugin)(pluginApi);
    })();
    loaded.set(absolutePath, loading);
  }
  return loading;
}
