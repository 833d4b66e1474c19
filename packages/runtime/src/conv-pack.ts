import type { ConvGeometry, ResolvedOutput } from './conv-spec.js';

/**
 * Weight pre-packing for the WASM kernels (assembly/conv.ts). Per group, output channels are taken
 * in blocks of 8 (a tile of 4 pixels × 8 channels), except a group's last 1–4 channels, which form
 * a block of 4 (8 pixels × 4 channels), so narrow layers waste at most 3 lanes. Within a block the
 * order is kernel row, kernel column, input step, then 4-channel quarter q: each 16-byte vector
 * holds, for the 4 outputs o of quarter q, the `step` input channels of that step
 * ([o0: c..c+step−1, o1: …, o3: …]). step is 2 (int16 lanes, plain SIMD) or 4 (int8 lanes,
 * relaxed SIMD). Channels past the group's count are zero in both weights and input, so they add
 * nothing.
 */
export type PackedKind = 'i16' | 'i8';

/**
 * Whether the plain kernel's 3-output-channel variant runs this conv (convI16Rgb in
 * assembly/conv.ts: groups 1, stride 1, 3 or 4 input channels, padded to 4), which packs its weights and
 * channel parameters with packRgbWeights and packRgbChannelParams instead.
 */
export function usesRgbKernel(g: ConvGeometry, kind: PackedKind): boolean {
  return kind === 'i16' && g.groups === 1 && g.stride === 1 && g.outChannels === 3 && (g.inChannels === 3 || g.inChannels === 4);
}

/** Per tap (row, column), per output o of 3: o's 4 input channels (0 past inChannels), twice. */
export function packRgbWeights(ohwi: Int8Array, g: ConvGeometry): Int16Array {
  const out = new Int16Array(g.kh * g.kw * 3 * 8);
  let at = 0;
  for (let ky = 0; ky < g.kh; ky++) {
    for (let kx = 0; kx < g.kw; kx++) {
      for (let o = 0; o < 3; o++) {
        for (let twice = 0; twice < 2; twice++) {
          for (let c = 0; c < 4; c++) out[at++] = c < g.inChannels ? ohwi[((o * g.kh + ky) * g.kw + kx) * g.inChannels + c]! : 0;
        }
      }
    }
  }
  return out;
}

/**
 * Whether a conv runs over horizontal tap pairs (pairTaps in assembly/conv.ts): plain kernel, one
 * input channel per group, a kernel at least 2 wide. Its int16 pair steps hold columns (kx, kx + 1)
 * of the one channel instead of a channel and the zero that pads it to 2: ⌈kw / 2⌉ steps per kernel
 * row instead of kw (the bicubic anchor's 5×5: 15 steps instead of 25).
 */
export function usesTapPairs(g: ConvGeometry, kind: PackedKind): boolean {
  return kind === 'i16' && g.inPerGroup === 1 && g.kw >= 2;
}

/** packWeights for tap pairs: per kernel row, ⌈kw / 2⌉ steps of columns (2j, 2j + 1), 0 past kw. */
export function packTapPairWeights(ohwi: Int8Array, g: ConvGeometry): Int16Array {
  const pairs = Math.ceil(g.kw / 2);
  const widths = blockWidths(g.outPerGroup);
  const lanesPerGroup = widths.reduce((a, b) => a + b, 0);
  const out = new Int16Array(g.groups * lanesPerGroup * g.kh * pairs * 2);
  let at = 0;
  for (let group = 0; group < g.groups; group++) {
    let c0 = 0;
    for (const width of widths) {
      for (let ky = 0; ky < g.kh; ky++) {
        for (let j = 0; j < pairs; j++) {
          for (let lane = 0; lane < width; lane++) {
            const o = c0 + lane;
            for (let e = 0; e < 2; e++) {
              const kx = 2 * j + e;
              out[at++] = o < g.outPerGroup && kx < g.kw ? ohwi[((group * g.outPerGroup + o) * g.kh + ky) * g.kw + kx]! : 0;
            }
          }
        }
      }
      c0 += width;
    }
  }
  return out;
}

/** Multipliers and offsets as the 3 vectors of 4 pixels' 12 outputs: [0 1 2 0], [1 2 0 1], [2 0 1 2]. */
export function packRgbChannelParams(r: ResolvedOutput): { multipliers: Float32Array; offsets: Float32Array } {
  const order = Array.from({ length: 12 }, (_, i) => i % 3);
  return {
    multipliers: Float32Array.from(order, (o) => r.multipliers[o]!),
    offsets: Float32Array.from(order, (o) => r.offsets[o]!),
  };
}

export function blockWidths(outPerGroup: number): number[] {
  const widths: number[] = [];
  for (let c0 = 0; c0 < outPerGroup; c0 += 8) widths.push(outPerGroup - c0 > 4 ? 8 : 4);
  return widths;
}

/** Input channels per group in the padded image: the group's count rounded up to whole steps. */
export function paddedGroupChannels(inPerGroup: number, kind: PackedKind): number {
  const step = kind === 'i16' ? 2 : 4;
  return Math.ceil(inPerGroup / step) * step;
}

export function packWeights(ohwi: Int8Array, g: ConvGeometry, kind: PackedKind): Int16Array | Int8Array {
  const step = kind === 'i16' ? 2 : 4;
  const steps = paddedGroupChannels(g.inPerGroup, kind) / step;
  const widths = blockWidths(g.outPerGroup);
  const lanesPerGroup = widths.reduce((a, b) => a + b, 0);
  const out =
    kind === 'i16'
      ? new Int16Array(g.groups * lanesPerGroup * g.kh * g.kw * steps * step)
      : new Int8Array(g.groups * lanesPerGroup * g.kh * g.kw * steps * step);
  let at = 0;
  for (let group = 0; group < g.groups; group++) {
    let c0 = 0;
    for (const width of widths) {
      for (let ky = 0; ky < g.kh; ky++) {
        for (let kx = 0; kx < g.kw; kx++) {
          for (let s = 0; s < steps; s++) {
            for (let lane = 0; lane < width; lane++) {
              const o = c0 + lane;
              for (let e = 0; e < step; e++) {
                const c = s * step + e;
                out[at++] = o < g.outPerGroup && c < g.inPerGroup ? ohwi[(((group * g.outPerGroup + o) * g.kh + ky) * g.kw + kx) * g.inPerGroup + c]! : 0;
              }
            }
          }
        }
      }
      c0 += width;
    }
  }
  return out;
}

/** Multipliers and offsets in block order, each block `width` lanes (unused lanes 0). */
export function packChannelParams(r: ResolvedOutput, g: ConvGeometry): { multipliers: Float32Array; offsets: Float32Array } {
  const widths = blockWidths(g.outPerGroup);
  const lanes = widths.reduce((a, b) => a + b, 0);
  const multipliers = new Float32Array(g.groups * lanes);
  const offsets = new Float32Array(g.groups * lanes);
  let at = 0;
  for (let group = 0; group < g.groups; group++) {
    let c0 = 0;
    for (const width of widths) {
      for (let lane = 0; lane < width; lane++, at++) {
        const o = c0 + lane;
        if (o >= g.outPerGroup) continue;
        multipliers[at] = r.multipliers[group * g.outPerGroup + o]!;
        offsets[at] = r.offsets[group * g.outPerGroup + o]!;
      }
      c0 += width;
    }
  }
  return { multipliers, offsets };
}
