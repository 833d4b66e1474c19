// The wasm backend has no DepthwiseConv2dNativeBackpropInput. As for Conv2DBackpropInput it is a
// forward (depthwise) conv of the spread output gradient with the flipped filter; with a channel
// multiplier M each of the C·M gradient planes is convolved alone and the M planes of a channel
// are summed.
import { tf } from '../../tf.js';
import { fullCorrelationPads } from './Conv2DBackpropInput.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

function depthwiseConv2dNativeBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = forwardConvInfo(tf.DepthwiseConv2dNativeBackpropInput, attrs.inputShape, filter.shape, attrs, true);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const [kh, kw, c, m] = filter.shape as [number, number, number, number];
  const [n, h, w] = attrs.inputShape;
  const spread = s.dilate(dy, info.strideHeight, info.strideWidth);
  const flipped = s.reshape(s.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [kh, kw, c * m, 1]);
  const { x: input, pad } = s.padOrCrop(spread, fullCorrelationPads(info, spread.shape));
  const planes = s.run(
    tf.DepthwiseConv2dNative,
    { x: input, filter: flipped },
    {
      strides: [1, 1],
      pad,
      dilations: [1, 1],
    },
  ); // [N, H, W, C·M]
  if (m === 1) return s.release(planes);
  return s.release(s.run(tf.Sum, { x: s.reshape(planes, [n, h, w, c, m]) }, { axis: [4], keepDims: false }));
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput,
};
