import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { Genotype } from './genotype.js';
import { genotypeSvg } from './genotype-svg.js';
import { getSpace } from './registry.js';
import { resolveSpace } from './resolve-space.js';
import { espcn, espcnGenotype } from './test-helpers.js';

describe('genotypeSvg', () => {
  it('draws every block of an rfdn genotype in well-formed SVG, grouped by cell', () => {
    const plan = resolveSpace(getSpace('rfdn'));
    const genotype: Genotype = {
      schemaVersion: 1,
      space: 'rfdn',
      scale: 4,
      channels: 48,
      blocks: Object.fromEntries(plan.groups.map((g, i) => [g.id, g.pairs[i % g.pairs.length]!])),
    };
    const svg = genotypeSvg(getSpace('rfdn'), genotype);
    expect(XMLValidator.validate(svg)).toBe(true);
    for (const block of plan.blocks) expect(svg).toContain(`>${block.name}</text>`);
    for (const row of ['cell0', 'cell3', 'LR', 'HR']) expect(svg).toContain(`class="row">${row}</text>`);
    expect(svg).toContain('>cell2.esa</text>');
    expect(svg).toContain('>4-bit</text>');
    expect(svg).toContain('>fixed (8-bit)</text>');
    expect(svg).toContain('#d9d9d9');
  });

  it('shows shared α and the chosen op and bits (basic, user spec)', () => {
    const plan = resolveSpace(getSpace('basic'));
    const genotype: Genotype = {
      schemaVersion: 1,
      space: 'basic',
      scale: 4,
      channels: 36,
      blocks: Object.fromEntries(plan.groups.map((g) => [g.id, g.pairs[1]!])),
    };
    const svg = genotypeSvg(getSpace('basic'), genotype);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('(α: body1)');
    const user = genotypeSvg(espcn, espcnGenotype);
    expect(XMLValidator.validate(user)).toBe(true);
    expect(user).toContain('>conv_3x1_1x3</text>');
    expect(user).toContain('4-bit · 16→8');
    expect(() => genotypeSvg(espcn, { ...espcnGenotype, space: 'basic' })).toThrow("is for space 'basic'");
  });
});
