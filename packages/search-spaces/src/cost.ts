import { convMacsPerPixel, parsePrimitive, primitiveConvs, validOutputSize, type ConvShape } from '@quantnas/core-ops';
import { costReport, STANDARD_COST_INPUT, type BitWidth, type CostedLayer, type CostReport } from '@quantnas/quant';
import type { Genotype } from './genotype.js';
import { walkSteps, type Grid, type SpacePlan } from './plan.js';

export interface CostInput {
  readonly height: number;
  readonly width: number;
}

export interface GenotypeCostOptions {
  /** LR input size the totals are stated for; default 32×32 (the literature's). */
  readonly input?: CostInput;
  /** Count every layer at 32 bits (a full-precision network). */
  readonly fullPrecision?: boolean;
}

const params = (c: ConvShape, bias: boolean) => (c.kernelH * c.kernelW * c.inChannels * c.outChannels) / c.groups + (bias ? c.outChannels : 0);

/** Pixels of a grid for an LR input size. */
export function gridPixels(grid: Grid, scale: number, input: CostInput): number {
  return input.height * input.width * (grid === 'hr' ? scale * scale : 1);
}

/**
 * Every conv of the discrete network a genotype describes, as cost accounting sees it: chosen ops
 * at their bits, fixed convs and ESA's convs at the space's fixed bits (docs/method.md §7 counts all
 * quantized convs). ESA's strided and pooled convs run on smaller grids; their MACs per pixel are
 * stated per pixel of ESA's own grid for the given input size (exact there, proportional elsewhere).
 * The genotype is trusted to match the plan (see `checkGenotype`).
 */
export function genotypeCostLayers(plan: SpacePlan, genotype: Genotype, options: GenotypeCostOptions = {}): CostedLayer[] {
  const input = options.input ?? STANDARD_COST_INPUT;
  const fixedBits: BitWidth = options.fullPrecision ? 32 : plan.fixedBits;
  const layers: CostedLayer[] = [];
  const push = (name: string, conv: ConvShape, bias: boolean, grid: Grid, bits: BitWidth, pixelsRatio = 1) =>
    layers.push({ name, macsPerPixel: convMacsPerPixel(conv) * pixelsRatio, params: params(conv, bias), grid, weightBits: bits, activationBits: bits });
  for (const step of walkSteps(plan.root)) {
    switch (step.kind) {
      case 'mixed': {
        const choice = genotype.blocks[step.group];
        if (!choice) throw new Error(`genotype has no choice for block '${step.group}'`);
        const bits: BitWidth = options.fullPrecision ? 32 : choice.bits;
        primitiveConvs(parsePrimitive(choice.op), step.inChannels, step.outChannels, step.width).forEach((c, i) =>
          push(`${step.name}.${choice.op}.conv${i}`, c, false, step.grid, bits),
        );
        break;
      }
      case 'conv':
        push(
          step.name,
          { kernelH: step.kernel[0], kernelW: step.kernel[1], inChannels: step.inChannels, outChannels: step.outChannels, groups: step.groups },
          step.bias,
          step.grid,
          fixedBits,
        );
        break;
      case 'esa': {
        const side = step.grid === 'hr' ? plan.scale : 1;
        const [h, w] = [input.height * side, input.width * side];
        const [h2, w2] = [validOutputSize(h, 3, 2), validOutputSize(w, 3, 2)];
        const [hp, wp] = [validOutputSize(h2, 7, 3), validOutputSize(w2, 7, 3)];
        const c = step.outChannels;
        const f = Math.floor(c / 4);
        const conv = (k: number, i: number, o: number): ConvShape => ({ kernelH: k, kernelW: k, inChannels: i, outChannels: o, groups: 1 });
        // core-ops' ESA: names, shapes and grids of its seven convs (biases on).
        push(`${step.name}.conv1`, conv(1, c, f), true, step.grid, fixedBits);
        push(`${step.name}.conv_f`, conv(1, f, f), true, step.grid, fixedBits);
        push(`${step.name}.conv2`, conv(3, f, f), true, step.grid, fixedBits, (h2 * w2) / (h * w));
        for (const n of ['conv_max', 'conv3', 'conv3_']) push(`${step.name}.${n}`, conv(3, f, f), true, step.grid, fixedBits, (hp * wp) / (h * w));
        push(`${step.name}.conv4`, conv(1, f, c), true, step.grid, fixedBits);
        break;
      }
      default:
        break;
    }
  }
  return layers;
}

/** MACs, params and BitOps of a genotype's network, per layer and in total (quant's `CostReport`). */
export function genotypeCost(plan: SpacePlan, genotype: Genotype, options: GenotypeCostOptions = {}): CostReport {
  const input = options.input ?? STANDARD_COST_INPUT;
  return costReport(genotypeCostLayers(plan, genotype, options), plan.scale, input);
}
