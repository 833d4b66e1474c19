import type { ModelGraph } from './graph.js';

/** A half-open rectangle of a tensor's grid: rows y0..y1−1, columns x0..x1−1. */
export interface Rect {
  readonly y0: number;
  readonly x0: number;
  readonly y1: number;
  readonly x1: number;
}

/**
 * What a pass does towards an ADQ scale's σ, for a tensor it computes:
 * - 'sum': streams the tensor's values, in memory order, into the sum that gives its mean;
 * - 'squares': streams them again into the sum of squared deviations from that mean (φ follows);
 * - 'stored': the tensor is stored whole (a small one, off the tiling grids, or the input), and
 *   both sums are taken from the store once the pass ends.
 */
export interface Statistic {
  readonly name: string;
  readonly phase: 'sum' | 'squares' | 'stored';
}

/**
 * One sweep over the image. A tiled pass computes its layers tile by tile: each tile computes every
 * layer its targets need, over the rectangle they need (the halo found by walking the layers
 * backwards), from the graph input and the stored tensors. A whole pass computes its layers on whole
 * tensors (layers with a spatial window on a grid off the tiling grids, e.g. ESA's 3×3 convs on its
 * pooled grid, which are small). Targets are what a pass writes: the graph output (the result
 * image), stored tensors (whole, for later passes: only tensors off the tiling grids, 1/36 of the
 * LR pixels for ESA), and the tiling-grid tensors whose σ it sums (a band of rows at a time).
 */
export interface Pass {
  readonly tiled: boolean;
  readonly layers: readonly number[];
  readonly targets: readonly string[];
  readonly statistics: readonly Statistic[];
  /** Per layer position: in-pass tensors no later layer of the pass reads. */
  readonly releaseAfter: readonly (readonly string[])[];
}

export interface Plan {
  readonly passes: readonly Pass[];
  /** Stored tensors to drop after each pass. */
  readonly freeAfter: readonly (readonly string[])[];
}

/**
 * Plans the sweeps of an upscale so that nothing on a tiling grid is stored over the whole image
 * but the input: every such tensor is computed tile by tile where it is needed, again in each pass
 * that needs it (recomputed from the input, with the halo its readers need), instead of being kept
 * between passes. What truly depends on the whole image cuts the graph into passes:
 *
 * - an ADQ scale needs σ of a tensor over the whole image: two passes compute that tensor (the sum
 *   for the mean, then the squared deviations, each in memory order as adqFactor sums them), and
 *   only the pass after them can run the scale;
 * - ESA's low-resolution branch: its strided conv and pooling run tile by tile too (each tile
 *   computes the cells of the pooled grid that start in it), but its 3×3 convs on the pooled grid
 *   run in a whole pass on the stored pooled tensor, and the bilinear upsample reads their result
 *   from a store: computed per tile, that branch would need a halo of ~40 LR pixels per cell.
 *
 * Every other layer runs in the first pass that can run it and whichever later passes need it.
 * Time grows (a layer of cell k runs in up to 2k + 1 passes) but memory does not grow with the image:
 * one tile's tensors per thread, the pooled stores, and a band of rows of each summed tensor.
 */
export interface PlanOptions {
  /**
   * 'bounded' (default): nothing on a tiling grid is stored but the input, as above. 'fast': what a
   * later pass reads of a pass's tensors, and the tensors whose σ is needed, are stored whole
   * instead of computed again: each layer runs once, at a memory that grows with the image (the
   * engine checks it against its limit before an upscale).
   */
  readonly memory?: 'bounded' | 'fast';
}

