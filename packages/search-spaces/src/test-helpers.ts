import espcnJson from '../examples/espcn.json' with { type: 'json' };
import type { Genotype } from './genotype.js';
import type { SearchSpaceSpec } from './spec.js';
import { validateSpec } from './validate-spec.js';

/** The user-style example space (examples/espcn.json), validated. */
export const espcn: SearchSpaceSpec = validateSpec(structuredClone(espcnJson), 'espcn.json');

/** A mutable deep copy of a spec, for building bad variants. */
export const copy = <T>(value: T): any => structuredClone(value) as any;

export const espcnGenotype: Genotype = {
  schemaVersion: 1,
  space: 'my-espcn',
  scale: 3,
  channels: 16,
  blocks: {
    feature: { op: 'simple_5x5', bits: 8 },
    shrink: { op: 'conv_3x1_1x3', bits: 4 },
    refine_op: { op: 'simple_3x3', bits: 2 },
  },
};
