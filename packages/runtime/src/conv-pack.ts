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
