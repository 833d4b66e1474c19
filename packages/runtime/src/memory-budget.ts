import { inferSizes, type ModelGraph } from './graph.js';
import { planGraph, tileGrid, type Plan, type Rect } from './plan.js';
import type { TileExecutor } from './tile-executor.js';

/**
 * What one upscale may hold, checked from the model and the image size before anything is
 * allocated: the whole-image buffers (the input, the result image, and the tensors that passes
 * store, which are only small ones off the tiling grids), the bands of rows of the tensors whose σ a
 * pass sums, and one tile's tensors in each thread's kernel heap. A model file or an image that
 * claims more fails at once with a RangeError naming the tensor and the limit, instead of growing
 * memory until the 4 GiB wasm limit or the machine's memory ends it.
 */
export const MEMORY_BUDGET = {
  /** Whole-image buffers alive at once (input, result image, stored tensors), bytes. */
  stores: 3 * 2 ** 30,
  /** One tensor of one tile in the kernel heap, bytes (the heap itself is capped at 2 GiB). */
  tileTensor: 2 ** 30,
  /** All the tensors of one tile in the kernel heap at once, bytes. */
  tileHeap: 2 ** 30,
  /**
   * One band of rows of the tensors whose σ a pass sums (σ is a sum in memory order: a band is
   * summed once all its tiles are done; worker threads fill the next band meanwhile, so they have
   * two). A pass's tiles are made shorter (and wider) to keep a band within this, bytes.
   */
  bands: 32 * 2 ** 20,
} as const;

const GIB = 2 ** 30;
const format = (bytes: number) => (bytes >= GIB ? `${(bytes / GIB).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`);

type Sizes = ReadonlyMap<string, { readonly h: number; readonly w: number }>;

/** What an upscale will hold at most, by kind, in bytes. */
export interface MemoryPlan {
  /** The input (float32) and the result image (RGB bytes). */
  readonly images: number;
  /** The most bytes of stored tensors alive at once (besides the input). */
  readonly stores: number;
  /** The most bytes of bands of summed rows in one pass (two bands with worker threads). */
  readonly bands: number;
  /** The most kernel-heap bytes one tile holds at once (one thread's; each thread has its own). */
  readonly tileHeap: number;
  /** images + the most, over the passes, of stores alive + bands + threads × that pass's tile heap. */
  readonly peak: number;
}

/** The pieces each pass runs on (tiles of the input grid, or one undefined for a whole pass), and their memory. */
export interface PassLayout {
  readonly pieces: readonly (readonly (Rect | undefined)[])[];
  /** Per pass, the band height in input rows (the tile height), for the passes that sum rows. */
  readonly bandRows: readonly (number | undefined)[];
  readonly memory: MemoryPlan;
}

function bytesOf(graph: ModelGraph, sizes: Sizes, name: string): number {
  const { h, w } = sizes.get(name)!;
  const info = graph.tensors.get(name)!.info;
  return h * w * info.channels * (info.dtype === 'uint8' ? 1 : 4);
}

/** Bytes of the rows of the tensors a pass sums, per input row. */
function bandBytesPerRow(graph: ModelGraph, plan: Plan, p: number, sizes: Sizes): number {
  let bytes = 0;
  for (const s of plan.passes[p]!.statistics) {
    if (s.phase === 'stored') continue;
    const f = graph.tensors.get(s.name)!.factor!;
    bytes += (bytesOf(graph, sizes, s.name) / sizes.get(s.name)!.h) * f;
  }
  return bytes;
}

/**
 * The whole-image buffers a plan holds for an upscale: the input and result images, and the most
 * stored tensors held at once (with the largest of them, and what is held during each pass).
 */
export function wholeImageBuffers(
  graph: ModelGraph,
  plan: Plan,
  sizes: Sizes,
): { images: number; stores: number; largest: { name: string; bytes: number }; storesAt: number[] } {
  const out = sizes.get(graph.header.output)!;
  const images = bytesOf(graph, sizes, graph.header.input) + out.h * out.w * 3;
  // Stored tensors, pass by pass (the input is counted with the images).
  let live = 0;
  let stores = 0;
  let largest = { name: '', bytes: 0 };
  const stored = new Set<string>([graph.header.input]);
  const storesAt: number[] = [];
  for (let p = 0; p < plan.passes.length; p++) {
    const pass = plan.passes[p]!;
    for (const t of pass.targets) {
      if (t === graph.header.output || stored.has(t)) continue;
      if (pass.statistics.some((s) => s.name === t && s.phase !== 'stored')) continue;
      const bytes = bytesOf(graph, sizes, t);
      stored.add(t);
      live += bytes;
      if (bytes > largest.bytes) largest = { name: t, bytes };
    }
    storesAt.push(live);
    stores = Math.max(stores, live);
    for (const name of plan.freeAfter[p]!) if (name !== graph.header.input && stored.delete(name)) live -= bytesOf(graph, sizes, name);
  }
  return { images, stores, largest, storesAt };
}

