/** Counters of a `ByteLruCache`. */
export interface CacheStats {
  capBytes: number;
  bytes: number;
  /** The most bytes held at any moment. */
  peakBytes: number;
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
}

/**
 * A least-recently-used cache bounded by the total byte size of its values, so that decoded
 * training images cannot grow without limit. A value larger than the cap is simply not kept.
 */
export class ByteLruCache<K, V> {
  // Map iteration follows insertion order: re-inserting on use keeps the oldest first.
  private readonly map = new Map<K, { value: V; bytes: number }>();
  private held = 0;
  private peak = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    readonly capBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {
    if (!(capBytes >= 0)) throw new RangeError(`cache cap must be >= 0 bytes, got ${capBytes}`);
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  /** Stores `value`, evicting the least recently used entries; false if it alone exceeds the cap. */
  set(key: K, value: V): boolean {
    this.delete(key);
    const bytes = this.sizeOf(value);
    if (bytes > this.capBytes) return false;
    for (const [oldKey, old] of this.map) {
      if (this.held + bytes <= this.capBytes) break;
      this.map.delete(oldKey);
      this.held -= old.bytes;
      this.evictions++;
    }
    this.map.set(key, { value, bytes });
    this.held += bytes;
    this.peak = Math.max(this.peak, this.held);
    return true;
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.held -= entry.bytes;
  }

  stats(): CacheStats {
    return {
      capBytes: this.capBytes,
      bytes: this.held,
      peakBytes: this.peak,
      entries: this.map.size,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }
}
