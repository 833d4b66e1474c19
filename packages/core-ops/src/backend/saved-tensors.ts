// tfjs keeps every tensor a kernel's gradient needs by cloning it: one Identity kernel and one tape
// node per saved tensor, about a third of the kernels of a search step (2,025 of 5,545 at the quick
// preset's size), each paying the engine's dispatch and bookkeeping. On the backends whose Identity
// only shares the buffer (cpu, and wasm with core-ops' Identity), the same sharing is done here
// without a kernel: the backend's reference count keeps the data alive, the engine tracks the new
// tensor as its clone would have been tracked. The clone's tape node only matters for gradients of
// gradients (it links a saved tensor used by a recorded backward op to the forward value), so while
// more than one tape records, tfjs' own clone runs.
import { tf } from '../tf.js';

/** Backends whose Identity kernel shares the input's buffer through `incRef`. */
const SHARING_BACKENDS = new Set(['cpu', 'wasm']);

interface EngineInternals {
  backendName: string;
  backendInstance: tf.KernelBackend | null;
  state: { gradientDepth: number; tensorInfo: Map<unknown, { backend: tf.KernelBackend }> };
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  makeTensorFromDataId(dataId: unknown, shape: number[], dtype: tf.DataType, backend?: tf.KernelBackend): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
}

let installed = false;

/**
 * Makes the engine share, not clone, the tensors it saves for backprop on the cpu and wasm backends
 * (idempotent). Does nothing where the engine lacks the internals it relies on.
 */
export function shareSavedTensors(): void {
  if (installed) return;
  const proto = Object.getPrototypeOf(tf.engine()) as EngineInternals;
  const original = proto.saveTensorsForBackwardMode;
  if (typeof original !== 'function' || typeof proto.makeTensorFromDataId !== 'function') return;
  installed = true;
  proto.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
    if (this.state.gradientDepth > 1 || !SHARING_BACKENDS.has(this.backendName)) return original.call(this, tensors);
    return tensors.map((t) => {
      const info = this.state.tensorInfo.get(t.dataId);
      // A tensor still held by another backend than the active one: tfjs' clone moves it.
      if (!info || info.backend !== this.backendInstance) return original.call(this, [t])[0]!;
      info.backend.incRef(t.dataId);
      return this.keep(this.makeTensorFromDataId(t.dataId, [...t.shape], t.dtype, info.backend));
    });
  };
}
