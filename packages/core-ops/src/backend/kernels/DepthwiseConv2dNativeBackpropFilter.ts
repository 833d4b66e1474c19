// The wasm backend has no DepthwiseConv2dNativeBackpropFilter. Two ways, chosen by the shape:
// - with a channel multiplier m at least the channel count c (the bicubic skip: 3 channels × 16), as
//   the filter gradient of the equivalent dense conv (c → c·m channels, zero outside the diagonal
//   blocks), whose diagonal blocks are the answer: c× the MACs, but through the dense filter
//   gradient's GEMM, several times faster than the depthwise conv below at 3 × 16 (`quantnas
//   bench kernels`);
// - otherwise, as for Conv2DBackpropFilter, a conv with the output gradient as filter, here a
//   depthwise one: batch and channels are folded into N·C channels of a single image, each
//   correlated with its own output-gradient plane(s), and the batch is summed at the end.
import { tf } from '../../tf.js';
import { denseFilterGradient } from './Conv2DBackpropFilter.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

export const depthwiseFilterGradientTuning = {
  /** 'auto': through the dense conv where the multiplier is at least the channel count. */
  path: 'auto' as 'auto' | 'dense' | 'folded',
};

function depthwiseConv2dNativeBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = forwardConvInfo(tf.DepthwiseConv2dNativeBackpropFilter, x.shape, attrs.filterShape, attrs, true);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const [kh, kw, c, m] = attrs.filterShape;
  const { path } = depthwiseFilterGradientTuning;
  if (path === 'dense' || (path === 'auto' && c <= m)) {
    const dense = forwardConvInfo(tf.DepthwiseConv2dNativeBackpropFilter, x.shape, [kh, kw, c, c * m], attrs, false);
    // The GEMM: faster than the swapped conv at these few input channels, where the dense conv is wide (c·m outputs).
    return s.release(diagonalBlocks(s, denseFilterGradient(s, x, dy, dense, true), c, m));
  }
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow, batchSize: n } = info;
  const folded = s.reshape(s.transpose(x, [1, 2, 0, 3]), [1, info.inHeight, info.inWidth, n * c]);
  const dy5 = s.reshape(dy, [n, oh, ow, c, m]);
  const filter = s.reshape(s.transpose(dy5, [1, 2, 0, 3, 4]), [oh, ow, n * c, m]);
  const { x: input, pad } = s.padOrCrop(folded, {
    top: info.padInfo.top,
    bottom: kh + sh * (oh - 1) - info.inHeight - info.padInfo.top,
    left: info.padInfo.left,
    right: kw + sw * (ow - 1) - info.inWidth - info.padInfo.left,
  });
  const perImage = s.run(
    tf.DepthwiseConv2dNative,
    { x: input, filter },
    {
      strides: [1, 1],
      pad,
      dilations: [sh, sw],
    },
  ); // [1, KH, KW, N·C·M]
  const summed = s.run(tf.Sum, { x: s.reshape(perImage, [kh, kw, n, c * m]) }, { axis: [2], keepDims: false });
  return s.release(s.reshape(summed, [kh, kw, c, m]));
}

/** dW[a, b, i, k] = dense[a, b, i, i·m + k]: the depthwise filter inside a dense [KH, KW, C, C·M] one. */
function diagonalBlocks(s: Scratch, dense: TensorInfo, c: number, m: number): TensorInfo {
  const [kh, kw] = dense.shape as [number, number, number, number];
  const out = s.alloc([kh, kw, c, m]);
  const src = s.view(dense);
  const dst = s.view(out);
  for (let tap = 0; tap < kh * kw; tap++) {
    for (let i = 0; i < c; i++) dst.set(src.subarray((tap * c + i) * c * m + i * m, (tap * c + i) * c * m + (i + 1) * m), (tap * c + i) * m);
  }
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter,
};
