import { DataError } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import { checkMetricOptions, standardProtocol, type MetricOptions } from './protocol.js';

describe('standardProtocol', () => {
  it('is Y channel, shave = scale, uint8 rounding', () => {
    expect(standardProtocol(4)).toEqual({ shave: 4, yChannel: true, roundToUint8: true });
    expect(standardProtocol(2).shave).toBe(2);
  });

  it('rejects a non-integer or non-positive scale', () => {
    expect(() => standardProtocol(0)).toThrow(DataError);
    expect(() => standardProtocol(2.5)).toThrow(/positive integer/);
  });
});

describe('checkMetricOptions', () => {
  it('rejects options a caller left out', () => {
    expect(() => checkMetricOptions({ shave: 2, yChannel: true } as unknown as MetricOptions)).toThrow(/roundToUint8/);
    expect(() => checkMetricOptions({ yChannel: true, roundToUint8: true } as unknown as MetricOptions)).toThrow(/shave/);
    expect(() => checkMetricOptions(undefined as unknown as MetricOptions)).toThrow(DataError);
  });

  it('rejects a negative or fractional shave', () => {
    expect(() => checkMetricOptions({ shave: -1, yChannel: false, roundToUint8: false })).toThrow(/shave/);
    expect(() => checkMetricOptions({ shave: 1.5, yChannel: false, roundToUint8: false })).toThrow(/shave/);
  });
});
