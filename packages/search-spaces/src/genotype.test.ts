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
    [{ ...genotype, channels: 8000 }, '$.channels: 8000 is over the limit of 1024'],
    [{ ...genotype, channels: 1e6 }, '$.channels: 1000000 is over the limit of 1024'],
    [{ ...genotype, scale: 1000 }, '$.scale: 1000 is over the limit of 16'],
    [
      JSON.parse('{"schemaVersion":1,"space":"rfdn","scale":4,"channels":48,"blocks":{"__proto__":{"op":"simple_3x3","bits":4}}}'),
      "$.blocks.__proto__: the key '__proto__' is not allowed",
    ],
    [
      JSON.parse('{"__proto__":{"x":1},"schemaVersion":1,"space":"rfdn","scale":4,"channels":48,"blocks":{"b":{"op":"simple_3x3","bits":4}}}'),
      "$.__proto__: the key '__proto__' is not allowed",
    ],
  ])('names the JSON path of a bad document (%#)', (doc, message) => {
    expect(() => parseGenotype(doc, 'g.json')).toThrow(`g.json: genotype ${message}`);
  });
});
