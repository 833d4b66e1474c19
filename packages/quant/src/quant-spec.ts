import type { BitWidth } from './bits.js';

/** How weights are quantized: LSQ with the full signed range, or symmetric (what integer kernels prefer). */
export type WeightScheme = 'lsq' | 'lsq-symmetric';
/** How activations are quantized: HWGQ with its fixed steps, or a learned LSQ step. */
/**
 * `hwgq`: HWGQ's fixed steps (unit-variance activations); `lsq`: a learned step; `image`: the
 * uniform grid on [0, 1] (step 1/(2^b − 1)), for convs that read an image: at 8 bits a uint8
 * image passes unchanged, where HWGQ's 8-bit step (0.0203) would leave it 50 levels.
 */
export type ActivationScheme = 'hwgq' | 'lsq' | 'image';

/** The quantization of one conv layer of a discrete network. */
export interface LayerQuant {
  readonly weightBits: BitWidth;
  readonly activationBits: BitWidth;
  readonly weightScheme: WeightScheme;
  readonly activationScheme: ActivationScheme;
  /** Layers the search space fixes (always 8-bit), as opposed to searched ones. */
  readonly fixed: boolean;
  /** Per-output-channel weight steps, once trained. */
  readonly weightSteps?: readonly number[];
  /** The activation step, once known (HWGQ: the fixed step for its bit-width). */
  readonly activationStep?: number;
}

/** Per-layer quantization of a whole network, keyed by layer name. */
export interface QuantSpec {
  readonly schemaVersion: 1;
  readonly layers: Readonly<Record<string, LayerQuant>>;
}
