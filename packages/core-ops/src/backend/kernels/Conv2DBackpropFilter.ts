// The wasm backend has no Conv2DBackpropFilter. The filter gradient is a correlation of the input
// with the output gradient, computed with XNNPACK's forward conv in one of two ways:
// - stride 1 and at least GEMM_MIN_OUT output channels: as one GEMM,
//   dW[(kh, kw, ci), co] = Σ_m col[(kh, kw, ci), m]·dy[m, co] over the m = (n, oh, ow) output
//   positions, run as a 1×1 conv whose "pixels" are the rows of the transposed im2col matrix and
//   whose channels are the positions. XNNPACK runs that at GEMM speed, where the correlation below
//   walks a kernel as large as the image a few channels at a time (measured 2× slower at
//   12 → 24 and 12 → 48 channels); with few output channels building the im2col matrix costs more
//   than the GEMM saves;
// - otherwise: a forward conv with the roles swapped: the input's channels become the batch, the
//   batch becomes the channels, and the transposed output gradient is the filter (dilated by the
//   stride).
import { tf } from '../../tf.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

export const filterGradientTuning = {
  /** Floats of im2col matrix built at once; larger batches are split and their GEMMs summed. */
  im2colFloats: 1 << 20,
  /** Fewest output channels for which the GEMM is used. */
  gemmMinOut: 24,
};

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = forwardConvInfo(tf.Conv2DBackpropFilter, x.shape, attrs.filterShape, attrs, false);
  const s = new Scratch(args.backend as tf.KernelBackend);
  const gemm = info.strideHeight === 1 && info.strideWidth === 1 && info.outChannels >= filterGradientTuning.gemmMinOut;
  return s.release(gemm ? byGemm(s, x, dy, info) : bySwappedConv(s, x, dy, info));
}

function byGemm(s: Scratch, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co, filterHeight: kh, filterWidth: kw } = info;
  const { top, left } = info.padInfo;
  const rows = kh * kw * ci;
  const perImage = oh * ow;
  const chunk = Math.max(1, Math.floor(filterGradientTuning.im2colFloats / (rows * perImage)));
  const xt = s.transpose(x, [3, 0, 1, 2]); // [Ci, N, H, W]: each (channel, image) plane contiguous
  let sum: TensorInfo | null = null;
  for (let n0 = 0; n0 < n; n0 += chunk) {
    const nc = Math.min(chunk, n - n0);
    const m = nc * perImage;
    const col = s.alloc([1, 1, rows, m]);
    fillTransposedIm2col(s.view(xt), s.view(col), { n, h, w, ci, oh, ow, kh, kw, top, left, n0, nc });
    const part = nc === n ? dy : s.run(tf.Slice, { x: dy }, { begin: [n0, 0, 0, 0], size: [nc, oh, ow, co] });
    const grad = s.run(
      tf.Conv2D,
      { x: col, filter: s.reshape(part, [1, 1, m, co]) },
      {
        strides: [1, 1],
        pad: 'valid',
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    ); // [1, 1, rows, Co]
    sum = sum ? s.run(tf.Add, { a: sum, b: grad }) : grad;
  }
  return s.reshape(sum!, [kh, kw, ci, co]);
}

interface Im2col {
  n: number;
  h: number;
  w: number;
  ci: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  top: number;
  left: number;
  n0: number;
  nc: number;
}

/** col[(a·kw + b)·ci + c][(i·oh + y)·ow + x] = xt[c][n0 + i][y + a − top][x + b − left], 0 outside. */
function fillTransposedIm2col(xt: Float32Array, col: Float32Array, g: Im2col): void {
  const m = g.nc * g.oh * g.ow;
  for (let a = 0; a < g.kh; a++) {
    for (let b = 0; b < g.kw; b++) {
      // Output columns whose input column x + b − left lies inside the image.
      const x0 = Math.min(g.ow, Math.max(0, g.left - b));
      const x1 = Math.max(x0, Math.min(g.ow, g.w + g.left - b));
      for (let c = 0; c < g.ci; c++) {
        let dst = ((a * g.kw + b) * g.ci + c) * m;
        for (let i = 0; i < g.nc; i++) {
          const plane = (c * g.n + g.n0 + i) * g.h * g.w;
          for (let y = 0; y < g.oh; y++, dst += g.ow) {
            const iy = y + a - g.top;
            if (iy < 0 || iy >= g.h) {
              col.fill(0, dst, dst + g.ow);
              continue;
            }
            const src = plane + iy * g.w + b - g.left;
            for (let x = 0; x < x0; x++) col[dst + x] = 0;
            for (let x = x0; x < x1; x++) col[dst + x] = xt[src + x]!;
            for (let x = x1; x < g.ow; x++) col[dst + x] = 0;
          }
        }
      }
    }
  }
}

function bySwappedConv(s: Scratch, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
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
  const grad = s.run(
    tf.Conv2D,
    { x: input, filter: dyt },
    {
      strides: [1, 1],
      pad,
      dataFormat: 'NHWC',
      dilations: [sh, sw],
    },
  ); // [Ci, KH, KW, Co]
  return s.transpose(grad, [1, 2, 0, 3]);
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};
