import { describe, expect, it } from 'vitest';
import { parseBitWidth } from './bits.js';
import { costReport } from './cost-report.js';

describe('costReport', () => {
  const layers = [
    { name: 'body', macsPerPixel: 9 * 32 * 32, params: 9 * 32 * 32, grid: 'lr', weightBits: 4, activationBits: 8 },
    { name: 'tail', macsPerPixel: 9 * 3 * 3, params: 81, grid: 'hr', weightBits: 8, activationBits: 8 },
  ] as const;

  it("counts MACs on each layer's own grid and BitOps as MACs · b_w · b_a", () => {
    const report = costReport(layers, 4, { height: 32, width: 32 });
    expect(report.layers[0]).toMatchObject({ macs: 9216 * 1024, bitops: 9216 * 1024 * 32 });
    expect(report.layers[1]).toMatchObject({ macs: 81 * 1024 * 16, bitops: 81 * 1024 * 16 * 64 });
    expect(report.total.params).toBe(9216 + 81);
    expect(report.total.bitops).toBe(report.layers[0]!.bitops + report.layers[1]!.bitops);
  });

  it('scales linearly with the input and gives the per-megapixel figure', () => {
    const small = costReport(layers, 4, { height: 32, width: 32 });
    const large = costReport(layers, 4, { height: 64, width: 96 });
    expect(large.total.bitops / small.total.bitops).toBeCloseTo(6, 12);
    expect(large.perOutputMegapixel.bitops).toBeCloseTo(small.perOutputMegapixel.bitops, 3);
    // 1 MP of output at x4 is 62,500 LR pixels.
    expect(small.perOutputMegapixel.macs).toBeCloseTo(9216 * 62_500 + 81 * 1e6, 0);
  });

  it('rejects a meaningless size', () => {
    expect(() => costReport(layers, 4, { height: 0, width: 32 })).toThrow('positive input size');
  });
});

describe('parseBitWidth', () => {
  it('accepts 2..8 and 32, and names anything else', () => {
    expect(parseBitWidth('4')).toBe(4);
    expect(parseBitWidth(32)).toBe(32);
    for (const bad of [1, 9, 16, 0, 'four', '']) {
      expect(() => parseBitWidth(bad)).toThrow(`bit-width ${JSON.stringify(bad)} is not supported`);
    }
  });
});
