/**
 * A 32-bit seed for one noise draw, derived from the run's seed and what is drawn, so that the
 * same run seed replays the same noise sequence, independently of how convs interleave. Never 0
 * (tfjs treats a zero seed as "unseeded").
 */
export function noiseSeed(seed: number, site: string, tensor: 'weight' | 'input', bits: number, draw: number): number {
  // FNV-1a over the key, then murmur3's finaliser to spread nearby keys apart.
  const key = `${seed}|${site}|${tensor}|${bits}|${draw}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0 || 1;
}
