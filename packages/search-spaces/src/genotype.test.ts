import { describe, expect, it } from 'vitest';
import { genotypeToJson, parseGenotype, type Genotype } from './genotype.js';

const genotype: Genotype = {
  schemaVersion: 1,
  space: 'rfdn',
  scale: 4,
  channels: 48,
  blocks: { 'cell0.body0': { op: 'simple_3x3', bits: 4 }, upsample: { op: 'growth1_5x5', bits: 8 } },
  derivedFrom: { epoch: 19, selection: 'last' },
};

describe('genotype JSON', () => {
  it('round-trips', () => {
    expect(parseGenotype(JSON.parse(genotypeToJson(genotype)))).toEqual(genotype);
  });

  it.each([
    [{ ...genotype, schemaVersion: 2 }, '$.schemaVersion'],
    [{ ...genotype, scale: 0 }, '$.scale'],
    [{ ...genotype, blocks: {} }, '$.blocks'],
    [{ ...genotype, blocks: { b: { op: 'sep_conv_3x3', bits: 4 } } }, "$.blocks.b.op: unknown op 'sep_conv_3x3'"],
    [{ ...genotype, blocks: { b: { op: 'simple_3x3', bits: 9 } } }, '$.blocks.b.bits: bit-width 9'],
    [{ ...genotype, derivedFrom: { epoch: 1, selection: 'best' } }, '$.derivedFrom'],
    [[], '$: must be a JSON object'],
  ])('names the JSON path of a bad document (%#)', (doc, message) => {
    expect(() => parseGenotype(doc, 'g.json')).toThrow(`g.json: genotype ${message}`);
  });
});
