import type { ModelGraph } from './graph.js';
import type { Plan } from './plan.js';

/**
 * What one upscale may hold, checked from the model and the image size before anything is
 * allocated: the whole-image tensors that passes store (JS buffers), and one tile's tensor in the
 * kernel heap. A model file or an image that claims more fails at once with a RangeError naming
 * the tensor and the limit, instead of growing memory until the 4 GiB wasm limit or the machine's
 * memory ends it.
 */
export const MEMORY_BUDGET = {
  /** Whole-image tensors alive at once (stored between passes), bytes. */
  stores: 3 * 2 ** 30,
  /** One tensor of one tile in the kernel heap, bytes (the heap itself is capped at 2 GiB). */
  tileTensor: 2 ** 30,
} as const;

const GIB = 2 ** 30;
const format = (bytes: number) => (bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`);

export function checkMemoryBudget(graph: ModelGraph, plan: Plan, sizes: ReadonlyMap<string, { h: number; w: number }>, tile: number): void {
  const bytesOf = (name: string): number => {
    const { h, w } = sizes.get(name)!;
    const info = graph.tensors.get(name)!.info;
    return h * w * info.channels * (info.dtype === 'uint8' ? 1 : 4);
  };
  const input = sizes.get(graph.header.input)!;
  const out = sizes.get(graph.header.output)!;
  let live = bytesOf(graph.header.input) + out.h * out.w * 3;
  let peak = live;
  let largest = { name: graph.header.input, bytes: bytesOf(graph.header.input) };
  const stored = new Set<string>([graph.header.input]);
  for (let p = 0; p < plan.passes.length; p++) {
    for (const t of plan.passes[p]!.targets) {
      if (t === graph.header.output) continue;
      const bytes = bytesOf(t);
      stored.add(t);
      live += bytes;
      if (bytes > largest.bytes) largest = { name: t, bytes };
    }
    peak = Math.max(peak, live);
    for (const name of plan.freeAfter[p]!) if (stored.delete(name)) live -= bytesOf(name);
  }
  if (peak > MEMORY_BUDGET.stores) {
    const info = graph.tensors.get(largest.name)!.info;
    throw new RangeError(
      `the model would hold ${format(peak)} of whole-image tensors for a ${input.w}x${input.h} input ` +
        `(the largest, '${largest.name}', has ${info.channels} channels), over the engine's limit of ${format(MEMORY_BUDGET.stores)}`,
    );
  }
  // A tiled tensor of one tile: its grid's share of the tile (halos only add to it).
  for (const t of graph.tensors.values()) {
    if (t.factor === undefined) continue;
    const size = sizes.get(t.name);
    if (!size) continue;
    const h = Math.min(size.h, Math.ceil(tile * t.factor));
    const w = Math.min(size.w, Math.ceil(tile * t.factor));
    const bytes = h * w * t.info.channels * (t.info.dtype === 'uint8' ? 1 : 4);
    if (bytes > MEMORY_BUDGET.tileTensor) {
      throw new RangeError(
        `the model's tensor '${t.name}' (${t.info.channels} channels) needs ${format(bytes)} per tile of ${tile}x${tile}, ` +
          `over the engine's limit of ${format(MEMORY_BUDGET.tileTensor)} per tile tensor (a smaller tile lowers it)`,
      );
    }
  }
}
