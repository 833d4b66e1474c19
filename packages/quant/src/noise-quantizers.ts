import { tf, type ConvQuantizer, type ConvSite } from '@quantnas/core-ops';
import type { BitWidth } from './bits.js';
import { parseBitList } from './bit-list.js';
import { noiseSeed } from './noise-seed.js';
import { checkProbabilities, quantNoiseExpectation, quantNoiseMix, quantNoiseRounded, unitNoise, type NoiseGradient, type NoiseKind } from './quant-noise.js';
import { fusedKernelsAvailable } from '@quantnas/core-ops';
import { fusedNoiseMix } from './fused/index.js';
import { checkProbabilityRange, probabilitySlice, type QuantKernels } from './quant-kernels.js';

/** One unit-noise draw ξ the quantizer asks for. */
export interface NoiseRequest {
  readonly site: string;
  readonly tensor: 'weight' | 'input';
  readonly bits: BitWidth;
  /** How many draws this conv made for this tensor before (0, 1, 2, ...). */
  readonly draw: number;
  readonly shape: readonly number[];
  /** The derived seed the default sampler uses. */
  readonly seed: number;
  readonly kind: NoiseKind;
}

/** Supplies ξ for a request (default: seeded `unitNoise`); a hook for tests and experiments. */
export type NoiseSampler = (request: NoiseRequest) => tf.Tensor;

export interface NoiseQuantizerOptions {
  /** Candidate bit-widths B of every conv (32 = full precision: no noise). */
  readonly bits: readonly BitWidth[];
  /**
   * For each conv, a function returning its in-block probabilities p_b (length |B|), called on
   * every forward inside the gradient scope so that gradients reach α; or a longer vector (a whole
   * α group's softmax) holding them from `probabilityOffset` on.
   */
  readonly probabilities: (site: ConvSite) => () => tf.Tensor1D;
  /** Where this conv's p_b start in the vector `probabilities` returns; default 0. */
  readonly probabilityOffset?: number;
  /** `fused` (default): one kernel per mix where the backend has them; `reference`: composed tfjs ops. */
  readonly kernels?: QuantKernels;
  /** Default `uniform` (docs/method.md §4.2). */
  readonly noise?: NoiseKind;
  /** Default `through`. */
  readonly noiseGradient?: NoiseGradient;
  /** Run seed: the same seed gives the same noise sequence. */
  readonly seed: number;
  /** Supplies ξ (tests, experiments); implies the reference kernels, which take ξ as tensors. */
  readonly sampleNoise?: NoiseSampler;
  /**
   * What a forward that is not training computes, read on every such forward: `expectation`
   * (default; the mean over ξ, what validation during the search uses) or `rounded` (each bit-width
   * applied as real rounding, what a path's score needs to see the cost of fewer bits).
   */
  readonly evaluation?: () => NoiseEvaluation;
}

/** See `NoiseQuantizerOptions.evaluation`. */
export type NoiseEvaluation = 'expectation' | 'rounded';
export const NOISE_EVALUATIONS: readonly NoiseEvaluation[] = ['expectation', 'rounded'];

const defaultSampler: NoiseSampler = (r) => unitNoise(r.shape, r.kind, r.seed);
const NO_VARIABLES: ReadonlyMap<string, tf.Variable> = new Map();

/**
 * Quantization noise for one conv during the search (docs/method.md §4.2). Training: input →
 * f·x⁺ + Σ a_b·QN_b(x⁺), weight → f·W + Σ a_b·QN_b(W), fresh ξ each forward. Not training: the
 * expectation over ξ, (f + Σ a_b)·x⁺ and (f + Σ a_b)·W, so validation sees the scale the network
 * trained at (f + Σ a_b is not 1 in general). No learned variables.
 */
export class NoiseConvQuantizer implements ConvQuantizer {
  readonly site: ConvSite;
  readonly bits: readonly BitWidth[];
  readonly noise: NoiseKind;
  readonly noiseGradient: NoiseGradient;
  private readonly probabilities: () => tf.Tensor1D;
  private readonly offset: number;
  /** No offset given: the vector must hold exactly |B| probabilities. */
  private readonly exact: boolean;
  private readonly fused: boolean;
  private readonly seed: number;
  private readonly sample: NoiseSampler;
  private readonly draws = { weight: 0, input: 0 };
  private readonly evaluation: () => NoiseEvaluation;

