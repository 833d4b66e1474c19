// The wasm backend's own Conv2DBackpropInput is a plain loop (about 4 GFLOP/s). The input gradient
// is a forward conv of the output gradient with the spatially flipped, in/out-swapped filter; a
// strided conv's output gradient is first spread onto the input grid with zeros between samples.
import { tf } from '../../tf.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = forwardConvInfo(tf.Conv2DBackpropInput, attrs.inputShape, filter.shape, attrs, false);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const spread = s.dilate(dy, info.strideHeight, info.strideWidth);
  const swapped = flipAndSwap(s, filter); // [KH, KW, Co, Ci]
  const { x: input, pad } = s.padOrCrop(spread, fullCorrelationPads(info, spread.shape));
  const grad = s.run(
    tf.Conv2D,
    { x: input, filter: swapped },
    {
      strides: [1, 1],
      pad,
      dataFormat: 'NHWC',
      dilations: [1, 1],
    },
  );
  return s.release(grad);
}

/**
 * The filter rotated by 180° with input and output channels swapped, in one pass over the heap (a
 * Reverse and a Transpose kernel cost more than the copy for filters this small).
 */
function flipAndSwap(s: Scratch, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const out = s.alloc([kh, kw, co, ci]);
  const w = s.view(filter);
  const o = s.view(out);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const src = ((kh - 1 - y) * kw + (kw - 1 - x)) * ci * co;
      const dst = (y * kw + x) * co * ci;
      for (let i = 0; i < ci; i++) for (let j = 0; j < co; j++) o[dst + j * ci + i] = w[src + i * co + j]!;
    }
  }
  return out;
}

/**
 * Padding that makes a stride-1 conv over the spread output gradient produce exactly the input's
 * rows: dx[h] sums dy rows h + top - (KH - 1) ... h + top.
 */
export function fullCorrelationPads(
  info: ReturnType<typeof tf.backend_util.computeConv2DInfo>,
  spreadShape: number[],
): { top: number; bottom: number; left: number; right: number } {
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  return {
    top,
    bottom: info.inHeight + info.filterHeight - 1 - top - spreadShape[1]!,
    left,
    right: info.inWidth + info.filterWidth - 1 - left - spreadShape[2]!,
  };
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput,
};
