// kdx's kernels for tfjs-backend-webgpu: where it lacks one kdx needs, or computes one wrongly.
import { tf } from './tf.js';

const KERNELS: tf.KernelConfig[] = [];

let registered = false;

export function registerWebgpuKernels(): void {
  if (registered) return;
  for (const config of KERNELS) {
    if (tf.getKernel(config.kernelName, 'webgpu') != null) tf.unregisterKernel(config.kernelName, 'webgpu');
    tf.registerKernel(config);
  }
  registered = true;
}
