/** The distribution of the unit noise ξ that quantization noise scales. */
export type NoiseKind = 'uniform' | 'gaussian';

// Counter-based noise: ξ at flat index i is a hash of (seed, i), so a fused kernel regenerates in
// its backward pass exactly the values its forward pass used, without storing them, and the
// composed reference path materialises the same values as a tensor.

/** murmur3's 32-bit finaliser: a bijection that spreads nearby inputs apart. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const GOLDEN = 0x9e3779b9;
const TWO_POW_25 = 2 ** 25;

/** The per-tensor key of a seed: computed once per draw, then combined with each index. */
export function noiseKey(seed: number): number {
  return mix32(seed >>> 0);
}

/**
 * U(−1/2, 1/2) at index i: the hash's top 24 bits as the centre of one of 2^24 equal cells, so
 * values are symmetric about 0 and exact in float32.
 */
export function uniformAt(key: number, i: number): number {
  const h = mix32((key + Math.imul(i, GOLDEN)) | 0);
  return (2 * (h >>> 8) + 1 - 0x1000000) / TWO_POW_25;
}

/** N(0, 1/4) at index i (Box–Muller on two hashed uniforms), rounded to float32. */
export function gaussianAt(key: number, i: number): number {
  const u1 = uniformAt(key, 2 * i) + 0.5; // (0, 1)
  const u2 = uniformAt(key ^ 0x5bd1e995, 2 * i + 1) + 0.5;
  return Math.fround(0.5 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
}

/** ξ for a whole tensor of `out.length` elements, flat row-major order. */
export function fillUnitNoise(out: Float32Array, seed: number, kind: NoiseKind): Float32Array {
  const key = noiseKey(seed);
  if (kind === 'uniform') for (let i = 0; i < out.length; i++) out[i] = uniformAt(key, i);
  else for (let i = 0; i < out.length; i++) out[i] = gaussianAt(key, i);
  return out;
}
