import type { BitWidth } from './bits.js';

/** A conv as cost accounting sees it: MACs per pixel of the grid it writes, and its bits. */
export interface CostedLayer {
  readonly name: string;
  /** MACs per output pixel (bias ignored). */
  readonly macsPerPixel: number;
  readonly params: number;
  /** `lr`: the layer runs on the LR grid; `hr`: on the upscaled output grid. */
  readonly grid: 'lr' | 'hr';
  readonly weightBits: BitWidth;
  readonly activationBits: BitWidth;
}

export interface LayerCost {
  readonly name: string;
  readonly macs: number;
  readonly params: number;
  readonly bitops: number;
  readonly weightBits: BitWidth;
  readonly activationBits: BitWidth;
}

/** MACs, params and BitOps of a network for a stated LR input size, per layer and in total. */
export interface CostReport {
  readonly input: { readonly height: number; readonly width: number };
  readonly scale: number;
  readonly layers: readonly LayerCost[];
  readonly total: { readonly macs: number; readonly params: number; readonly bitops: number };
  /** The same network's cost for an output of one megapixel. */
  readonly perOutputMegapixel: { readonly macs: number; readonly bitops: number };
}

/** BitOps of a layer: MACs · weight bits · activation bits (docs/method.md §7). */
export function bitops(macs: number, weightBits: BitWidth, activationBits: BitWidth): number {
  return macs * weightBits * activationBits;
}

/** The literature reports BitOps for a 32×32 LR input. */
export const STANDARD_COST_INPUT = { height: 32, width: 32 } as const;

export function costReport(layers: readonly CostedLayer[], scale: number, input: { height: number; width: number } = STANDARD_COST_INPUT): CostReport {
  if (!(scale >= 1) || !(input.height > 0) || !(input.width > 0)) {
    throw new Error(`cost report needs a positive input size and scale, got ${input.height}x${input.width} x${scale}`);
  }
  const lrPixels = input.height * input.width;
  const hrPixels = lrPixels * scale * scale;
  const costs = layers.map((layer) => {
    const macs = layer.macsPerPixel * (layer.grid === 'lr' ? lrPixels : hrPixels);
    return {
      name: layer.name,
      macs,
      params: layer.params,
      bitops: bitops(macs, layer.weightBits, layer.activationBits),
      weightBits: layer.weightBits,
      activationBits: layer.activationBits,
    };
  });
  const total = {
    macs: costs.reduce((s, c) => s + c.macs, 0),
    params: costs.reduce((s, c) => s + c.params, 0),
    bitops: costs.reduce((s, c) => s + c.bitops, 0),
  };
  const perMp = 1e6 / hrPixels;
  return {
    input: { height: input.height, width: input.width },
    scale,
    layers: costs,
    total,
    perOutputMegapixel: { macs: total.macs * perMp, bitops: total.bitops * perMp },
  };
}
