import { tf } from '@quantnas/core-ops';
import { parseBitWidth, type BitWidth } from './bits.js';
import { lsqGradScale, lsqInitialStep, lsqQuantize, lsqRange, type LsqRange } from './lsq.js';
import type { WeightScheme } from './quant-spec.js';
import { fusedKernelsAvailable } from '@quantnas/core-ops';
import { fusedLsq } from './fused/index.js';
import type { QuantKernels } from './quant-kernels.js';

// A channel of all-zero weights would initialise its step to 0; any positive step quantizes it
// to zeros, so the floor only keeps w/s finite.
const MIN_INITIAL_STEP = 1e-8;

export interface LsqWeightQuantizerOptions {
  readonly bits: BitWidth;
  readonly scheme?: WeightScheme;
  /** Output channels of the weight: the last axis of [kh, kw, in/groups, out]. */
  readonly outChannels: number;
  /** Trained steps to start from (e.g. a QuantSpec's weightSteps); otherwise LSQ's init. */
  readonly initialSteps?: readonly number[];
  /** Default `fused`. */
  readonly kernels?: QuantKernels;
}

/**
 * LSQ fake quantization of a conv weight with a learned per-output-channel step (docs/method.md §4.1);
 * 32 bits passes the weight through. The step variable starts at 0, meaning "not initialised":
 * the first forward sets every non-positive channel step from the weight it sees
 * (2·mean|W_c|/sqrt(qp)), and keeps positive ones, so steps restored from a checkpoint before
 * that first forward survive. The step is not constrained afterwards; LSQ keeps it positive in
 * practice.
 */
export class LsqWeightQuantizer {
  readonly bits: BitWidth;
  readonly scheme: WeightScheme;
  /** The integer range, null at 32 bits. */
  readonly range: LsqRange | null;
  /** Per-output-channel steps, null at 32 bits. */
  readonly step: tf.Variable<tf.Rank.R1> | null;
  readonly kernels: QuantKernels;
  private initialized: boolean;

  constructor(options: LsqWeightQuantizerOptions) {
    this.bits = parseBitWidth(options.bits);
    this.scheme = options.scheme ?? 'lsq';
    this.kernels = options.kernels ?? 'fused';
    if (this.scheme !== 'lsq' && this.scheme !== 'lsq-symmetric') {
      throw new Error(`unknown weight scheme '${String(this.scheme)}' (expected lsq or lsq-symmetric)`);
    }
    const n = options.outChannels;
    if (!Number.isInteger(n) || n <= 0) throw new Error(`LSQ needs a positive channel count, got ${n}`);
    if (this.bits === 32) {
      this.range = null;
      this.step = null;
      this.initialized = true;
      return;
    }
    this.range = lsqRange(this.bits, this.scheme);
    const init = options.initialSteps;
    if (init !== undefined && (init.length !== n || !init.every((s) => s > 0))) {
      throw new Error(`initial weight steps must be ${n} positive numbers, got ${init.length} values`);
    }
    this.step = tf.tidy(() => tf.variable(init ? tf.tensor1d([...init]) : tf.zeros([n]), true) as tf.Variable<tf.Rank.R1>);
    this.initialized = init !== undefined;
  }

  /** The fake-quantized weight (a new tensor; the input is never returned as is). */
  apply(w: tf.Tensor4D): tf.Tensor4D {
    const { step, range } = this;
    if (step === null || range === null) return w.clone();
    const n = step.shape[0];
    if (w.shape[3] !== n) throw new Error(`LSQ weight has ${w.shape[3]} output channels, the quantizer ${n}`);
    this.initializeFrom(w);
    const gradScale = lsqGradScale(range.qp, w.size);
    if (this.kernels === 'fused' && fusedKernelsAvailable()) return fusedLsq(w, step, range, gradScale);
    return tf.tidy(() => lsqQuantize(w, step, range, gradScale));
  }

  private initializeFrom(w: tf.Tensor4D): void {
    if (this.initialized || this.step === null || this.range === null) return;
    const step = this.step;
    const qp = this.range.qp;
    tf.tidy(() => {
      const fresh = tf.maximum(lsqInitialStep(w, qp), MIN_INITIAL_STEP);
      const keep = tf.step(step);
      step.assign(tf.add(tf.mul(keep, step), tf.mul(tf.sub(1, keep), fresh)) as tf.Tensor1D);
    });
    this.initialized = true;
  }

  dispose(): void {
    this.step?.dispose();
  }
}
