import { describe, expect, it } from 'vitest';
import { evalChannelExpr, parseChannelExpr } from './channel-expr.js';

const env = { C: 48, s: 4, N: 4 };

describe('channel expressions', () => {
  it.each([
    [24, 24],
    ['C', 48],
    ['C/2', 24],
    ['2*C', 96],
    ['3*s*s', 48],
    ['N*C', 192],
    ['(C + 2*s) / 2 - 1', 27],
  ])('%s = %i', (expr, value) => {
    expect(evalChannelExpr(expr, env)).toBe(value);
  });

  it.each([
    ['C/', 'ends too early'],
    ['C*x', "unknown variable 'x'"],
    ['(C', "'(' is not closed"],
    ['C C', "unexpected 'C'"],
  ])('rejects malformed %s', (expr, message) => {
    expect(() => parseChannelExpr(expr)).toThrow(message);
  });

  it('rejects inexact division and non-positive values', () => {
    expect(() => evalChannelExpr('C/5', env)).toThrow('48/5 is not an integer');
    expect(() => evalChannelExpr('C-48', env)).toThrow('must be a positive integer');
  });
});
