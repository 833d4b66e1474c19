// The wasm backend has no Conv2DBackpropFilter. The filter gradient is a correlation of the input
// with the output gradient, computed with XNNPACK's forward conv in one of two ways:
// - as GEMMs (stride 1), dW[(kh, kw, ci), co] = Σ_m col[(kh, kw, ci), m]·dy[m, co] over the output
//   positions m, each run as a 1×1 conv whose "pixels" are the rows of the transposed im2col matrix
//   and whose channels are the positions. The positions are those of the padded input grid, so that
//   every row of col is one contiguous window of the transposed padded input, copied in one go
//   (the output gradient, padded with zeros to the same grid, zeroes the positions outside the
//   output);
// - as a forward conv with the roles swapped: the input's channels become the batch, the batch
//   becomes the channels, and the transposed output gradient is the filter (dilated by the stride).
//   Its kernel is as large as the image, which XNNPACK walks a few channels at a time.
// Measured at the supernets' and the trained networks' shapes (3..48 channels, batches of 8×16×16
// to 16×128×128; `quantnas bench kernels` times both ways): the GEMM is faster for 1×1 filters and
// for 3×3 ones with at least 12 input and output channels; the swapped conv for 5×5 filters and for
// 3×3 ones with few channels (the RGB layers at HR size), where copying 25 or 9 windows costs more
// than the GEMM saves.
import { tf } from '../../tf.js';
import { forwardConvInfo, Scratch, type TensorInfo } from './wasm-util.js';

export type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

export const filterGradientTuning = {
  /** Floats of im2col matrix built at once; larger batches are split and their GEMMs summed. */
  im2colFloats: 1 << 22,
  /** Which way a stride-1 gradient is computed ('auto': by the filter's shape, as measured). */
  path: 'auto' as 'auto' | 'gemm' | 'swapped',
};

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = forwardConvInfo(tf.Conv2DBackpropFilter, x.shape, attrs.filterShape, attrs, false);
  const s = new Scratch(args.backend as tf.KernelBackend);
  return s.release(denseFilterGradient(s, x, dy, info));
}

/**
 * The filter gradient of the dense conv `info` describes, [KH, KW, Ci, Co], its intermediates owned
 * by `s`; `gemmIfStride1` asks for the GEMM wherever the stride allows it.
 */
export function denseFilterGradient(s: Scratch, x: TensorInfo, dy: TensorInfo, info: ConvInfo, gemmIfStride1 = false): TensorInfo {
  const gemm = info.strideHeight === 1 && info.strideWidth === 1 && (gemmIfStride1 || filterGradientPath(info) === 'gemm');
  return gemm ? byWindowGemm(s, x, dy, info) : bySwappedConv(s, x, dy, info);
}

/** The way a stride-1 filter gradient of this shape is computed: the tuning's, or as measured ('auto'). */
export function filterGradientPath(info: ConvInfo): 'gemm' | 'swapped' {
  const { path } = filterGradientTuning;
  if (path !== 'auto') return path;
  const taps = info.filterHeight * info.filterWidth;
  return taps === 1 || (taps <= 9 && info.inChannels >= 12 && info.outChannels >= 12) ? 'gemm' : 'swapped';
}

function byWindowGemm(s: Scratch, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { batchSize: n, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co, filterHeight: kh, filterWidth: kw } = info;
  const { top, bottom, left, right } = info.padInfo;
  // At stride 1 the padded input is exactly (OH + KH − 1) × (OW + KW − 1): no padding is negative.
  const hp = oh + kh - 1;
  const wp = ow + kw - 1;
  const plane = hp * wp;
  const rows = kh * kw * ci;
  const xt = s.transpose(x, [3, 0, 1, 2]); // [Ci, N, H, W]: each channel's images contiguous
  const xp = top + bottom + left + right > 0 ? pad(s, xt, [0, 0, top, left], [0, 0, bottom, right]) : xt; // [Ci, N, HP, WP]
  const dyp = kh > 1 || kw > 1 ? pad(s, dy, [0, 0, 0, 0], [0, kh - 1, kw - 1, 0]) : dy; // [N, HP, WP, Co], zero off the output
  const chunk = Math.max(1, Math.floor(filterGradientTuning.im2colFloats / (rows * plane)));
  let sum: TensorInfo | null = null;
  for (let n0 = 0; n0 < n; n0 += chunk) {
    const nc = Math.min(chunk, n - n0);
    const m = nc * plane;
    // A 1×1 filter reads the (unpadded) input as it is: its rows are already the windows.
    const col = kh === 1 && kw === 1 && nc === n ? xp : fillWindows(s, xp, rows, m, { n, ci, kh, kw, wp, plane, n0 });
    const part = nc === n ? dyp : s.run(tf.Slice, { x: dyp }, { begin: [n0, 0, 0, 0], size: [nc, hp, wp, co] });
    const grad = s.run(
      tf.Conv2D,
      { x: s.reshape(col, [1, 1, rows, m]), filter: s.reshape(part, [1, 1, m, co]) },
      { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
    ); // [1, 1, rows, Co]
    sum = sum ? s.run(tf.Add, { a: sum, b: grad }) : grad;
  }
  return s.reshape(sum!, [kh, kw, ci, co]);
}

function pad(s: Scratch, x: TensorInfo, before: number[], after: number[]): TensorInfo {
  return s.run('PadV2', { x }, { paddings: before.map((b, i) => [b, after[i]!]), constantValue: 0 });
}

/**
 * col[(a·kw + b)·ci + c][j] = xp[c][n0·plane + a·wp + b + j] for j < m: the padded input shifted by
 * the tap (a, b). A window runs past its images into positions where the padded output gradient is
 * zero; past the end of the tensor it is zero-filled.
 */
function fillWindows(
  s: Scratch,
  xp: TensorInfo,
  rows: number,
  m: number,
  g: { n: number; ci: number; kh: number; kw: number; wp: number; plane: number; n0: number },
): TensorInfo {
  const col = s.alloc([rows, m]);
  const src = s.view(xp);
  const dst = s.view(col);
  // Both views are on the wasm heap: copyWithin over it moves the bytes once (a same-buffer `set` is slower).
  const heap = new Float32Array(src.buffer);
  const [srcBase, dstBase] = [src.byteOffset / 4, dst.byteOffset / 4];
  const perChannel = g.n * g.plane;
  for (let a = 0; a < g.kh; a++) {
    for (let b = 0; b < g.kw; b++) {
      for (let c = 0; c < g.ci; c++) {
        const from = c * perChannel + g.n0 * g.plane + a * g.wp + b;
        const to = ((a * g.kw + b) * g.ci + c) * m;
        const len = Math.min(m, src.length - from);
        heap.copyWithin(dstBase + to, srcBase + from, srcBase + from + len);
        if (len < m) dst.fill(0, to + len, to + m);
      }
    }
  }
  return col;
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
