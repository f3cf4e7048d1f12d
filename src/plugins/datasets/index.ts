// The built-in datasets, by the names an experiment file uses.
import type { DatasetFactory } from '../../registry/types.js';
import { cifar10, cifar100 } from './cifar10.js';
import { fashionMnist, mnist } from './mnist.js';
import { synthetic } from './synthetic.js';

export { cifar10, cifar100 } from './cifar10.js';
export { fashionMnist, mnist } from './mnist.js';
export { synthetic } from './synthetic.js';

export const builtinDatasets: Record<string, DatasetFactory> = {
  cifar10,
  cifar100,
  mnist,
  'fashion-mnist': fashionMnist,
  synthetic,
};
