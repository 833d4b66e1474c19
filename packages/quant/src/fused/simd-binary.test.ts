import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain script without types
import { compileSimd, renderModule, SIMD_OUTPUT } from '../../scripts/build-simd.mjs';

describe('SIMD module', () => {
  it('is the one assembly/fused.ts compiles to, with no data segment or start function', async () => {
    const committed = await readFile(SIMD_OUTPUT as string, 'utf8');
    expect(committed).toBe(renderModule(await compileSimd()));
  });
});
