import type { PrimitiveId } from '@quantnas/core-ops';
import type { BitWidth } from '@quantnas/quant';
import type { ChannelExpr } from './channel-expr.js';

export const SPEC_SCHEMA_VERSION = 1;

/**
 * A search space as data (docs/method.md §6.3): a graph of nodes over named tensors, from which both
 * the supernet and the discrete network are built. `rfdn` and `basic` ship as documents of this
 * shape. Channel counts are `ChannelExpr`s over C (`channels`), s (`scale`) and N (`cells`), so
 * the same document instantiates at another width, scale or cell count.
 */
export interface SearchSpaceSpec {
  /** Optional editor hint; ignored. */
  readonly $schema?: string;
  readonly schemaVersion: typeof SPEC_SCHEMA_VERSION;
  readonly id: string;
  readonly description?: string;
  /** Default channel width C (growth and factorized ops pass through it). */
  readonly channels: number;
  /** Default scale s. */
  readonly scale: number;
  /** Default cell count N (the `times` of repeat nodes usually say "N"). */
  readonly cells?: number;
  /** Channels of the LR and HR images (3 unless said otherwise). */
  readonly imageChannels?: number;
  /** Candidate bit-widths of every searchable block (a node may override them). */
  readonly bits: readonly BitWidth[];
  /** Bits of the fixed convs and ESA (8 in both shipped spaces). */
  readonly fixedBits?: BitWidth;
  /** Named candidate lists, referenced by searchable nodes. */
  readonly candidates: Readonly<Record<string, readonly PrimitiveId[]>>;
  /**
   * The op of each searchable node (by node id) in the hand-designed architecture the space
   * generalises (e.g. RFDN's in `rfdn`), for `baselineGenotype`; a node not named takes its
   * first candidate.
   */
  readonly baseline?: Readonly<Record<string, PrimitiveId>>;
  /** The graph: its input tensor is `input`, the LR image. */
  readonly nodes: readonly NodeSpec[];
  /** The tensor that is the SR image. */
  readonly output: string;
}

/**
 * A sub-graph (the body of a residual or repeat node). It sees only its own input, named
 * `input`; its node ids share the enclosing namespace of block names (see `RepeatNodeSpec`).
 */
export interface GraphSpec {
  readonly nodes: readonly NodeSpec[];
  readonly output: string;
}

/** Every node produces one tensor, named by its id. */
interface NodeBase {
  readonly id: string;
}

/**
 * A searchable block: a mixed op over (primitive, bits) pairs. Nodes with the same `alphaGroup`
 * share one α (they need the same candidates and bits); the group id is then the genotype key.
 */
export interface MixedNodeSpec extends NodeBase {
  readonly kind: 'mixed';
  readonly input: string;
  readonly in: ChannelExpr;
  readonly out: ChannelExpr;
  /** The name of a list in `candidates`, or an inline list. */
  readonly candidates: string | readonly PrimitiveId[];
  readonly alphaGroup?: string;
  /** Overrides the space's `bits` for this block. */
  readonly bits?: readonly BitWidth[];
  /** Middle width of growth and factorized ops; default "C". */
  readonly width?: ChannelExpr;
  /**
   * Scales the default initialisation of every candidate's last conv (≤ 1): a branch added to a
   * skip (e.g. to rfdn-bicubic's bicubic anchor) then starts near zero instead of as noise.
   */
  readonly initScale?: number;
  /**
   * `he`: every conv of every candidate starts with He's uniform bound √(6 / fan_in) instead of
   * PyTorch's default 1 / √fan_in, which shrinks the activations' scale about 0.58× per conv through
   * a ReLU. For plain chains without residuals or BN, whose activations would otherwise fall below
   * HWGQ's fixed steps (then quantize to zero and stop the gradient).
   */
  readonly init?: 'he';
  /**
   * The input is an image in [0, 1] (the network's input, or the upscaled image): in QAT its
   * activations are quantized on the uniform grid of [0, 1] (step 1/(2^b − 1); at 8 bits a uint8
   * image passes unchanged) instead of with HWGQ's steps, which assume unit-variance activations
   * (8 bits: 50 levels over [0, 1]; 4 bits: 5). For a mixed node this is each op's first conv.
   */
  readonly imageInput?: boolean;
}

