/**
 * Deterministic initialisation: every tensor's values are derived from (seed, variable name), so a
 * model built twice with the same seed is identical whatever the order its parts are created in,
 * and adding a layer does not change the initial values of the others.
 */

/** 32-bit FNV-1a hash of a string, mixed with a seed. */
export function hashSeed(seed: number, key: string): number {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so that names differing in one trailing character give unrelated streams.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A small counter-based generator (mulberry32): uniform floats in [0, 1). */
export function uniformStream(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` values uniform in [low, high), reproducible from (seed, key). */
export function seededUniform(seed: number, key: string, count: number, low: number, high: number): Float32Array {
  const next = uniformStream(hashSeed(seed, key));
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = low + (high - low) * next();
  return out;
}