/**
 * The plan for an upscale of width × height: 'fast' (tensors that later passes read are stored
 * whole) when its whole-image buffers stay within `budget` bytes, else 'bounded' (memory set by
 * the tile, more time).
 */
export function chooseMemory(graph: ModelGraph, width: number, height: number, budget: number): 'fast' | 'bounded' {
  const { images, stores } = wholeImageBuffers(graph, planGraph(graph, { memory: 'fast' }), inferSizes(graph, height, width));
  return images + stores <= budget ? 'fast' : 'bounded';
}

/**
 * Lays out the passes of an upscale (their tiles) and checks what they will hold against
 * MEMORY_BUDGET, before anything is allocated. `planner` measures a tile's heap (a TileExecutor of
 * the same graph and plan; it needs no kernels).
 */
export function layOutPasses(graph: ModelGraph, plan: Plan, sizes: Sizes, tile: number, threads: number, planner: TileExecutor): PassLayout {
  const input = sizes.get(graph.header.input)!;
  const out = sizes.get(graph.header.output)!;
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
  const { images, stores, largest, storesAt } = wholeImageBuffers(graph, plan, sizes);
  if (images + stores > MEMORY_BUDGET.stores) {
    const what =
      largest.bytes > images
        ? `the largest stored tensor, '${largest.name}', has ${graph.tensors.get(largest.name)!.info.channels} channels`
        : `the ${out.w}x${out.h} result image takes ${format(out.h * out.w * 3)}`;
    throw new RangeError(
      `the upscale would hold ${format(images + stores)} of whole-image buffers for a ${input.w}x${input.h} input ` +
        `(${what}), over the engine's limit of ${format(MEMORY_BUDGET.stores)}`,
    );
  }
  const pieces: (Rect | undefined)[][] = [];
  const bandRows: (number | undefined)[] = [];
  let bands = 0;
  let tileHeap = 0;
  let peak = 0;
  for (let p = 0; p < plan.passes.length; p++) {
    const pass = plan.passes[p]!;
    if (!pass.tiled) {
      pieces.push([undefined]);
      bandRows.push(undefined);
      const heap = planner.measure(p, undefined, sizes);
      if (heap > MEMORY_BUDGET.tileHeap) {
        throw new RangeError(
          `the model needs ${format(heap)} of whole tensors off the tiling grids (pass ${p + 1} of ${plan.passes.length}) ` +
            `for a ${input.w}x${input.h} input, over the engine's limit of ${format(MEMORY_BUDGET.tileHeap)}`,
        );
      }
      tileHeap = Math.max(tileHeap, heap);
      peak = Math.max(peak, storesAt[p]! + heap);
      continue;
    }
    const perRow = bandBytesPerRow(graph, plan, p, sizes);
    let th = tile;
    let tw = tile;
    if (perRow > 0 && perRow * tile > MEMORY_BUDGET.bands) {
      // Shorter tiles, as wide as keeps their area (up to 4 tiles wide): the band stays in budget.
      th = Math.max(1, Math.floor(MEMORY_BUDGET.bands / perRow));
      tw = Math.min(4 * tile, Math.max(tile, Math.floor((tile * tile) / th)));
    }
    const grid = tileGrid(input.h, input.w, th, tw);
    pieces.push(grid);
    bandRows.push(perRow > 0 ? th : undefined);
    const band = perRow * Math.min(th, input.h) * (threads > 1 ? 2 : 1);
    bands = Math.max(bands, band);
    // The tiles with the most halo: an inner one; and the first and last.
    const nx = Math.ceil(input.w / tw);
    const samples = new Set([0, grid.length - 1, Math.min(1, Math.ceil(input.h / th) - 1) * nx + Math.min(1, nx - 1)]);
    let heap = 0;
    for (const i of samples) heap = Math.max(heap, planner.measure(p, grid[i], sizes));
    tileHeap = Math.max(tileHeap, heap);
    if (heap > MEMORY_BUDGET.tileHeap) {
      throw new RangeError(
        `the model needs ${format(heap)} of tensors per tile of ${th}x${tw} (pass ${p + 1} of ${plan.passes.length}), ` +
          `over the engine's limit of ${format(MEMORY_BUDGET.tileHeap)} per tile (a smaller tile lowers it)`,
      );
    }
    peak = Math.max(peak, storesAt[p]! + band + Math.min(threads, grid.length) * heap);
  }
  return { pieces, bandRows, memory: { images, stores, bands, tileHeap, peak: images + peak } };
}
