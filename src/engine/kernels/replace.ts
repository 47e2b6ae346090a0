// Swaps a registered tfjs kernel for a wrapper around it, once per process.
import * as tf from '@tensorflow/tfjs-core';

const replaced = new Set<string>();

/**
 * Registers `make(original)` as kernel `name` of `backend`, where `original` is the kernel it
 * replaces (for the cases the replacement leaves to it). A second call for the same kernel is a no-op.
 */
export function replaceKernel(name: string, backend: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const key = `${backend}/${name}`;
  if (replaced.has(key)) return;
  const config = tf.getKernel(name, backend);
  if (!config) throw new Error(`no ${name} kernel registered for the ${backend} backend`);
  tf.unregisterKernel(name, backend);
  tf.registerKernel({ ...config, kernelFunc: make(config.kernelFunc) });
  replaced.add(key);
}
