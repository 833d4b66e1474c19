import type { NoiseKind } from './unit-noise.js';

/** What one noise mix computes; the attributes of its kernels. */
export interface NoiseMixAttrs {
  /** Index in `p` of the first bit-width's probability (p may hold a whole α group). */
  readonly offset: number;
  readonly bits: readonly number[];
  /** Per bit-width the seed of its ξ (ignored at 32 bits). */
  readonly seeds: readonly number[];
  readonly kind: NoiseKind;
  /** ReLU first (activations). */
  readonly relu: boolean;
  /** Gradient flows through the noisy copies (`through`), or only through f·T (`detached`). */
  readonly through: boolean;
  /** False: the expectation over ξ, (f + Σ a_b)·u (evaluation). */
  readonly noise: boolean;
}
