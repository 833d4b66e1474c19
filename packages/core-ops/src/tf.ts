// The one tfjs instance of the project. Packages above core-ops import `tf` from here rather than
// depending on tfjs themselves, so the tree holds a single @tensorflow/tfjs-core and every kernel
// registration (core-ops replaces some wasm kernels) applies to the tensors they create.
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor4D = tf.Tensor4D;
