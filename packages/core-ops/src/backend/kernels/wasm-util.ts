// Building blocks of the replacement gradient kernels: they call the wasm backend's own kernels
// (XNNPACK conv, transpose, pad, ...) at kernel level, so no op is taped and every intermediate is
// released with the backend's reference counting.
import { tf } from '../../tf.js';

export type TensorInfo = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Tracks the intermediates of one kernel call and releases them at the end. */
export class Scratch {
  private readonly owned: TensorInfo[] = [];

  constructor(readonly backend: tf.KernelBackend) {}

  /** Runs a wasm kernel by name; its output is released by `release` unless returned. */
  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: Attrs = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, 'wasm');
    if (!kernel) throw new Error(`the wasm backend has no '${kernelName}' kernel`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs }) as TensorInfo;
    this.owned.push(out);
    return out;
  }

  /** A new uninitialised float32 tensor on the wasm heap, released like `run`'s outputs. */
  alloc(shape: number[]): TensorInfo {
    const out = (this.backend as unknown as { makeOutput(shape: number[], dtype: 'float32'): TensorInfo }).makeOutput(shape, 'float32');
    this.owned.push(out);
    return out;
  }

  /** A view of a tensor's data in the wasm heap; valid until the next allocation. */
  view(t: TensorInfo): Float32Array {
    return (this.backend as unknown as { typedArrayFromHeap(t: TensorInfo): Float32Array }).typedArrayFromHeap(t);
  }

  /** Releases every intermediate except `result`, which the engine takes over. */
  release(result: TensorInfo): TensorInfo {
    for (const t of this.owned) if (t !== result) this.backend.disposeData(t.dataId);
    return result;
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /**
   * Makes `x` ([N, H, W, C]) have the given top/bottom/left/right padding: non-negative amounts are
   * returned for the conv to apply, negative ones are cropped here.
   */
  padOrCrop(x: TensorInfo, pads: Pads): { x: TensorInfo; pad: tf.backend_util.ExplicitPadding } {
    const crop = { top: Math.max(0, -pads.top), bottom: Math.max(0, -pads.bottom), left: Math.max(0, -pads.left), right: Math.max(0, -pads.right) };
    let input = x;
    if (crop.top + crop.bottom + crop.left + crop.right > 0) {
      const [n, h, w, c] = x.shape as [number, number, number, number];
      input = this.run(
        'Slice',
        { x },
        {
          begin: [0, crop.top, crop.left, 0],
          size: [n, h - crop.top - crop.bottom, w - crop.left - crop.right, c],
        },
      );
    }
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [Math.max(0, pads.top), Math.max(0, pads.bottom)],
      [Math.max(0, pads.left), Math.max(0, pads.right)],
      [0, 0],
    ];
    return { x: input, pad };
  }

  /**
   * Inserts `sh - 1` zero rows after every row and `sw - 1` zero columns after every column of
   * `x` ([N, H, W, C]), giving [N, H·sh, W·sw, C]: the output gradient of a strided conv spread
   * back onto the input grid. The trailing zeros act as extra bottom/right padding.
   */
  dilate(x: TensorInfo, sh: number, sw: number): TensorInfo {
    if (sh === 1 && sw === 1) return x;
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const spread = this.reshape(x, [n, h, 1, w, 1, c]);
    const padded = this.run(
      'PadV2',
      { x: spread },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, sh - 1],
          [0, 0],
          [0, sw - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    return this.reshape(padded, [n, h * sh, w * sw, c]);
  }
}

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/** The geometry of the forward conv whose gradient is asked for; rejects what the kernels cannot do. */
export function forwardConvInfo(
  kernelName: string,
  xShape: number[],
  filterShape: number[],
  attrs: { strides: number | [number, number]; pad: PadAttr; dimRoundingMode?: Rounding; dilations?: number | [number, number]; dataFormat?: string },
  depthwise: boolean,
): Conv2DInfo {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, got '${attrs.dataFormat}'`);
  }
  const dilations = attrs.dilations ?? 1;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (dh !== 1 || dw !== 1) {
    throw new Error(`${kernelName} on wasm supports dilation 1 only, got [${dh}, ${dw}]`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}
