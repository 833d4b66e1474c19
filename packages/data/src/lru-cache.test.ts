import { describe, expect, it } from 'vitest';
import { ByteLruCache } from './lru-cache.js';

describe('ByteLruCache', () => {
  it('evicts the least recently used entries to stay under its byte cap', () => {
    const cache = new ByteLruCache<string, Uint8Array>(10, (v) => v.length);
    cache.set('a', new Uint8Array(4));
    cache.set('b', new Uint8Array(4));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('c', new Uint8Array(4)); // evicts b
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.stats()).toMatchObject({ bytes: 8, entries: 2, evictions: 1, peakBytes: 8 });
  });

  it('does not keep a value larger than the cap, and replaces a key in place', () => {
    const cache = new ByteLruCache<string, Uint8Array>(10, (v) => v.length);
    expect(cache.set('big', new Uint8Array(11))).toBe(false);
    expect(cache.stats().bytes).toBe(0);
    cache.set('k', new Uint8Array(6));
    cache.set('k', new Uint8Array(7));
    expect(cache.stats()).toMatchObject({ bytes: 7, entries: 1 });
  });
});
