import type { tf } from '../../tf.js';

/** The wasm backend's own kernels that core-ops replaced, by name: what a replacement hands back (string tensors). */
export const replacedWasmKernels = new Map<string, tf.KernelConfig>();

export function replacedWasmKernel(name: string): tf.KernelConfig {
  const own = replacedWasmKernels.get(name);
  if (!own) throw new Error(`the wasm backend's own '${name}' kernel was not registered before core-ops replaced it`);
  return own;
}
