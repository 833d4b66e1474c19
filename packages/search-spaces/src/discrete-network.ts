import { createConv, createEsa, createPrimitive, plainQuantizers, type Conv, type ConvQuantizerFactory, type Module } from '@quantnas/core-ops';
import { createAdqUnit, DEFAULT_ADQ_OPTIONS, type AdqOptions } from '@quantnas/adq';
import { qatQuantizers, type ActivationScheme, type BitWidth, type CostReport, type QuantKernels, type WeightScheme } from '@quantnas/quant';
import { genotypeCost, type CostInput } from './cost.js';
import type { Genotype } from './genotype.js';
import { checkGenotype } from './genotype-check.js';
import { buildGraph, initialConvWeight } from './graph-module.js';
import type { Grid, SpacePlan } from './plan.js';
import { resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';

export interface DiscreteNetworkOptions {
  /** `qat`: LSQ weights and HWGQ activations at the genotype's bits, fixed layers at the space's; `fp`: full precision. */
  readonly mode: 'qat' | 'fp';
  readonly adq: boolean;
  readonly adqOptions?: Partial<Omit<AdqOptions, 'enabled'>>;
  readonly seed: number;
  /** Default: the genotype's. A different value is an error (the genotype was searched at its own). */
  readonly channels?: number;
  readonly scale?: number;
  /** Default: the space's. */
  readonly cells?: number;
  readonly weightScheme?: WeightScheme;
  readonly activationScheme?: ActivationScheme;
  /** `fused` (default): one kernel per quantizer (and per gradient) where the backend has them; `reference`: composed tfjs ops. */
  readonly kernels?: QuantKernels;
}

/** A conv of the network with what export and cost accounting need to know about it. */
export interface NetworkConv {
  readonly conv: Conv;
  /** A fixed-support conv (fixed conv or ESA), always at the space's fixed bits. */
  readonly fixed: boolean;
  readonly bits: BitWidth;
  readonly grid: Grid;
}

export interface DiscreteNetwork extends Module {
  readonly plan: SpacePlan;
  readonly genotype: Genotype;
  /** Every conv in execution order. */
  readonly convs: readonly NetworkConv[];
  /** MACs, params (conv weights and biases) and BitOps at an LR input size (default 32×32). */
  costReport(input?: CostInput): CostReport;
}

/** The network a genotype describes, to be trained from scratch with QAT (docs/method.md §8). */
export function createDiscreteNetwork(spec: SearchSpaceSpec, genotype: Genotype, options: DiscreteNetworkOptions): DiscreteNetwork {
  if (options.mode !== 'qat' && options.mode !== 'fp') throw new Error(`unknown network mode '${String(options.mode)}' (expected qat or fp)`);
  const plan = resolveSpace(spec, {
    channels: options.channels ?? genotype.channels,
    scale: options.scale ?? genotype.scale,
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
  });
  checkGenotype(plan, genotype, undefined, { anyBits: true });
  const fullPrecision = options.mode === 'fp';
  // `imageSite`: the conv that reads an image in [0, 1] (the node's `imageInput`).
  const quantizers = (bits: BitWidth, imageSite?: string): ConvQuantizerFactory =>
    fullPrecision
      ? plainQuantizers
      : qatQuantizers((site) => ({
          weightBits: bits,
          activationBits: bits,
          weightScheme: options.weightScheme ?? 'lsq',
          activationScheme: site.name === imageSite ? 'image' : (options.activationScheme ?? 'hwgq'),
          ...(options.kernels !== undefined ? { kernels: options.kernels } : {}),
        }));
  const fixedBits: BitWidth = fullPrecision ? 32 : plan.fixedBits;
  const convs: NetworkConv[] = [];
  const adqOptions: AdqOptions = { ...DEFAULT_ADQ_OPTIONS, ...options.adqOptions, enabled: options.adq };

  const graph = buildGraph(plan.root, {
    mixed(step) {
      const choice = genotype.blocks[step.group]!;
      const op = createPrimitive(choice.op, {
        name: `${step.name}.${choice.op}`,
        inChannels: step.inChannels,
        outChannels: step.outChannels,
        width: step.width,
        quantizers: quantizers(choice.bits, step.imageInput ? `${step.name}.${choice.op}.conv0` : undefined),
        seed: options.seed,
        ...(step.initScale !== undefined ? { outputInitScale: step.initScale } : {}),
        ...(step.initGain !== undefined ? { initGain: step.initGain } : {}),
      });
      for (const conv of op.convs) convs.push({ conv, fixed: false, bits: fullPrecision ? 32 : choice.bits, grid: step.grid });
      return op;
    },
    conv(step) {
      const conv = createConv({
        name: step.name,
        inChannels: step.inChannels,
        outChannels: step.outChannels,
        kernel: step.kernel,
        groups: step.groups,
        bias: step.bias,
        quantizers: quantizers(plan.fixedBits, step.imageInput ? step.name : undefined),
        seed: options.seed,
        initialWeight: initialConvWeight(step),
        trainable: !step.frozen,
      });
      convs.push({ conv, fixed: true, bits: fixedBits, grid: step.grid });
      return conv;
    },
    esa(step) {
      const esa = createEsa({ name: step.name, channels: step.outChannels, quantizers: quantizers(plan.fixedBits), seed: options.seed });
      for (const conv of esa.convs) convs.push({ conv, fixed: true, bits: fixedBits, grid: step.grid });
      return esa;
    },
    residual: (step, body) =>
      createAdqUnit({ name: step.name, body, channels: step.outChannels, options: { ...adqOptions, enabled: options.adq && step.adq } }),
  });

  return {
    plan,
    genotype,
    convs,
    apply: (x, ctx) => graph.apply(x, ctx),
    variables: () => graph.variables(),
    dispose: () => graph.dispose(),
    costReport: (input) => genotypeCost(plan, genotype, { fullPrecision, ...(input ? { input } : {}) }),
  };
}