export function planGraph(graph: ModelGraph, options: PlanOptions = {}): Plan {
  const storeCuts = options.memory === 'fast';
  const { layers, tensors, header } = graph;
  const onTiles = (name: string) => tensors.get(name)!.factor !== undefined;
  const whole = wholeLayers(graph);
  const stored = new Set<string>([header.input]);
  /** ADQ layers whose φ is known. */
  const phiKnown = new Set<number>();
  /** Tensors whose mean is known (their 'sum' pass has run). */
  const meanKnown = new Set<string>();
  /** Whole layers that have run. */
  const wholeDone = new Set<number>();
  const passes: Pass[] = [];
  let outputDone = false;
  const adqLayers = layers.filter((l) => l.layer.op === 'adq_scale').map((l) => l.index);
  const ready = (i: number) => layers[i]!.layer.op !== 'adq_scale' || phiKnown.has(i);
  const finishStatistics = (statistics: readonly Statistic[]) => {
    for (const s of statistics) {
      if (s.phase === 'sum') meanKnown.add(s.name);
      else for (const i of tensors.get(s.name)!.statisticOf) phiKnown.add(i);
    }
  };
  while (!outputDone) {
    // Whole layers that can run on what is stored (and on each other's outputs): a whole pass.
    const wholeChosen: number[] = [];
    const madeWhole = new Set<string>();
    for (const gl of layers) {
      const out = gl.layer.output;
      if (!whole.has(gl.index) || wholeDone.has(gl.index) || !ready(gl.index)) continue;
      if (gl.layer.inputs.every((n) => stored.has(n) || madeWhole.has(n))) {
        wholeChosen.push(gl.index);
        madeWhole.add(out);
      }
    }
    if (wholeChosen.length > 0) {
      const inPass = new Set(wholeChosen);
      const targets: string[] = [];
      const statistics: Statistic[] = [];
      for (const i of wholeChosen) {
        const t = tensors.get(layers[i]!.layer.output)!;
        const pending = t.statisticOf.some((a) => !phiKnown.has(a));
        if (pending) statistics.push({ name: t.name, phase: 'stored' });
        if (t.name === header.output || pending || t.consumers.some((c) => !inPass.has(c))) targets.push(t.name);
      }
      passes.push(pass(graph, false, wholeChosen, targets, statistics));
      for (const i of wholeChosen) wholeDone.add(i);
      for (const t of targets) stored.add(t);
      if (targets.includes(header.output)) outputDone = true;
      finishStatistics(statistics);
      continue;
    }

    // What a tiled pass can compute now: from the stores, without unknown φ, and reading a tensor
    // off the tiling grids into a tiling grid only from a store.
    const computable = new Set<string>();
    for (const gl of layers) {
      const out = gl.layer.output;
      if (whole.has(gl.index) || stored.has(out) || !ready(gl.index)) continue;
      const toTiles = onTiles(out);
      if (gl.layer.inputs.every((n) => stored.has(n) || (computable.has(n) && !(toTiles && !onTiles(n))))) computable.add(out);
    }
    const targets = new Set<string>();
    const statistics: Statistic[] = [];
    const summed = new Set<string>();
    if (computable.has(header.output)) targets.add(header.output);
    for (const i of adqLayers) {
      if (phiKnown.has(i)) continue;
      const layer = layers[i]!.layer;
      if (layer.op !== 'adq_scale') continue;
      const s = layer.statisticsOf;
      if (summed.has(s)) continue;
      if (stored.has(s)) {
        statistics.push({ name: s, phase: 'stored' });
      } else if (computable.has(s)) {
        targets.add(s);
        statistics.push({ name: s, phase: onTiles(s) && !storeCuts ? (meanKnown.has(s) ? 'squares' : 'sum') : 'stored' });
      } else continue;
      summed.add(s);
    }
    // Tensors a later pass reads from a store: the inputs of whole layers, and tensors off the
    // tiling grids that a tiling-grid layer reads.
    for (const gl of layers) {
      if (stored.has(gl.layer.output)) continue;
      const toTiles = onTiles(gl.layer.output);
      for (const n of gl.layer.inputs) {
        if (computable.has(n) && (whole.has(gl.index) || (toTiles && !onTiles(n)))) targets.add(n);
      }
    }
    if (storeCuts) {
      // What a later pass reads of the tensors this pass can compute is stored, not computed again,
      // unless nothing of this pass needs any of it: then the later pass computes it, once, and
      // nothing is stored (the bicubic anchor of the input, read only after the cells).
      for (const gl of layers) {
        if (computable.has(gl.layer.output) || stored.has(gl.layer.output)) continue;
        for (const n of gl.layer.inputs) if (computable.has(n) && !onlyForLater(graph, n, stored, computable)) targets.add(n);
      }
    }
    if (targets.size === 0 && statistics.length === 0) throw new Error('planGraph: no layer can run (the graph has a cycle)');
    // The layers the targets need, back to the stores.
    const needed = new Set<number>();
    const work = [...targets];
    while (work.length > 0) {
      const t = tensors.get(work.pop()!)!;
      if (t.producer < 0 || needed.has(t.producer)) continue;
      needed.add(t.producer);
      for (const n of layers[t.producer]!.layer.inputs) if (!stored.has(n)) work.push(n);
    }
    const chosen = [...needed].sort((a, b) => a - b);
    const targetList = [...targets];
    passes.push(pass(graph, chosen.length > 0, chosen, targetList, statistics));
    for (const t of targetList) {
      if (t === header.output) outputDone = true;
      else if (!statistics.some((s) => s.name === t && s.phase !== 'stored') || !onTiles(t)) stored.add(t);
    }
    finishStatistics(statistics);
  }
  // A stored tensor lives until the last pass that reads it (or sums it).
  const freeAfter: string[][] = passes.map(() => []);
  const last = new Map<string, number>();
  passes.forEach((p, k) => {
    const made = new Set(p.layers.map((i) => layers[i]!.layer.output));
    for (const i of p.layers) for (const n of layers[i]!.layer.inputs) if (!made.has(n)) last.set(n, k);
    for (const t of p.targets) if (!last.has(t) || last.get(t)! < k) last.set(t, k);
    for (const s of p.statistics) if (s.phase === 'stored') last.set(s.name, k);
  });
  for (const [name, k] of last) if (name !== header.output && (stored.has(name) || name === header.input)) freeAfter[k]!.push(name);
  return { passes, freeAfter };
}

