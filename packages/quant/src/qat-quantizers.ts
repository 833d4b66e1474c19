import { tf, type ConvQuantizer, type ConvSite } from '@quantnas/core-ops';
import { parseBitWidth, type BitWidth } from './bits.js';
import { ActivationQuantizer } from './activation-quantizer.js';
import { integerWeights, type IntegerWeights } from './integer.js';
import { LsqWeightQuantizer } from './lsq-weight-quantizer.js';
import type { ActivationScheme, LayerQuant, WeightScheme } from './quant-spec.js';
import type { QuantKernels } from './quant-kernels.js';

/** What QAT needs to know about one conv; a `LayerQuant` fits (its steps are start values). */
export interface QatLayerSpec {
  readonly weightBits: BitWidth;
  readonly activationBits: BitWidth;
  readonly weightScheme: WeightScheme;
  readonly activationScheme: ActivationScheme;
  readonly weightSteps?: readonly number[];
  readonly activationStep?: number;
  /** Default `fused`. */
  readonly kernels?: QuantKernels;
}

/** A QAT conv's integer form: null parts stay float (32 bits). */
export interface IntegerConvExport {
  readonly weights: IntegerWeights | null;
  /** The input's unsigned codes are round(clamp(x, 0, step·(2^bits − 1)) / step). */
  readonly activation: { readonly bits: number; readonly step: number } | null;
}

/**
 * The quantizer of one conv in QAT: LSQ weights and HWGQ activations at the layer's bits
 * (docs/method.md §4.1). Variables: `${site}.wstep${b}` (per-output-channel weight steps) and, for a
 * learned activation step, `${site}.astep${b}`.
 */
export class QatConvQuantizer implements ConvQuantizer {
  readonly site: ConvSite;
  readonly weightQuantizer: LsqWeightQuantizer;
  readonly activationQuantizer: ActivationQuantizer;
  private readonly vars = new Map<string, tf.Variable>();

  constructor(site: ConvSite, spec: QatLayerSpec) {
    this.site = site;
    const weightBits = parseBitWidth(spec.weightBits);
    const activationBits = parseBitWidth(spec.activationBits);
    this.weightQuantizer = new LsqWeightQuantizer({
      bits: weightBits,
      scheme: spec.weightScheme,
      outChannels: site.shape.outChannels,
      ...(spec.weightSteps !== undefined ? { initialSteps: spec.weightSteps } : {}),
      ...(spec.kernels !== undefined ? { kernels: spec.kernels } : {}),
    });
    this.activationQuantizer = new ActivationQuantizer({
      bits: activationBits,
      scheme: spec.activationScheme,
      ...(spec.activationStep !== undefined ? { initialStep: spec.activationStep } : {}),
      ...(spec.kernels !== undefined ? { kernels: spec.kernels } : {}),
    });
    if (this.weightQuantizer.step) this.vars.set(`wstep${weightBits}`, this.weightQuantizer.step);
    if (this.activationQuantizer.step) this.vars.set(`astep${activationBits}`, this.activationQuantizer.step);
  }

  /** The same in training and inference. */
  input(x: tf.Tensor4D, _training = true): tf.Tensor4D {
    return this.activationQuantizer.apply(x);
  }

  weight(w: tf.Tensor4D, _training = true): tf.Tensor4D {
    return this.weightQuantizer.apply(w);
  }

  variables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  /** The trained quantization of this layer, steps included, for a QuantSpec. */
  async layerQuant(fixed: boolean): Promise<LayerQuant> {
    const { weightQuantizer: wq, activationQuantizer: aq } = this;
    const weightSteps = wq.step ? Array.from(await wq.step.data()) : undefined;
    const activationStep = aq.step ? (await aq.step.data())[0]! : (aq.fixedStep ?? undefined);
    return {
      weightBits: wq.bits,
      activationBits: aq.bits,
      weightScheme: wq.scheme,
      activationScheme: aq.stepKind === 'learned' ? 'lsq' : aq.scheme === 'image' ? 'image' : 'hwgq',
      fixed,
      ...(weightSteps !== undefined ? { weightSteps } : {}),
      ...(activationStep !== undefined ? { activationStep } : {}),
    };
  }

  /**
   * Integer weights (from `w`, the conv's float weight, and the trained steps) and the input's
   * activation scale. Call after at least one forward so that the steps are initialised.
   */
  async exportInteger(w: tf.Tensor4D): Promise<IntegerConvExport> {
    const { weightQuantizer: wq, activationQuantizer: aq } = this;
    let weights: IntegerWeights | null = null;
    if (wq.step) {
      const steps = await wq.step.data();
      if (!steps.every((s) => s > 0)) throw new Error(`${this.site.name}: weight steps are not initialised (run a forward first)`);
      weights = integerWeights(await w.data(), w.shape, steps, wq.bits, wq.scheme);
    }
    let activation: IntegerConvExport['activation'] = null;
    if (aq.stepKind !== 'none') {
      const step = aq.step ? (await aq.step.data())[0]! : aq.fixedStep!;
      if (!(step > 0)) throw new Error(`${this.site.name}: the activation step is not initialised (run a forward first)`);
      activation = { bits: aq.bits, step };
    }
    return { weights, activation };
  }

  dispose(): void {
    this.weightQuantizer.dispose();
    this.activationQuantizer.dispose();
    this.vars.clear();
  }
}

/**
 * QAT quantizers: LSQ weights and HWGQ activations per conv at the bits `spec` gives for its site.
 * Which layers are fixed at 8 bits is the caller's decision, expressed through `spec`.
 */
export function qatQuantizers(spec: (site: ConvSite) => QatLayerSpec): (site: ConvSite) => QatConvQuantizer {
  return (site) => new QatConvQuantizer(site, spec(site));
}
