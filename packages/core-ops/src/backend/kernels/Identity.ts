// tfjs clones every tensor it saves for backprop; the wasm backend's Identity copies the buffer, which
// costs a few percent of a training step. tfjs buffers are never written after creation, so the clone
// can share the buffer through the backend's reference count, as tfjs-backend-cpu's Identity does.
import { tf } from '../../tf.js';
import type { TensorInfo } from './wasm-util.js';

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const x = args.inputs['x'] as TensorInfo;
  (args.backend as tf.KernelBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity,
};
