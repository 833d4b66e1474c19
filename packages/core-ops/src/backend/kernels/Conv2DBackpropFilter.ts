// The wasm backend has no Conv2DBackpropFilter. The filter gradient is a correlation of the input
// with the output gradient, i.e. a forward conv with the roles swapped: the input's channels become
// the batch, the batch becomes the channels, and the transposed output gradient is the filter
// (dilated by the stride). That runs on XNNPACK like any forward conv.
import { tf } from '../../tf.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: {}; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = forwardConvInfo(tf.Conv2DBackpropFilter, x.shape, attrs.filterShape, attrs, false);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow } = info;
  const xt = s.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyt = s.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, Co]
  // Output kh needs input rows kh + sh·oh - top: the padded input must span kh + sh·(OH - 1) rows.
  const { x: input, pad } = s.padOrCrop(xt, {
    top: info.padInfo.top,
    bottom: kh + sh * (oh - 1) - info.inHeight - info.padInfo.top,
    left: info.padInfo.left,
    right: kw + sw * (ow - 1) - info.inWidth - info.padInfo.left,
  });
  const grad = s.run(tf.Conv2D, { x: input, filter: dyt }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations: [sh, sw],
  }); // [Ci, KH, KW, Co]
  return s.release(s.transpose(grad, [1, 2, 0, 3]));
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
