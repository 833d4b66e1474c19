import type { PrimitiveId } from '@quantnas/core-ops';
import type { BitWidth } from '@quantnas/quant';

/**
 * A search space as data (method.md §6.3): a graph of nodes over named tensors, from which both the
 * supernet and the discrete network are built. `rfdn` and `basic` ship as documents of this shape.
 */
export interface SearchSpaceSpec {
  readonly schemaVersion: 1;
  readonly id: string;
  readonly description?: string;
  /** The space's fixed channel width C (growth and factorized ops pass through it). */
  readonly channels: number;
  readonly scale: number;
  /** Candidate bit-widths of every searchable block. */
  readonly bits: readonly BitWidth[];
  /** Bits of the fixed-support convs (8 in both shipped spaces). */
  readonly fixedBits: BitWidth;
  /** Named candidate lists, referenced by searchable blocks. */
  readonly primitives: Readonly<Record<string, readonly PrimitiveId[]>>;
  /** Nodes in topological order; the tensor named `input` is the LR image. */
  readonly nodes: readonly NodeSpec[];
  /** The node whose tensor is the SR image. */
  readonly output: string;
}

/** Which resolution a node runs at: cost accounting counts its MACs on that grid. */
export type Grid = 'lr' | 'hr';

interface NodeBase {
  readonly id: string;
}

/** A mixed op over (primitive, bits) pairs; nodes with the same `alphaGroup` share one α. */
export interface SearchableNodeSpec extends NodeBase {
  readonly kind: 'searchable';
  readonly input: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly grid: Grid;
  readonly candidates: string;
  readonly alphaGroup?: string;
}

/** A conv that is not searched, always at the space's fixed bits. */
export interface FixedConvNodeSpec extends NodeBase {
  readonly kind: 'conv';
  readonly input: string;
  readonly kernel: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly grid: Grid;
}

export interface AddNodeSpec extends NodeBase {
  readonly kind: 'add';
  readonly inputs: readonly string[];
}

export interface ConcatNodeSpec extends NodeBase {
  readonly kind: 'concat';
  readonly inputs: readonly string[];
}

export interface PixelShuffleNodeSpec extends NodeBase {
  readonly kind: 'pixel_shuffle';
  readonly input: string;
}

/** Repeats the channels of a tensor `times` times (rfdn feeds the image repeated to C channels). */
export interface RepeatNodeSpec extends NodeBase {
  readonly kind: 'repeat_channels';
  readonly input: string;
  readonly times: number;
}

/** Enhanced spatial attention (fixed 8-bit) over `channels`. */
export interface EsaNodeSpec extends NodeBase {
  readonly kind: 'esa';
  readonly input: string;
  readonly channels: number;
}

/**
 * A residual unit: `body` is the id of the node computing F from `input`; with ADQ on,
 * out = F(BN(x))·φ(σ(x)) + x, else F(x) + x.
 */
export interface ResidualNodeSpec extends NodeBase {
  readonly kind: 'residual';
  readonly input: string;
  readonly body: string;
  readonly adq: boolean;
}

export type NodeSpec =
  | SearchableNodeSpec
  | FixedConvNodeSpec
  | AddNodeSpec
  | ConcatNodeSpec
  | PixelShuffleNodeSpec
  | RepeatNodeSpec
  | EsaNodeSpec
  | ResidualNodeSpec;
