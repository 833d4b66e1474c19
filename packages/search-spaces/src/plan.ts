import type { PrimitiveId } from '@quantnas/core-ops';
import type { BitWidth } from '@quantnas/quant';
import type { SearchSpaceSpec } from './spec.js';

/**
 * A search space resolved for one instantiation (channels, scale, cells): numbers instead of
 * channel expressions, repeats unrolled, every tensor's channels and grid known, every block
 * named. The supernet, the discrete network, cost accounting and the drawing all read it.
 */
export type Grid = 'lr' | 'hr';

export interface ResolveOptions {
  /** Channel width C; default the document's. */
  readonly channels?: number;
  /** Scale s; default the document's. */
  readonly scale?: number;
  /** Cell count N; default the document's (1 if it names none). */
  readonly cells?: number;
  /** Candidate bit-widths of every searchable block, replacing the document's (node overrides too). */
  readonly bits?: readonly BitWidth[];
}

interface StepBase {
  /** Local tensor id within its graph. */
  readonly id: string;
  /** Dotted block name, unique in the network ("cell0.body0"). */
  readonly name: string;
  /** JSON path of the node in the document, for messages. */
  readonly path: string;
  readonly outChannels: number;
  readonly grid: Grid;
}

export interface MixedStep extends StepBase {
  readonly kind: 'mixed';
  readonly input: string;
  readonly inChannels: number;
  readonly width: number;
  /** Scales the default initialisation of each candidate's last conv. */
  readonly initScale?: number;
  /** Scales the default initialisation of every conv of each candidate (√6 for the node's `init: "he"`). */
  readonly initGain?: number;
  /** Each op's first conv reads an image in [0, 1] (QAT quantizes it on [0, 1]'s grid). */
  readonly imageInput: boolean;
  readonly candidates: readonly PrimitiveId[];
  readonly bits: readonly BitWidth[];
  /** The α group: `alphaGroup` if the node names one, else the block name. */
  readonly group: string;
}

export interface ConvStep extends StepBase {
  readonly kind: 'conv';
  readonly input: string;
  readonly inChannels: number;
  readonly kernel: readonly [number, number];
  readonly groups: number;
  readonly bias: boolean;
  /** `bicubic`: starts as bicubic upscaling by `scale` (with the pixel shuffle after it). */
  readonly init?: { readonly kind: 'bicubic'; readonly scale: number };
  /** Not trained: the weights stay as initialised. */
  readonly frozen: boolean;
  /** Reads an image in [0, 1] (QAT quantizes it on [0, 1]'s grid). */
  readonly imageInput: boolean;
}

export interface AddStep extends StepBase {
  readonly kind: 'add';
  readonly inputs: readonly string[];
}

export interface ConcatStep extends StepBase {
  readonly kind: 'concat';
  readonly inputs: readonly string[];
}

export interface PixelShuffleStep extends StepBase {
  readonly kind: 'pixel_shuffle';
  readonly input: string;
  readonly scale: number;
}

export interface RepeatChannelsStep extends StepBase {
  readonly kind: 'repeat_channels';
  readonly input: string;
  readonly times: number;
}

export interface EsaStep extends StepBase {
  readonly kind: 'esa';
  readonly input: string;
}

export interface ResidualStep extends StepBase {
  readonly kind: 'residual';
  readonly input: string;
  readonly adq: boolean;
  readonly body: GraphPlan;
}

export interface RepeatStep extends StepBase {
  readonly kind: 'repeat';
  readonly input: string;
  readonly emit: 'last' | 'concat';
  /** One graph per iteration, blocks named `${name}${i}.…`. */
  readonly iterations: readonly GraphPlan[];
}

export type Step = MixedStep | ConvStep | AddStep | ConcatStep | PixelShuffleStep | RepeatChannelsStep | EsaStep | ResidualStep | RepeatStep;

export interface GraphPlan {
  readonly inputChannels: number;
  readonly inputGrid: Grid;
  readonly steps: readonly Step[];
  readonly output: string;
  readonly outputChannels: number;
  readonly outputGrid: Grid;
}

/** (op, bits) pairs of an α group, op-major: op0@b0, op0@b1, op1@b0, … */
export interface Pair {
  readonly op: PrimitiveId;
  readonly bits: BitWidth;
}

export interface AlphaGroupPlan {
  /** The genotype key. */
  readonly id: string;
  readonly candidates: readonly PrimitiveId[];
  readonly bits: readonly BitWidth[];
  readonly pairs: readonly Pair[];
  /** The blocks that share this α, in network order. */
  readonly blocks: readonly MixedStep[];
}

export interface SpacePlan {
  readonly spec: SearchSpaceSpec;
  readonly id: string;
  readonly channels: number;
  readonly scale: number;
  readonly cells: number;
  readonly imageChannels: number;
  readonly fixedBits: BitWidth;
  readonly root: GraphPlan;
  /** Every searchable block in network order. */
  readonly blocks: readonly MixedStep[];
  /** α groups in order of their first block. */
  readonly groups: readonly AlphaGroupPlan[];
}

/** Every step of a graph in execution order, nested graphs included (pre-order). */
export function* walkSteps(graph: GraphPlan): Generator<Step> {
  for (const step of graph.steps) {
    yield step;
    if (step.kind === 'residual') yield* walkSteps(step.body);
    if (step.kind === 'repeat') for (const it of step.iterations) yield* walkSteps(it);
  }
}
