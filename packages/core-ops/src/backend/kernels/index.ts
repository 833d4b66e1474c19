import { tf } from '../../tf.js';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.js';
import { identityConfig } from './Identity.js';
import { replacedWasmKernels } from './replaced.js';
import { sliceConfig, splitVConfig } from './Slice.js';
import { tileConfig } from './Tile.js';

/** The wasm kernels core-ops replaces or adds so that conv nets train on wasm at XNNPACK speed, and the copies that were slower than the convs. */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  identityConfig,
  sliceConfig,
  splitVConfig,
  tileConfig,
];

/** Registers them, replacing the backend's own versions (idempotent). */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing === config) continue;
    // Unregister first: registerKernel would replace it too, but with a console warning.
    if (existing) {
      if (!replacedWasmKernels.has(config.kernelName)) replacedWasmKernels.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}
