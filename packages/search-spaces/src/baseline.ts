import type { BitWidth } from '@quantnas/quant';
import type { Genotype } from './genotype.js';
import { GENOTYPE_SCHEMA_VERSION } from './genotype.js';
import { blockNodeId, resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';

export interface BaselineOptions {
  /** Every block's bits, and the fixed layers' bits when 32 (full precision). */
  readonly bits: BitWidth;
  readonly channels?: number;
  readonly cells?: number;
  readonly scale?: number;
}

export interface Baseline {
  /** The space restricted to `bits` (fixed layers at 32 bits too for a full-precision baseline). */
  readonly spec: SearchSpaceSpec;
  readonly genotype: Genotype;
}

/** A fixed architecture: every block has one candidate op, so searching it chooses bit-widths only. */
export function isFixedArchitecture(spec: SearchSpaceSpec): boolean {
  return resolveSpace(spec, {}).groups.every((g) => g.candidates.length === 1);
}

/**
 * A space's hand-designed architecture at uniform bits: each block takes the op its space names
 * in `baseline` (else its first candidate; fixed architectures have one), every block at `bits`.
 * The returned space allows only those bits, so training and export see one consistent document.
 */
export function baselineGenotype(spec: SearchSpaceSpec, options: BaselineOptions): Baseline {
  const fixedBits: BitWidth = options.bits === 32 ? 32 : (spec.fixedBits ?? 8);
  const restricted: SearchSpaceSpec = { ...spec, bits: [options.bits], fixedBits };
  const plan = resolveSpace(restricted, {
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
    ...(options.scale !== undefined ? { scale: options.scale } : {}),
  });
  const blocks: Record<string, { op: Genotype['blocks'][string]['op']; bits: BitWidth }> = {};
  for (const group of plan.groups) {
    const nodeId = blockNodeId(group.blocks[0]!);
    const op = (spec.baseline && Object.hasOwn(spec.baseline, nodeId) ? spec.baseline[nodeId] : undefined) ?? group.candidates[0]!;
    blocks[group.id] = { op, bits: options.bits };
  }
  return {
    spec: restricted,
    genotype: { schemaVersion: GENOTYPE_SCHEMA_VERSION, space: spec.id, scale: plan.scale, channels: plan.channels, blocks },
  };
}