/**
 * Whether tensor n and the layers that make it from stored tensors serve only layers that cannot run
 * yet: no tensor of that chain has a reader among the computable layers outside the chain.
 */
function onlyForLater(graph: ModelGraph, n: string, stored: ReadonlySet<string>, computable: ReadonlySet<string>): boolean {
  const chain = new Set<string>();
  const work = [n];
  while (work.length > 0) {
    const name = work.pop()!;
    if (stored.has(name) || chain.has(name)) continue;
    chain.add(name);
    const producer = graph.tensors.get(name)!.producer;
    if (producer < 0) return false;
    work.push(...graph.layers[producer]!.layer.inputs);
  }
  for (const name of chain) {
    for (const c of graph.tensors.get(name)!.consumers) {
      const out = graph.layers[c]!.layer.output;
      if (computable.has(out) && !chain.has(out)) return false;
    }
  }
  return true;
}

function pass(graph: ModelGraph, tiled: boolean, chosen: number[], targets: string[], statistics: Statistic[]): Pass {
  const { layers } = graph;
  const producedHere = new Set(chosen.map((i) => layers[i]!.layer.output));
  // The last position in the pass that reads each tensor: one sweep, linear in the pass's layers.
  const lastReader = new Map<string, number>();
  chosen.forEach((i, k) => {
    for (const n of layers[i]!.layer.inputs) lastReader.set(n, k);
  });
  const releaseAfter = chosen.map((i, k) => layers[i]!.layer.inputs.filter((n) => producedHere.has(n) && lastReader.get(n) === k));
  return { tiled, layers: chosen, targets, statistics, releaseAfter };
}

/**
 * Layers that run on whole tensors: those with a spatial window on a grid off the tiling grids
 * (a stride-1 conv or pool reading such a grid, a resize between such grids), and every layer off
 * the tiling grids that reads one of their outputs. The others off the tiling grids (strided convs
 * and pools, element-wise layers) run tile by tile, each tile computing the cells it owns.
 */
export function wholeLayers(graph: ModelGraph): Set<number> {
  const { layers, tensors } = graph;
  const whole = new Set<number>();
  for (const gl of layers) {
    const layer = gl.layer;
    if (tensors.get(layer.output)!.factor !== undefined) continue;
    const off = tensors.get(layer.inputs[0]!)!.factor === undefined;
    let windowed = false;
    if (layer.op === 'conv') windowed = layer.stride === 1 && (layer.kernel[0] > 1 || layer.kernel[1] > 1);
    else if (layer.op === 'max_pool') windowed = layer.stride === 1 && layer.kernel > 1;
    else if (layer.op === 'bilinear_resize') windowed = true;
    if ((off && windowed) || layer.inputs.some((n) => whole.has(tensors.get(n)!.producer))) whole.add(gl.index);
  }
  return whole;
}

export function rectEmpty(r: Rect): boolean {
  return r.y1 <= r.y0 || r.x1 <= r.x0;
}

export function union(a: Rect | undefined, b: Rect): Rect {
  if (!a) return b;
  return { y0: Math.min(a.y0, b.y0), x0: Math.min(a.x0, b.x0), y1: Math.max(a.y1, b.y1), x1: Math.max(a.x1, b.x1) };
}

/** Splits an h × w grid into tiles of at most `tile` × `tile` (or th × tw), row by row. */
export function tileGrid(h: number, w: number, tile: number, tw = tile): Rect[] {
  const out: Rect[] = [];
  for (let y0 = 0; y0 < h; y0 += tile) {
    for (let x0 = 0; x0 < w; x0 += tw) out.push({ y0, x0, y1: Math.min(y0 + tile, h), x1: Math.min(x0 + tw, w) });
  }
  return out;
}
