/**
 * A small seeded generator (sfc32, seeded through splitmix32) whose sequence depends only on the
 * seed: the same on every run, platform and Node version, unlike Math.random. `fork(label)` derives
 * an independent stream from the seed and a label, so that adding draws to one consumer (say, crop
 * positions) does not shift another (the epoch order).
 */
export interface Rng {
  /** A float in [0, 1) with 32 random bits. */
  next(): number;
  /** A uniform 32-bit unsigned integer. */
  uint32(): number;
  /** A uniform integer in [0, n), without modulo bias; `n` is an integer in 1 … 2^32. */
  int(n: number): number;
  /** true or false with equal odds. */
  bool(): boolean;
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T>(array: T[]): T[];
  /** A new generator determined by this generator's seed and `label`, not by draws made so far. */
  fork(label: string | number): Rng;
}

const TWO_32 = 2 ** 32;

/** A generator for an integer `seed` (any safe integer, negative included). */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`rng seed must be a safe integer, got ${seed}`);
  return fromKey(seed >>> 0, Math.floor(seed / TWO_32) >>> 0);
}

function fromKey(k0: number, k1: number): Rng {
  // splitmix32 spreads the key over the four state words; a few rounds decorrelate close seeds.
  let sm = (k0 ^ mix32(k1 ^ 0x6a09e667)) | 0;
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    return mix32(sm);
  };
  let a = splitmix() | 0;
  let b = splitmix() | 0;
  let c = splitmix() | 0;
  let d = splitmix() | 0;
  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) uint32();

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`rng.int bound must be an integer in 1..2^32, got ${n}`);
    }
    // Reject the top partial block so every residue is equally likely.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const u = uint32();
      if (u < limit) return u % n;
    }
  };

  return {
    next: () => uint32() / TWO_32,
    uint32,
    int,
    bool: () => (uint32() & 0x80000000) !== 0,
    shuffle<T>(array: T[]): T[] {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
    fork(label: string | number): Rng {
      const text = String(label);
      // FNV-1a over the label's UTF-16 code units, twice with different bases, mixed with the key.
      let h0 = 0x811c9dc5 ^ k0;
      let h1 = 0x01000193 ^ k1;
      for (let i = 0; i < text.length; i++) {
        const ch = text.charCodeAt(i);
        h0 = Math.imul(h0 ^ ch, 0x01000193);
        h1 = Math.imul(h1 ^ ch, 0x5bd1e995);
      }
      return fromKey(mix32(h0 ^ 0x5f3759df) >>> 0, mix32(h1 + text.length) >>> 0);
    },
  };
}

/** The splitmix32 / murmur3 finaliser: a bijection on 32-bit integers with good avalanche. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
