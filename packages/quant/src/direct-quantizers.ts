import { tf, type ConvQuantizer, type ConvSite } from '@quantnas/core-ops';
import { ActivationQuantizer } from './activation-quantizer.js';
import type { BitWidth } from './bits.js';
import { parseBitList } from './bit-list.js';
import { LsqWeightQuantizer } from './lsq-weight-quantizer.js';
import { checkProbabilities } from './quant-noise.js';
import type { ActivationScheme, WeightScheme } from './quant-spec.js';
import { fusedKernelsAvailable } from '@quantnas/core-ops';
import { fusedWeightedSum } from './fused/index.js';
import { checkProbabilityRange, probabilitySlice, type QuantKernels } from './quant-kernels.js';

export interface DirectQuantizerOptions {
  /** Candidate bit-widths B of every conv (32 = full precision). */
  readonly bits: readonly BitWidth[];
  /** For each conv, a function returning its in-block probabilities p_b, called every forward. */
  readonly probabilities: (site: ConvSite) => () => tf.Tensor1D;
  /** Where this conv's p_b start in the vector `probabilities` returns (a whole α group); default 0. */
  readonly probabilityOffset?: number;
  readonly weightScheme?: WeightScheme;
  readonly activationScheme?: ActivationScheme;
  /** Default `fused`. */
  readonly kernels?: QuantKernels;
}

/**
 * Direct quantization with shared weights during the search (docs/method.md §4.3):
 * Ŵ = Σ_b (p_b/Σp)·LSQ_b(W), x̂ = Σ_b (p_b/Σp)·HWGQ_b(x), one weight tensor and one trained LSQ
 * step set per bit-width (`${site}.wstep${b}`; learned activation steps `${site}.astep${b}`).
 * Training and inference compute the same thing.
 */
export class DirectConvQuantizer implements ConvQuantizer {
  readonly site: ConvSite;
  readonly bits: readonly BitWidth[];
  readonly weightQuantizers: readonly LsqWeightQuantizer[];
  readonly activationQuantizers: readonly ActivationQuantizer[];
  private readonly probabilities: () => tf.Tensor1D;
  private readonly offset: number | undefined;
  private readonly kernels: QuantKernels;
  private readonly vars = new Map<string, tf.Variable>();

  constructor(site: ConvSite, options: DirectQuantizerOptions) {
    this.site = site;
    this.bits = parseBitList(options.bits);
    const weightScheme = options.weightScheme ?? 'lsq';
    const activationScheme = options.activationScheme ?? 'hwgq';
    this.kernels = options.kernels ?? 'fused';
    const kernels = this.kernels;
    this.weightQuantizers = this.bits.map((bits) => new LsqWeightQuantizer({ bits, scheme: weightScheme, outChannels: site.shape.outChannels, kernels }));
    this.activationQuantizers = this.bits.map((bits) => new ActivationQuantizer({ bits, scheme: activationScheme, kernels }));
    this.bits.forEach((b, i) => {
      const ws = this.weightQuantizers[i]!.step;
      const as = this.activationQuantizers[i]!.step;
      if (ws) this.vars.set(`wstep${b}`, ws);
      if (as) this.vars.set(`astep${b}`, as);
    });
    this.probabilities = options.probabilities(site);
    this.offset = options.probabilityOffset;
  }

  /** The same in training and inference. */
  input(x: tf.Tensor4D, _training = true): tf.Tensor4D {
    return this.mix((i) => this.activationQuantizers[i]!.apply(x));
  }

  weight(w: tf.Tensor4D, _training = true): tf.Tensor4D {
    return this.mix((i) => this.weightQuantizers[i]!.apply(w));
  }

  private mix(quantized: (i: number) => tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const vector = this.probabilities();
      if (this.kernels === 'fused' && fusedKernelsAvailable()) {
        if (this.offset === undefined) checkProbabilities(vector, this.bits);
        else checkProbabilityRange(vector, this.offset, this.bits.length);
        const terms = this.bits.map((_, i) => quantized(i));
        return fusedWeightedSum(terms, vector, { weighting: 'normalized', terms: terms.map((_, i) => i), perOp: 0, offset: this.offset ?? 0 });
      }
      const p = probabilitySlice(vector, this.offset ?? 0, this.bits.length);
      checkProbabilities(p, this.bits);
      const weights = tf.unstack(tf.div(p, tf.sum(p)));
      return tf.addN(this.bits.map((_, i) => tf.mul(quantized(i), weights[i]!))) as tf.Tensor4D;
    });
  }

  variables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  dispose(): void {
    for (const q of this.weightQuantizers) q.dispose();
    for (const q of this.activationQuantizers) q.dispose();
    this.vars.clear();
  }
}

/** Direct-quantization quantizers for the search baseline. */
export function directQuantizers(options: DirectQuantizerOptions): (site: ConvSite) => DirectConvQuantizer {
  parseBitList(options.bits);
  return (site) => new DirectConvQuantizer(site, options);
}
