import type { SearchMode, Selector, SupernetOptions } from '@quantnas/search-spaces';
import type { LatencyTable } from './latency/table.js';

/** The search presets (presets.ts has their settings). */
export type PresetName = 'smoke' | 'quick' | 'cpu' | 'paper';
export const PRESET_NAMES: readonly PresetName[] = ['smoke', 'quick', 'cpu', 'paper'];

/** Regularisers of the α step (docs/method.md §7): the entropy H of softmax(α), or an L1 alternative. */
export type EntropyKind = 'entropy' | 'none' | 'l1-alpha' | 'l1-softmax';
export const ENTROPY_KINDS: readonly EntropyKind[] = ['entropy', 'none', 'l1-alpha', 'l1-softmax'];
export type BitWidth = NonNullable<SupernetOptions['bits']>[number];

/** Every setting of a search, resolved (preset + overrides). Saved in checkpoints and summary.json. */
export interface SearchConfig {
  /** A space id (`rfdn`, `basic`) or the path of a space document, as given. */
  readonly space: string;
  readonly preset: PresetName | null;
  readonly channels: number | null;
  readonly cells: number | null;
  readonly scale: number;
  readonly mode: SearchMode;
  readonly adq: boolean;
  /** Candidate bit-widths replacing the space's; null: the space's. */
  readonly bits: readonly BitWidth[] | null;
  readonly selector: Selector;
  readonly temperature: number;
  readonly noise: 'uniform' | 'gaussian';
  readonly noiseGradient: 'through' | 'detached';
  /** λ of the hardware penalty λ·B(α)/B(α₀). */
  readonly penalty: number;
  readonly penaltyBits: 'linear' | 'product';
  /** λ_L of the latency penalty λ_L·L(α)/L(α₀) (docs/method.md §7.1); 0: none. Alone or with `penalty`. */
  readonly latencyPenalty: number;
  /** The measured per-pair milliseconds L reads (quantnas bench latency-table); needed when latencyPenalty > 0. */
  readonly latencyTable: LatencyTable | null;
  readonly entropy: EntropyKind;
  /** λ_H. */
  readonly entropyWeight: number;
  readonly epochs: number;
  /** W: the first W epochs train w only. */
  readonly warmupEpochs: number;
  /** A number, or `pass`: one pass over the w split's patches. */
  readonly stepsPerEpoch: number | 'pass';
  readonly batchSize: number;
  readonly lrPatchSize: number;
  readonly patchesPerImage: number;
  readonly augment: { readonly flip: boolean; readonly rot90: boolean };
  readonly wLr: number;
  readonly wLrMin: number;
  readonly wWeightDecay: number;
  readonly wGradClip: number;
  readonly alphaLr: number;
  readonly alphaBeta1: number;
  readonly alphaBeta2: number;
  readonly alphaWeightDecay: number;
  /** Training sets under the data root; their images are split into w, α and validation parts. */
  readonly trainSets: readonly string[];
  /** Fractions of the images for the w, α and validation splits (disjoint). */
  readonly splits: readonly [number, number, number];
  readonly validationPatches: number;
  readonly validationPatchSize: number;
  /** Checkpoint every this many steps (and at every epoch end). */
  readonly checkpointEvery: number;
  readonly seed: number;
  /**
   * Data-parallel replicas of the supernet: 1 runs in this thread; N > 1 splits each batch over
   * this thread and N − 1 worker threads, each with its own tfjs (README, Workers).
   */
  readonly workers: number;
  /** Quantizer and optimiser kernels: `fused` (one kernel each), or `reference` (composed tfjs ops). */
  readonly kernels: 'fused' | 'reference';
  /**
   * How the result is read off the trained supernet: `alpha`, the arg-max of α per group; `checked`,
   * the arg-max unless one of the space's baselines (each uniform bit-width) scores a better path
   * objective (L1 + λ·B/B₀) on the validation split; `path`, a descent over paths scored so, started
   * from the best of those (README, Results: why).
   */
  readonly derive: DeriveMethod;
  /**
   * Which w steps train one sampled path (a uniform pair per group, α one-hot for that step) instead
   * of the α-weighted mixture: `none`, the α warm-up's (`warmup`), or every w step (`all`). Sampled
   * paths train every candidate as a network of its own, so the supernet's path scores mean something.
   */
  readonly pathSampling: PathSampling;
}

export type PathSampling = 'none' | 'warmup' | 'all';
export const PATH_SAMPLINGS: readonly PathSampling[] = ['none', 'warmup', 'all'];

export type DeriveMethod = 'alpha' | 'checked' | 'path';
export const DERIVE_METHODS: readonly DeriveMethod[] = ['alpha', 'checked', 'path'];

export type SearchOptionsOverrides = { -readonly [K in keyof SearchConfig]?: SearchConfig[K] | undefined };

/** BitOps and MACs of networks are reported at this LR size, the literature's. */
export const COST_INPUT = { height: 32, width: 32 } as const;

/** A problem with a search's options or its output directory; the message is one line. */
export class SearchError extends Error {
  override readonly name = 'SearchError';
}
