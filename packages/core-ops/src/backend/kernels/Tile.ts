// The wasm backend's Tile walks the output one element at a time through a generic index
// computation, slower than a convolution at rfdn's input expansion (an image repeated four times
// along its channels; `quantnas bench kernels` times both). This one copies whole innermost rows.
import { tf } from '../../tf.js';
import { copyRun, SET_MIN, type HeapBackend } from './Slice.js';
import type { TensorInfo } from './wasm-util.js';

/** dst ← `src` (row-major, of `shape`) repeated reps[a] times along each axis a. */
export function tileInto(src: tf.backend_util.TypedArray, shape: readonly number[], reps: readonly number[], dst: tf.backend_util.TypedArray): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0]!;
    return;
  }
  const strides = [...tf.util.computeStrides([...shape]), 1];
  const row = shape[rank - 1]!;
  const rowReps = reps[rank - 1]!;
  const outer = shape.slice(0, -1).map((n, a) => n * reps[a]!);
  const count = outer.reduce((a, b) => a * b, 1);
  if (count === 0 || row === 0 || rowReps === 0) return;
  const index = new Array<number>(outer.length).fill(0);
  let from = 0;
  for (let k = 0, to = 0; k < count; k++) {
    if (row >= SET_MIN) {
      for (let r = 0; r < rowReps; r++, to += row) copyRun(src, from, dst, to, row);
    } else {
      // Short rows (a pixel's channels): no call per row.
      for (let r = 0; r < rowReps; r++) for (let i = 0; i < row; i++) dst[to++] = src[from + i]!;
    }
    // Odometer over the output's outer axes; the source index wraps at the input's extent.
    for (let a = outer.length - 1; a >= 0; a--) {
      const i = ++index[a]!;
      if (i < outer[a]!) {
        from += i % shape[a]! === 0 ? -(shape[a]! - 1) * strides[a]! : strides[a]!;
        break;
      }
      index[a] = 0;
      from -= ((i - 1) % shape[a]!) * strides[a]!;
    }
  }
}

export const tileConfig: tf.KernelConfig = {
  kernelName: tf.Tile,
  backendName: 'wasm',
  kernelFunc: (args) => {
    const x = args.inputs['x'] as TensorInfo;
    // The backend's own Tile aborts its wasm module on strings.
    if (x.dtype === 'string') throw new Error('Tile of a string tensor is not supported on the wasm backend; use the cpu backend');
    const { reps } = args.attrs as unknown as tf.TileAttrs;
    const backend = args.backend as HeapBackend;
    const out = backend.makeOutput(
      x.shape.map((n, a) => n * reps[a]!),
      x.dtype,
    );
    tileInto(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
    return out;
  },
};
