import { describe, expect, it } from 'vitest';
import { createRng } from './rng.js';

describe('createRng', () => {
  it('produces a pinned sequence, the same on every platform', () => {
    const rng = createRng(42);
    expect([rng.uint32(), rng.uint32(), rng.uint32(), rng.uint32()]).toEqual([392327168, 2537667479, 3161833212, 2710313159]);
    const crops = createRng(42).fork('crops');
    expect([crops.uint32(), crops.uint32()]).toEqual([1832951186, 3954890878]);
  });

  it('is deterministic per seed and differs between nearby seeds', () => {
    const draw = (seed: number): number[] => {
      const r = createRng(seed);
      return Array.from({ length: 8 }, () => r.uint32());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(2 ** 40)).not.toEqual(draw(0)); // high bits of the seed count
    expect(draw(-1)).not.toEqual(draw(0));
    expect(() => createRng(0.5)).toThrow(RangeError);
  });

  it('next() is in [0, 1) and int(n) in [0, n), roughly uniform', () => {
    const rng = createRng(1);
    const counts = new Array<number>(6).fill(0);
    let outside = 0;
    for (let i = 0; i < 60000; i++) {
      const v = rng.next();
      if (!(v >= 0 && v < 1)) outside++;
      counts[rng.int(6)]++;
    }
    expect(outside).toBe(0);
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(rng.int(1)).toBe(0);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.int(2.5)).toThrow(RangeError);
  });

  it('shuffle is an in-place permutation that visits all orders of 3', () => {
    const rng = createRng(3);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const a = [1, 2, 3];
      expect(rng.shuffle(a)).toBe(a);
      expect([...a].sort()).toEqual([1, 2, 3]);
      seen.add(a.join(''));
    }
    expect(seen.size).toBe(6);
  });

  it('fork depends on the seed and label only, not on draws made before', () => {
    const a = createRng(5);
    const b = createRng(5);
    for (let i = 0; i < 10; i++) b.uint32();
    expect(a.fork('x').uint32()).toBe(b.fork('x').uint32());
    expect(a.fork('x').uint32()).not.toBe(a.fork('y').uint32());
    expect(a.fork('x').uint32()).not.toBe(createRng(6).fork('x').uint32());
    expect(a.fork(1).uint32()).toBe(a.fork('1').uint32());
  });
});
