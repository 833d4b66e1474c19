import { tf } from '@quantnas/core-ops';

/**
 * How quantizers compute: `fused` runs one kernel per quantizer or mix (and per gradient) where
 * the backend has them (cpu, wasm), falling back to `reference` elsewhere; `reference` composes
 * tfjs ops, the definition the fused kernels are tested against.
 */
export type QuantKernels = 'fused' | 'reference';
export const QUANT_KERNELS: readonly QuantKernels[] = ['fused', 'reference'];

export function parseQuantKernels(value: string): QuantKernels {
  if ((QUANT_KERNELS as readonly string[]).includes(value)) return value as QuantKernels;
  throw new Error(`unknown kernels '${value}' (expected ${QUANT_KERNELS.join(' or ')})`);
}

/** p[offset .. offset + n) of a probability vector (the vector itself when it is exactly that). */
export function probabilitySlice(p: tf.Tensor1D, offset: number, n: number): tf.Tensor1D {
  if (offset === 0 && p.rank === 1 && p.shape[0] === n) return p;
  checkProbabilityRange(p, offset, n);
  return tf.slice(p, [offset], [n]);
}

export function checkProbabilityRange(p: tf.Tensor, offset: number, n: number): void {
  if (p.rank !== 1 || !Number.isInteger(offset) || offset < 0 || offset + n > p.shape[0]!) {
    throw new Error(`expected ${n} probabilities from index ${offset}, got a tensor of shape [${p.shape.join(', ')}]`);
  }
}
