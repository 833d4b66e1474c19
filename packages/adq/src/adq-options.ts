/** Settings of one ADQ residual unit (docs/method.md §5). */
export interface AdqOptions {
  /** Off: `out = F(x) + x`. On: `out = F(BN(x)) · φ(σ(x)) + x`. */
  readonly enabled: boolean;
  /** Initial slope `a` and offset `c` of φ(σ) = a·σ + c (both learned). */
  readonly initSlope: number;
  readonly initOffset: number;
  /** Batch-norm running-statistics momentum and variance epsilon. */
  readonly bnMomentum: number;
  readonly bnEpsilon: number;
  /**
   * Degrees of freedom removed from the σ denominator: 1 gives the sample standard deviation
   * (N − 1, as torch.std), 0 the population one. The runtime must use the same value.
   */
  readonly sigmaCorrection: 0 | 1;
}

export const DEFAULT_ADQ_OPTIONS: AdqOptions = {
  enabled: true,
  initSlope: 1.5,
  initOffset: 0,
  bnMomentum: 0.1,
  bnEpsilon: 1e-5,
  sigmaCorrection: 1,
};
