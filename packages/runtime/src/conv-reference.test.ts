import { describe, expect, it } from 'vitest';
import { conv2dReference, requantizeUint8, roundHalfEven, scaleAccumulator } from './conv-reference.js';
import { convGeometry, packInt4, unpackInt4, type ConvParams } from './conv-spec.js';

describe('roundHalfEven', () => {
  it('rounds ties to the even neighbour and everything else to the nearest', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 2.5000002, 7, -3.25].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 0, 3, 7, -3]);
    expect(roundHalfEven(Infinity)).toBe(Infinity);
  });
});

describe('requantization arithmetic', () => {
  it('rounds every product and sum to float32 separately (no fused multiply-add)', () => {
    // 16777217 is not a float32: the accumulator itself is rounded first.
    expect(scaleAccumulator(16777217, 1, 0)).toBe(16777216);
    const m = Math.fround(0.1);
    const viaArray = new Float32Array([16777215 * m]);
    expect(scaleAccumulator(16777215, m, 0)).toBe(viaArray[0]);
    expect(scaleAccumulator(3, m, Math.fround(0.7))).toBe(Math.fround(Math.fround(3 * m) + Math.fround(0.7)));
  });

  it('clamps to the bounds after rounding', () => {
    expect(requantizeUint8(5, 0.5, 0, 0, 255)).toBe(2);
    expect(requantizeUint8(7, 0.5, 0, 0, 255)).toBe(4);
    expect(requantizeUint8(-9, 1, 0, 0, 255)).toBe(0);
    expect(requantizeUint8(31, 1, 0, 0, 15)).toBe(15);
    expect(requantizeUint8(1, 1e38, 1e38, 0, 255)).toBe(255);
  });
});

describe('int4 weights', () => {
  it('unpacks two’s-complement nibbles, low nibble first', () => {
    expect(Array.from(unpackInt4(new Uint8Array([0x8f, 0x71, 0x0a]), 5))).toEqual([-1, -8, 1, 7, -6]);
    const values = [-8, -7, -1, 0, 1, 6, 7];
    expect(Array.from(unpackInt4(packInt4(values), values.length))).toEqual(values);
    expect(() => unpackInt4(new Uint8Array(2), 5)).toThrow(RangeError);
    expect(() => packInt4([8])).toThrow(RangeError);
  });
});

describe('conv geometry', () => {
  const base = { height: 9, width: 8, inChannels: 4, outChannels: 4, weights: new Int8Array(0), output: { kind: 'int32' } } as const;
  it('pads like TensorFlow', () => {
    expect(convGeometry({ ...base, kernel: [3, 3] })).toMatchObject({ outHeight: 9, outWidth: 8, padTop: 1, padLeft: 1 });
    expect(convGeometry({ ...base, kernel: [5, 1] })).toMatchObject({ outHeight: 9, outWidth: 8, padTop: 2, padLeft: 0 });
    expect(convGeometry({ ...base, kernel: [3, 3], stride: 2, padding: 'valid' })).toMatchObject({ outHeight: 4, outWidth: 3, padTop: 0 });
    expect(convGeometry({ ...base, kernel: [3, 3], stride: 2 })).toMatchObject({ outHeight: 5, outWidth: 4, padTop: 1, padLeft: 0 });
  });
  it('rejects groups that do not divide the channels', () => {
    expect(() => convGeometry({ ...base, kernel: [1, 1], groups: 3 })).toThrow(/groups \(3\) must divide/);
  });
});

describe('conv2dReference', () => {
  it('computes a small grouped conv by hand', () => {
    // 1×2 image, 2 channels, 2 groups, 1×1 kernel: output channel g is x_g · w_g.
    const params: ConvParams = {
      height: 1,
      width: 2,
      inChannels: 2,
      outChannels: 2,
      kernel: [1, 1],
      groups: 2,
      weights: new Int8Array([3, -2]),
      output: { kind: 'int32' },
    };
    expect(Array.from(conv2dReference(new Uint8Array([10, 20, 30, 40]), params))).toEqual([30, -40, 90, -80]);
  });

  it('reads zeros outside the image', () => {
    // 3×3 all-ones kernel over a 2×2 image of ones: every output sees the 4 pixels.
    const params: ConvParams = {
      height: 2,
      width: 2,
      inChannels: 1,
      outChannels: 1,
      kernel: [3, 3],
      weights: new Int8Array(9).fill(1),
      output: { kind: 'uint8', multipliers: [0.5], offsets: [0.5] },
    };
    // 4·0.5 + 0.5 = 2.5 rounds to 2.
    expect(Array.from(conv2dReference(new Uint8Array([1, 1, 1, 1]), params))).toEqual([2, 2, 2, 2]);
  });
});
