import { tf } from '@quantnas/core-ops';
import { parseBitWidth, type BitWidth } from './bits.js';
import { activationInitialStep, activationLevels, hwgqFixedStep, hwgqQuantize, imageStep } from './hwgq.js';
import { lsqGradScale } from './lsq.js';
import type { ActivationScheme } from './quant-spec.js';
import { fusedKernelsAvailable } from '@quantnas/core-ops';
import { fusedHwgq } from './fused/index.js';
import type { QuantKernels } from './quant-kernels.js';

const MIN_INITIAL_STEP = 1e-8;

export interface ActivationQuantizerOptions {
  readonly bits: BitWidth;
  /** `hwgq` (default): the published fixed step, learned where none is published; `lsq`: learned; `image`: 1/(2^b − 1). */
  readonly scheme?: ActivationScheme;
  /** Start value of a learned step (e.g. a QuantSpec's activationStep). */
  readonly initialStep?: number;
  /** Default `fused`. */
  readonly kernels?: QuantKernels;
}

/** How a quantizer's activation step is obtained. */
export type ActivationStepKind = 'none' | 'fixed' | 'learned';

/**
 * The unsigned activation quantizer in front of every conv: ReLU at 32 bits, otherwise HWGQ
 * (docs/method.md §4.1). The step is HWGQ's published one for 2, 3, 4 and 8 bits; 5, 6 and 7 bits have
 * none, so they (and any bits with scheme `lsq`) use a learned step: LSQ on activations with the
 * unsigned range [0, 2^b − 1], gradient scale 1/sqrt((2^b − 1)·numel(x)) over the whole batch,
 * initialised on the first forward to 2·mean(x⁺)/sqrt(2^b − 1) unless a start value is given.
 * Scheme `image` (convs reading an image in [0, 1]) has the fixed step 1/(2^b − 1) instead.
 */
export class ActivationQuantizer {
  readonly bits: BitWidth;
  readonly scheme: ActivationScheme;
  readonly stepKind: ActivationStepKind;
  /** The fixed step (float32), null unless stepKind is `fixed`. */
  readonly fixedStep: number | null;
  /** The learned scalar step, null unless stepKind is `learned`. */
  readonly step: tf.Variable<tf.Rank.R0> | null;
  readonly kernels: QuantKernels;
  private initialized: boolean;

  constructor(options: ActivationQuantizerOptions) {
    this.bits = parseBitWidth(options.bits);
    const scheme = options.scheme ?? 'hwgq';
    if (scheme !== 'hwgq' && scheme !== 'lsq' && scheme !== 'image') {
      throw new Error(`unknown activation scheme '${String(scheme)}' (expected hwgq, lsq or image)`);
    }
    this.scheme = scheme;
    this.kernels = options.kernels ?? 'fused';
    const init = options.initialStep;
    if (init !== undefined && !(init > 0)) throw new Error(`initial activation step must be positive, got ${init}`);
    this.initialized = true;
    this.fixedStep = null;
    this.step = null;
    if (this.bits === 32) {
      this.stepKind = 'none';
      return;
    }
    const published = scheme === 'hwgq' ? hwgqFixedStep(this.bits) : scheme === 'image' ? imageStep(this.bits) : undefined;
    if (published !== undefined) {
      if (init !== undefined && Math.fround(init) !== published) {
        throw new Error(`${scheme === 'image' ? 'Image' : 'HWGQ'} ${this.bits}-bit activations have the fixed step ${published}, got ${init}`);
      }
      this.stepKind = 'fixed';
      this.fixedStep = published;
      return;
    }
    this.stepKind = 'learned';
    this.step = tf.tidy(() => tf.variable(tf.scalar(init ?? 0), true) as tf.Variable<tf.Rank.R0>);
    this.initialized = init !== undefined;
  }

  /** The quantized activation (a new tensor). */
  apply<T extends tf.Tensor>(x: T): T {
    if (this.stepKind === 'none') return tf.relu(x);
    const fused = this.kernels === 'fused' && fusedKernelsAvailable();
    const levels = activationLevels(this.bits);
    if (this.fixedStep !== null) return fused ? fusedHwgq(x, levels, this.fixedStep) : hwgqQuantize(x, this.bits, this.fixedStep);
    const step = this.step!;
    this.initializeFrom(x);
    const gradScale = lsqGradScale(levels, x.size);
    return fused ? fusedHwgq(x, levels, step, gradScale) : tf.tidy(() => hwgqQuantize(x, this.bits, step, gradScale));
  }

  private initializeFrom(x: tf.Tensor): void {
    if (this.initialized || this.step === null) return;
    const step = this.step;
    tf.tidy(() => {
      const fresh = tf.maximum(activationInitialStep(x, this.bits), MIN_INITIAL_STEP);
      const keep = tf.step(step);
      step.assign(tf.add(tf.mul(keep, step), tf.mul(tf.sub(1, keep), fresh)) as tf.Scalar);
    });
    this.initialized = true;
  }

  dispose(): void {
    this.step?.dispose();
  }
}
