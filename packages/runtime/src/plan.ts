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
    // Tiled layers that could all wait for a later pass: run only when nothing else can.
    let onlyDeferrable: number[] | undefined;
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
      if (mode && chosen.length > 0) {
        const kept = withoutDeferred(graph, chosen, done);
        if (kept.length === 0) {
          onlyDeferrable = chosen;
          chosen = [];
          continue;
        }
        chosen = kept;
      }
      tiled = mode;
      if (chosen.length > 0) break;
    }
    if (chosen.length === 0 && onlyDeferrable) {
      chosen = onlyDeferrable;
      tiled = true;
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

/**
 * The layers of a tiled pass minus those better computed in a later pass: a group of layers that
 * reads only tensors already stored and that nothing else in this pass reads would otherwise
 * store its outputs over the whole image until a later pass reads them. Deferred, it is computed
 * tile by tile in that later pass from the same stored inputs, with the same values. Deferred only
 * when its inputs take fewer bytes per input pixel than the outputs it would store (rfdn-bicubic's
 * bicubic anchor: 48 float channels stored, 380 MiB at 1920×1080, instead of keeping the 3-channel
 * image), and when every reader of its outputs runs on a tiled grid. Returns [] when every layer
 * could wait: the caller then runs a whole pass first, or these layers when nothing else can run.
 */
function withoutDeferred(graph: ModelGraph, chosen: number[], done: ReadonlySet<string>): number[] {
  const { layers, tensors, header } = graph;
  const inPass = new Set(chosen);
  const deferred = new Set<number>();
  for (const i of chosen) {
    const out = tensors.get(layers[i]!.layer.output)!;
    if (out.name === header.output || out.statisticOf.length > 0) continue;
    // A reader on a whole grid runs in a whole pass, which needs the tensor stored anyway.
    if (out.consumers.some((c) => tensors.get(layers[c]!.layer.output)!.factor === undefined)) continue;
    deferred.add(i);
  }
  // Drop every layer that must run now; a drop can only affect the layers next to it, so a work
  // list keeps this linear in the pass's layers.
  const mustRunNow = (i: number): boolean => {
    const layer = layers[i]!.layer;
    if (tensors.get(layer.output)!.consumers.some((c) => inPass.has(c) && !deferred.has(c))) return true;
    // An input made in this pass by a layer that stays would have to be stored instead.
    return layer.inputs.some((n) => !done.has(n) && !deferred.has(tensors.get(n)!.producer));
  };
  const work = [...deferred];
  while (work.length > 0) {
    const i = work.pop()!;
    if (!deferred.has(i) || !mustRunNow(i)) continue;
    deferred.delete(i);
    const layer = layers[i]!.layer;
    for (const n of layer.inputs) {
      const p = tensors.get(n)!.producer;
      if (deferred.has(p)) work.push(p);
    }
    for (const c of tensors.get(layer.output)!.consumers) if (deferred.has(c)) work.push(c);
  }
  if (deferred.size === 0) return chosen;
  const perPixel = (name: string) => {
    const t = tensors.get(name)!;
    return t.info.channels * (t.info.dtype === 'uint8' ? 1 : 4) * (t.factor ?? 1) ** 2;
  };
  const outputs = new Set<string>();
  const inputs = new Set<string>();
  for (const i of deferred) {
    const layer = layers[i]!.layer;
    const out = tensors.get(layer.output)!;
    if (out.consumers.some((c) => !inPass.has(c))) outputs.add(out.name);
    for (const n of layer.inputs) if (done.has(n)) inputs.add(n);
  }
  let kept = 0;
  let saved = 0;
  for (const n of inputs) kept += perPixel(n);
  for (const n of outputs) saved += perPixel(n);
  if (saved <= kept) return chosen;
  return chosen.filter((i) => !deferred.has(i));
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
