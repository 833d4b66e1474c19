import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';

describe('crc32', () => {
  it('gives the standard check value, over a sub-range too', () => {
    const check = new TextEncoder().encode('__123456789__');
    expect(crc32(check, 2, 11)).toBe(0xcbf43926);
    expect(crc32(check, 5, 5)).toBe(0);
  });
});
