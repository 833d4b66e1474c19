// The wasm backend has no DepthwiseConv2dNativeBackpropFilter. As for Conv2DBackpropFilter the
// gradient is a conv with the output gradient as filter, here a depthwise one: batch and channels
// are folded into N·C channels of a single image, each correlated with its own output-gradient
// plane(s), and the batch is summed at the end.
import { tf } from '../../tf.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

function depthwiseConv2dNativeBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = forwardConvInfo(tf.DepthwiseConv2dNativeBackpropFilter, x.shape, attrs.filterShape, attrs, true);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const [kh, kw, c, m] = attrs.filterShape;
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

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter,
};
