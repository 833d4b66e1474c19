import type { ModelGraph } from './graph.js';

/** A half-open rectangle of a tensor's grid: rows y0..y1−1, columns x0..x1−1. */
export interface Rect {
  readonly y0: number;
  readonly x0: number;
  readonly y1: number;
  readonly x1: number;
}

/**
 * One sweep over the image. A tiled pass computes its layers tile by tile (each tile with the halo
 * its targets need, found by walking the layers backwards); a whole pass computes its layers on
 * whole tensors (the layers on strided/pooled grids, e.g. ESA's low-resolution branch). Targets
 * are the pass's outputs that outlive it: they are stored in full (or, for the graph output,
 * written to the result image).
 */
export interface Pass {
  readonly tiled: boolean;
  readonly layers: readonly number[];
  readonly targets: readonly string[];
  /** Targets whose whole-image deviation an ADQ scale of a later pass reads. */
  readonly statistics: readonly string[];
  /** Per layer position: in-pass tensors no later layer of the pass reads. */
  readonly releaseAfter: readonly (readonly string[])[];
}

export interface Plan {
  readonly passes: readonly Pass[];
  /** Stored tensors to drop after each pass. */
  readonly freeAfter: readonly (readonly string[])[];
}

/**
 * Cuts the graph where tiling would change the result: at tensors whose deviation ADQ needs over
 * the whole image, and around layers off the tiling grids (strided or pooled), which run whole.
 * Everything else is tiled, so nothing is computed twice except halos.
 */
export function planGraph(graph: ModelGraph): Plan {
  const { layers, tensors, header } = graph;
  const done = new Set<string>([header.input]);
  const remaining = new Set(layers.map((l) => l.index));
  const passes: Pass[] = [];
  const passOf = new Map<number, number>();
  while (remaining.size > 0) {
    let chosen: number[] = [];
    let tiled = true;
    for (const mode of [true, false]) {
      const produced = new Set<string>();
      chosen = [];
      for (const i of remaining) {
        const layer = layers[i]!.layer;
        if ((tensors.get(layer.output)!.factor !== undefined) !== mode) continue;
        const ready = (name: string) => done.has(name) || produced.has(name);
        if (!layer.inputs.every(ready)) continue;
        if (layer.op === 'adq_scale' && !done.has(layer.statisticsOf)) continue;
        // A tiled layer reads a whole-image tensor only from a store.
        if (mode && layer.inputs.some((n) => tensors.get(n)!.factor === undefined && !done.has(n))) continue;
        chosen.push(i);
        produced.add(layer.output);
      }
      tiled = mode;
      if (chosen.length > 0) break;
    }
    if (chosen.length === 0) throw new Error('planGraph: no layer can run (the graph has a cycle)');
    const inPass = new Set(chosen);
    const targets: string[] = [];
    const statistics: string[] = [];
    for (const i of chosen) {
      remaining.delete(i);
      passOf.set(i, passes.length);
      const t = tensors.get(layers[i]!.layer.output)!;
      if (t.statisticOf.length > 0) statistics.push(t.name);
      if (t.name === header.output || t.statisticOf.length > 0 || t.consumers.some((c) => !inPass.has(c))) targets.push(t.name);
    }
    for (const t of targets) done.add(t);
    const producedHere = new Set(chosen.map((i) => layers[i]!.layer.output));
    // The last position in the pass that reads each tensor: one sweep, linear in the pass's layers.
    const lastReader = new Map<string, number>();
    chosen.forEach((i, k) => {
      for (const n of layers[i]!.layer.inputs) lastReader.set(n, k);
    });
    const releaseAfter = chosen.map((i, k) => layers[i]!.layer.inputs.filter((n) => producedHere.has(n) && lastReader.get(n) === k));
    passes.push({ tiled, layers: chosen, targets, statistics, releaseAfter });
  }
  // A stored tensor lives until the last pass that reads it.
  const freeAfter: string[][] = passes.map(() => []);
  for (const t of tensors.values()) {
    const readers = t.consumers.map((c) => passOf.get(c)!);
    const producerPass = t.producer < 0 ? 0 : passOf.get(t.producer)!;
    const last = Math.max(producerPass, ...readers);
    if (t.name !== header.output) freeAfter[last]!.push(t.name);
  }
  return { passes, freeAfter };
}

export function rectEmpty(r: Rect): boolean {
  return r.y1 <= r.y0 || r.x1 <= r.x0;
}

export function union(a: Rect | undefined, b: Rect): Rect {
  if (!a) return b;
  return { y0: Math.min(a.y0, b.y0), x0: Math.min(a.x0, b.x0), y1: Math.max(a.y1, b.y1), x1: Math.max(a.x1, b.x1) };
}

/** Splits an h × w grid into tiles of at most `tile` × `tile`. */
export function tileGrid(h: number, w: number, tile: number): Rect[] {
  const out: Rect[] = [];
  for (let y0 = 0; y0 < h; y0 += tile) {
    for (let x0 = 0; x0 < w; x0 += tile) out.push({ y0, x0, y1: Math.min(y0 + tile, h), x1: Math.min(x0 + tile, w) });
  }
  return out;
}
