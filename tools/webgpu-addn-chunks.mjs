// Preload (`node --import ./tools/webgpu-addn-chunks.mjs ...`) for the WebGPU checks of
// tools/gpu-search-step.sh.
//
// tfjs-backend-webgpu 4.22 compiles AddN into one shader that binds every input as its own storage
// buffer, and it creates its device without raising `maxStorageBuffersPerShaderStage` (8 by
// default; lavapipe's adapter offers 16). The search step sums far more tensors than that in one
// tf.addN (the gradient norm over every weight, the BitOps and entropy sums over the blocks), so on
// webgpu those pipelines fail validation: Dawn prints "The number of storage buffers (N) in the
// Compute stage exceeds the maximum per-stage limit (8)" and the result is garbage, not an error.
//
// This preload re-registers the webgpu AddN so that it sums at most (limit − 1) inputs per shader,
// left to right, when the backend is selected. The lasting fix belongs to @quantnas/core-ops, next
// to the wasm kernels it already replaces. Set QUANTNAS_WEBGPU_ADDN=raw to leave AddN alone.
import * as tf from '@tensorflow/tfjs-core';

const engine = tf.engine();
const setBackend = engine.setBackend.bind(engine);
let patched = false;

function patchAddN() {
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) return;
  patched = true;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    ...original,
    kernelFunc(args) {
      const inputs = args.inputs;
      const limit = args.backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8;
      const chunk = Math.max(2, limit - 1); // the output takes a binding too
      if (inputs.length <= chunk) return original.kernelFunc(args);
      let sum = original.kernelFunc({ ...args, inputs: inputs.slice(0, chunk) });
      for (let start = chunk; start < inputs.length; start += chunk - 1) {
        const next = original.kernelFunc({ ...args, inputs: [sum, ...inputs.slice(start, start + chunk - 1)] });
        args.backend.disposeData(sum.dataId);
        sum = next;
      }
      return sum;
    },
  });
  process.emitWarning('tfjs-backend-webgpu AddN: inputs summed in chunks that fit maxStorageBuffersPerShaderStage', { code: 'QUANTNAS_ADDN_CHUNKS' });
}

if (process.env.QUANTNAS_WEBGPU_ADDN !== 'raw') {
  engine.setBackend = async (name) => {
    if (name === 'webgpu' && !patched) patchAddN();
    return setBackend(name);
  };
}
