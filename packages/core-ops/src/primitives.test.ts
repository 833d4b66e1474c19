import { describe, expect, it } from 'vitest';
import { parseBackendName } from './backend.js';
import { parsePrimitive, primitiveConvs, primitiveMacsPerPixel } from './primitives.js';

describe('parsePrimitive', () => {
  it('reads kernel size, groups and growth width from the reference ids', () => {
    expect(parsePrimitive('simple_3x3')).toEqual({ kind: 'simple', id: 'simple_3x3', kernel: 3, groups: 1 });
    expect(parsePrimitive('simple_5x5_grouped_3')).toMatchObject({ kind: 'simple', kernel: 5, groups: 3 });
    expect(parsePrimitive('growth2_1x1')).toMatchObject({ kind: 'growth', kernel: 1, widthFactor: 2 });
    expect(parsePrimitive('conv_5x1_1x5')).toMatchObject({ kind: 'factorized', kernel: 5 });
    expect(parsePrimitive('skip_connect').kind).toBe('skip');
    expect(parsePrimitive('zero').kind).toBe('zero');
  });

  it.each(['simple_3x5', 'simple_7x7', 'growth3_3x3', 'conv_3x1_1x5', 'simple_3x3_grouped_0', 'sep_conv_3x3', ''])('rejects %j and names it', (id) => {
    expect(() => parsePrimitive(id)).toThrow(`unknown op '${id}'`);
  });
});

describe('MACs per output pixel', () => {
  it('counts grouped, growth and factorized convs', () => {
    expect(primitiveMacsPerPixel(parsePrimitive('simple_3x3'), 48, 24, 48)).toBe(9 * 48 * 24);
    expect(primitiveMacsPerPixel(parsePrimitive('simple_3x3_grouped_2'), 48, 48, 48)).toBe((9 * 48 * 48) / 2);
    expect(primitiveMacsPerPixel(parsePrimitive('growth1_3x3'), 3, 3, 48)).toBe(9 * 3 * 48 + 9 * 48 * 3);
    expect(primitiveMacsPerPixel(parsePrimitive('growth2_5x5'), 36, 36, 36)).toBe(25 * 36 * 72 * 2);
    expect(primitiveMacsPerPixel(parsePrimitive('conv_3x1_1x3'), 36, 36, 36)).toBe(3 * 36 * 36 * 2);
    expect(primitiveMacsPerPixel(parsePrimitive('skip_connect'), 36, 36, 36)).toBe(0);
  });

  it('rejects channel counts an op cannot take', () => {
    expect(() => primitiveConvs(parsePrimitive('simple_3x3_grouped_3'), 40, 24, 48)).toThrow('not divisible by 3 groups');
    expect(() => primitiveConvs(parsePrimitive('skip_connect'), 48, 24, 48)).toThrow('needs equal channels');
  });
});

describe('parseBackendName', () => {
  it('accepts the known names and names an unknown one', () => {
    expect(parseBackendName('wasm')).toBe('wasm');
    expect(() => parseBackendName('cuda')).toThrow("unknown backend 'cuda'");
  });
});
