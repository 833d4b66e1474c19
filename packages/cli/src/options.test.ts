import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInteger, parseScale } from './options.js';
import { expectOneLineError, runCli as run } from './test-helpers.js';

describe('integer options take plain decimal digits only', () => {
  it.each(['1e1', '0x4', ' 4', '4 ', '+4', '4.0', '04x', '', '-2', '0b10', '4_0'])('--scale %j is refused', (value) => {
    expect(() => parseScale(value)).toThrow(`--scale must be an integer from 1 to 16, got '${value}'`);
  });

  it.each(['1e1', '0x4', ' 4', '4.0', ''])('an integer option %j is refused', (value) => {
    expect(() => parseInteger(value, '--seed', 0)).toThrow(`--seed must be an integer ≥ 0, got '${value}'`);
  });

  it('accepts plain digits', () => {
    expect(parseScale('4')).toBe(4);
    expect(parseScale('16')).toBe(16);
    expect(parseInteger('0', '--seed', 0)).toBe(0);
  });

  it.each([
    ['downscale', '1e1'],
    ['downscale', '0x4'],
    ['downscale', ' 4'],
  ])('%s --scale %j exits 2 with one line, nothing written', async (command, value) => {
    const work = await mkdtemp(join(tmpdir(), 'quantnas-options-'));
    const result = await run([command, '--scale', value, join(work, 'in.png'), join(work, 'out.png')]);
    expectOneLineError(result, '--scale', `'${value}'`);
    expect(result.code).toBe(2);
  });

  it.each(['--threads', '--tile'])('upscale %s with spaces or an exponent is refused', async (option) => {
    for (const value of [' 2', '1e1']) {
      const result = await run(['upscale', '--model', 'm.qnas', option, value, 'in.png', 'out.png']);
      expectOneLineError(result, option, `'${value}'`);
    }
  });
});