/** A conv that is not searched, always at the space's fixed bits; stride 1, 'same' padding. */
export interface ConvNodeSpec extends NodeBase {
  readonly kind: 'conv';
  readonly input: string;
  readonly in: ChannelExpr;
  readonly out: ChannelExpr;
  /** Odd; square K or [kh, kw]. */
  readonly kernel: number | readonly [number, number];
  readonly groups?: number;
  /** Default false (docs/method.md §3: convs are bias-free unless stated). */
  readonly bias?: boolean;
  /**
   * Initial weights; default kaiming-uniform. `bicubic`: bicubic upscaling by the space's scale
   * when followed by a pixel shuffle (in = groups = image channels, out = in·s², kernel 5): a
   * learnable global skip that lets a short training start from bicubic quality.
   */
  readonly init?: 'bicubic';
  /**
   * True keeps the initial weights: the conv is not trained (its quantizer's step still is). Needs
   * `init`. A frozen bicubic skip keeps its DC gain at 1; a trained one drifts under Adam's
   * per-weight steps (measured: gains 0.86–0.90 after 2,500 steps, a colour cast the rest of a small
   * network did not undo).
   */
  readonly frozen?: boolean;
  /** The input is an image in [0, 1]: quantized as `MixedNodeSpec.imageInput` describes. */
  readonly imageInput?: boolean;
}

/** Element-wise sum; every input has the same channels and grid. */
export interface AddNodeSpec extends NodeBase {
  readonly kind: 'add';
  readonly inputs: readonly string[];
}

/** Concatenation along channels, in the order given. */
export interface ConcatNodeSpec extends NodeBase {
  readonly kind: 'concat';
  readonly inputs: readonly string[];
}

/** PyTorch-order pixel shuffle by the space's scale: LR grid, c·s² channels → HR grid, c channels. */
export interface PixelShuffleNodeSpec extends NodeBase {
  readonly kind: 'pixel_shuffle';
  readonly input: string;
}

/** Tiles the channel block `times` times (torch `x.repeat(1, times, 1, 1)`). */
export interface RepeatChannelsNodeSpec extends NodeBase {
  readonly kind: 'repeat_channels';
  readonly input: string;
  readonly times: ChannelExpr;
}

/** RFDN's enhanced spatial attention (fixed bits) over `channels`. */
export interface EsaNodeSpec extends NodeBase {
  readonly kind: 'esa';
  readonly input: string;
  readonly channels: ChannelExpr;
}

/**
 * A residual unit around `body` (docs/method.md §5): with `adq` (and ADQ enabled for the build)
 * out = F(BN(x))·φ(σ(x)) + x, else F(x) + x. F must keep the input's channels.
 */
export interface ResidualNodeSpec extends NodeBase {
  readonly kind: 'residual';
  readonly input: string;
  readonly adq: boolean;
  readonly body: GraphSpec;
}

/**
 * Applies `body` `times` times in sequence (cell i's input is cell i−1's output). Blocks of
 * iteration i are named `${id}${i}.${nodeId}` (e.g. "cell0.body0"), so each cell has its own α
 * unless its nodes name an `alphaGroup`. The node's tensor is the last output (`emit: "last"`,
 * the default) or all outputs concatenated (`emit: "concat"`, times × the body's channels).
 */
export interface RepeatNodeSpec extends NodeBase {
  readonly kind: 'repeat';
  readonly input: string;
  readonly times: ChannelExpr;
  readonly emit?: 'last' | 'concat';
  readonly body: GraphSpec;
}

export type NodeSpec =
  MixedNodeSpec | ConvNodeSpec | AddNodeSpec | ConcatNodeSpec | PixelShuffleNodeSpec | RepeatChannelsNodeSpec | EsaNodeSpec | ResidualNodeSpec | RepeatNodeSpec;

export type NodeKind = NodeSpec['kind'];
