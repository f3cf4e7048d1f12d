// The registries kdx looks names up in. Built-ins fill them on first use (src/plugins/builtin.ts);
// user plugins add to the same maps (src/plugins/load.ts).
import { Registry } from './registry.js';
import type { DatasetFactory, LayerFactory, LossFactory, OptimizerFactory, TransformFactory } from './types.js';

export const registry = {
  layers: new Registry<LayerFactory>('layer'),
  losses: new Registry<LossFactory>('loss'),
  optimizers: new Registry<OptimizerFactory>('optimizer'),
  datasets: new Registry<DatasetFactory>('dataset'),
  transforms: new Registry<TransformFactory>('transform'),
};

export type Registries = typeof registry;
