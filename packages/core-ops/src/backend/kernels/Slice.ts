// The wasm backend's Slice (and SplitV, which calls it) first copies its whole input out of the heap
// (`readSync`) and then copies each innermost row with a typed-array `set`: splitting rfdn's
// activation into four along its channels took longer than the convolutions around it (`quantnas
// bench kernels` times both). These read the heap in place and copy runs of contiguous elements,
// with a plain loop where a run is short.
import { tf } from '../../tf.js';
import { replacedWasmKernel } from './replaced.js';
import type { TensorInfo } from './wasm-util.js';

export type HeapBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): tf.backend_util.TypedArray;
};

/** Below this many elements a run is copied element by element: `set` costs more per call. */
export const SET_MIN = 32;

export function copyRun(src: tf.backend_util.TypedArray, from: number, dst: tf.backend_util.TypedArray, to: number, n: number): void {
  if (n >= SET_MIN) {
    dst.set(src.subarray(from, from + n), to);
  } else {
    for (let i = 0; i < n; i++) dst[to + i] = src[from + i]!;
  }
}

/** dst ← the box x[begin .. begin + size) of a row-major array of `shape`. */
export function copyBox(
  src: tf.backend_util.TypedArray,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  dst: tf.backend_util.TypedArray,
): void {
  const rank = shape.length;
  const strides = rank === 0 ? [] : [...tf.util.computeStrides([...shape]), 1];
  // The trailing axes taken whole, plus the first one that is not, are one contiguous run.
  let d = rank - 1;
  while (d > 0 && size[d] === shape[d]) d--;
  const run = rank === 0 ? 1 : size[d]! * strides[d]!;
  const outer = size.slice(0, Math.max(0, d));
  const count = outer.reduce((a, b) => a * b, 1);
  if (count === 0 || run === 0) return;
  const base = begin.reduce((acc, b, i) => acc + b * strides[i]!, 0);
  const index = new Array<number>(outer.length).fill(0);
  let from = base;
  for (let k = 0, to = 0; k < count; k++, to += run) {
    copyRun(src, from, dst, to, run);
    // Odometer over the outer axes, innermost first.
    for (let a = outer.length - 1; a >= 0; a--) {
      if (++index[a]! < outer[a]!) {
        from += strides[a]!;
        break;
      }
      index[a] = 0;
      from -= (outer[a]! - 1) * strides[a]!;
    }
  }
}

function sliceOf(backend: HeapBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

/** A wasm kernel on input `x` whose string tensors go to the backend's own kernel. */
function numericKernel(kernelName: string, run: (x: TensorInfo, backend: HeapBackend, attrs: tf.NamedAttrMap) => TensorInfo | TensorInfo[]): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs['x'] as TensorInfo;
      if (x.dtype === 'string') return replacedWasmKernel(kernelName).kernelFunc(args);
      return run(x, args.backend as HeapBackend, args.attrs ?? {});
    },
  };
}

export const sliceConfig = numericKernel(tf.Slice, (x, backend, attrs) => {
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  return sliceOf(backend, x, b, s);
});

export const splitVConfig = numericKernel(tf.SplitV, (x, backend, attrs) => {
  const { axis: a, numOrSizeSplits } = attrs as unknown as tf.SplitVAttrs;
  const axis = tf.util.parseAxisParam(a, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((n) => {
    const size = [...x.shape];
    size[axis] = n;
    const part = sliceOf(backend, x, begin, size);
    begin[axis]! += n;
    return part;
  });
});
