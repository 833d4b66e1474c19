import { GenotypeError, type Genotype } from './genotype.js';
import type { SpacePlan } from './plan.js';

const list = (items: readonly string[], max = 8) => (items.length > max ? `${items.slice(0, max).join(', ')}, … (${items.length} in all)` : items.join(', '));

/**
 * Checks that a genotype fits a resolved space: same space id, scale and channels, a choice for
 * every block (α group) and no other, each op among its block's candidates, each bit-width among
 * its block's bits. Throws a `GenotypeError` naming the JSON path and the values at fault.
 *
 * `anyBits`: any supported bit-width passes, not only the block's. A network is built (or drawn)
 * at whatever bits a genotype holds; a search with its own candidate bit-widths (`--bits 2,8`) or
 * at full precision (op@32) gives genotypes outside the space's list.
 */
export function checkGenotype(plan: SpacePlan, genotype: Genotype, source?: string, options: { readonly anyBits?: boolean } = {}): void {
  const fail = (path: string, problem: string): never => {
    throw new GenotypeError(path, problem, source);
  };
  if (genotype.space !== plan.id) fail('$.space', `is for space '${genotype.space}', not '${plan.id}'`);
  if (genotype.scale !== plan.scale) fail('$.scale', `is for x${genotype.scale}, the network is built at x${plan.scale}`);
  if (genotype.channels !== plan.channels) fail('$.channels', `is for ${genotype.channels} channels, the network is built with ${plan.channels}`);
  const groups = new Map(plan.groups.map((g) => [g.id, g]));
  for (const [key, choice] of Object.entries(genotype.blocks)) {
    const group = groups.get(key);
    if (!group) return fail(`$.blocks.${key}`, `unknown block '${key}' (the space's blocks at ${plan.cells} cell(s): ${list([...groups.keys()])})`);
    if (!group.candidates.includes(choice.op))
      fail(`$.blocks.${key}.op`, `'${choice.op}' is not a candidate of block '${key}' (candidates: ${group.candidates.join(', ')})`);
    if (!options.anyBits && !group.bits.includes(choice.bits))
      fail(`$.blocks.${key}.bits`, `${choice.bits} bits is not among block '${key}''s bit-widths (${group.bits.join(', ')})`);
  }
  const missing = [...groups.keys()].filter((k) => !Object.hasOwn(genotype.blocks, k));
  if (missing.length > 0) fail('$.blocks', `no choice for block(s) ${list(missing)} (built at ${plan.cells} cell(s))`);
}
