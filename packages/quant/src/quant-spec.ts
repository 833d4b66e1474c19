import type { BitWidth } from './bits.js';

/** How weights are quantized: LSQ with the full signed range, or symmetric (what integer kernels prefer). */
export type WeightScheme = 'lsq' | 'lsq-symmetric';
/** How activations are quantized: HWGQ with its fixed steps, or a learned LSQ step. */
export type ActivationScheme = 'hwgq' | 'lsq';

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
