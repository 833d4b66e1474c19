import { describe, expect, it } from 'vitest';
import { packInt4, unpackInt4 } from './int4.js';

describe('int4 packing', () => {
  it("puts element 2i in the low nibble and 2i + 1 in the high nibble, two's complement", () => {
    expect(Array.from(packInt4([1, -1, -8, 7, 3]))).toEqual([0xf1, 0x78, 0x03]);
  });

  it('round-trips every int4 value at odd and even lengths', () => {
    const all = Array.from({ length: 16 }, (_, i) => i - 8);
    expect(Array.from(unpackInt4(packInt4(all), 16))).toEqual(all);
    expect(Array.from(unpackInt4(packInt4(all.slice(0, 15)), 15))).toEqual(all.slice(0, 15));
  });

  it('rejects values outside −8..7 and short buffers', () => {
    expect(() => packInt4([0, 8])).toThrow('value 8 at index 1');
    expect(() => packInt4([-9])).toThrow('value -9');
    expect(() => unpackInt4(new Uint8Array(1), 3)).toThrow('3 values need 2 bytes');
  });
});
