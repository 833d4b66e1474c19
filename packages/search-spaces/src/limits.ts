import { jsonPath } from './spec-error.js';

/**
 * Upper bounds on what a space document (and a genotype) may ask for. Far above any SR network
 * this project trains on a CPU (the paper's rfdn: C = 48, 4 cells, ×4, about 0.4 M weights in the
 * supernet), and low enough that validating, building or training never allocates gigabytes
 * because a number in a file was large: every bound is checked before anything of that size exists.
 */
export const SPACE_LIMITS = {
  /** The width C (`channels`), of a document or an option. */
  channels: 1024,
  /** The scale s. */
  scale: 16,
  /** The cell count N. */
  cells: 64,
  /** Channels of the LR and HR images. */
  imageChannels: 4,
  /** A conv's kernel edge. */
  kernel: 31,
  /** Channels of any one tensor (after evaluating C, s and N). */
  tensorChannels: 8192,
  /** A repeat node's `times`. */
  repeatTimes: 256,
  /** Nodes of the resolved network, repeats unrolled. */
  steps: 20_000,
  /** Conv weights of the whole space (every candidate of every block: the supernet's). */
  weights: 20_000_000,
} as const;

/**
 * The JSON path of the first `__proto__` key in a parsed document, if any. JSON.parse keeps it as
 * an own key, but copying it into an object sets that object's prototype instead: the entry would
 * vanish silently.
 */
export function findProtoKey(value: unknown, path: (string | number)[] = []): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findProtoKey(value[i], [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return jsonPath([...path, key]);
    const found = findProtoKey((value as Record<string, unknown>)[key], [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}