  constructor(site: ConvSite, options: NoiseQuantizerOptions) {
    this.site = site;
    this.bits = parseBitList(options.bits);
    this.noise = options.noise ?? 'uniform';
    this.noiseGradient = options.noiseGradient ?? 'through';
    if (this.noise !== 'uniform' && this.noise !== 'gaussian') throw new Error(`unknown noise '${String(this.noise)}' (expected uniform or gaussian)`);
    if (this.noiseGradient !== 'through' && this.noiseGradient !== 'detached') {
      throw new Error(`unknown noiseGradient '${String(this.noiseGradient)}' (expected through or detached)`);
    }
    if (!Number.isFinite(options.seed)) throw new Error(`noise seed must be a finite number, got ${options.seed}`);
    this.seed = options.seed;
    this.sample = options.sampleNoise ?? defaultSampler;
    this.probabilities = options.probabilities(site);
    this.offset = options.probabilityOffset ?? 0;
    this.exact = options.probabilityOffset === undefined;
    this.fused = (options.kernels ?? 'fused') === 'fused' && options.sampleNoise === undefined;
    this.evaluation = options.evaluation ?? (() => 'expectation');
  }

  input(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (!training && this.rounded()) return tf.tidy(() => this.applyRounded(tf.relu(x)));
    return this.fused && fusedKernelsAvailable() ? this.applyFused(x, 'input', training) : tf.tidy(() => this.apply(tf.relu(x), 'input', training));
  }

  weight(w: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (!training && this.rounded()) return this.applyRounded(w);
    return this.fused && fusedKernelsAvailable() ? this.applyFused(w, 'weight', training) : tf.tidy(() => this.apply(w, 'weight', training));
  }

  private rounded(): boolean {
    const evaluation = this.evaluation();
    if (evaluation !== 'expectation' && evaluation !== 'rounded')
      throw new Error(`unknown noise evaluation '${String(evaluation)}' (expected expectation or rounded)`);
    return evaluation === 'rounded';
  }

  private applyRounded(t: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const p = probabilitySlice(this.probabilities(), this.offset, this.bits.length);
      checkProbabilities(p, this.bits);
      return quantNoiseRounded(t, p, this.bits);
    });
  }

  private seedsOf(tensor: 'weight' | 'input', draw: number): number[] {
    return this.bits.map((bits) => (bits === 32 ? 0 : noiseSeed(this.seed, this.site.name, tensor, bits, draw)));
  }

  private applyFused(t: tf.Tensor4D, tensor: 'weight' | 'input', training: boolean): tf.Tensor4D {
    const p = this.probabilities();
    if (this.exact) checkProbabilities(p, this.bits);
    else checkProbabilityRange(p, this.offset, this.bits.length);
    const draw = training ? this.draws[tensor]++ : 0;
    return fusedNoiseMix(t, p, {
      offset: this.offset,
      bits: this.bits,
      seeds: training ? this.seedsOf(tensor, draw) : this.bits.map(() => 0),
      kind: this.noise,
      relu: tensor === 'input',
      through: this.noiseGradient === 'through',
      noise: training,
    });
  }

  private apply(t: tf.Tensor4D, tensor: 'weight' | 'input', training: boolean): tf.Tensor4D {
    const p = probabilitySlice(this.probabilities(), this.offset, this.bits.length);
    checkProbabilities(p, this.bits);
    if (!training) return quantNoiseExpectation(t, p, this.bits);
    const draw = this.draws[tensor]++;
    const seeds = this.seedsOf(tensor, draw);
    const xi = this.bits.map((bits, i) =>
      bits === 32 ? null : this.sample({ site: this.site.name, tensor, bits, draw, shape: t.shape, seed: seeds[i]!, kind: this.noise }),
    );
    return quantNoiseMix({ tensor: t, probabilities: p, bits: this.bits, unitNoise: xi, gradient: this.noiseGradient });
  }

  variables(): ReadonlyMap<string, tf.Variable> {
    return NO_VARIABLES;
  }

  dispose(): void {}
}

/** QN quantizers for the search: one convolution per op per step whatever |B| is. */
export function noiseQuantizers(options: NoiseQuantizerOptions): (site: ConvSite) => NoiseConvQuantizer {
  parseBitList(options.bits);
  return (site) => new NoiseConvQuantizer(site, options);
}
