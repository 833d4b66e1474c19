import type { ArtifactLayer } from './artifact-header.js';
import { bilinearTaps, convParams, type GraphLayer, type ModelGraph } from './graph.js';
import { rectEmpty, union, type Plan, type Rect } from './plan.js';
import type { ConvCodes, ConvResidual, IntegerKernels, LayerKernels, WasmConv } from './wasm-kernels.js';

type Sizes = ReadonlyMap<string, { readonly h: number; readonly w: number }>;

/** A tensor over a rectangle of its grid (NHWC rows of w pixels × c channels). */
export interface Piece {
  readonly y0: number;
  readonly x0: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float32Array | Uint8Array;
}

/** Rows of a tensor in bands of `rows` rows, band j in data[j % data.length] (see SharedBands). */
export interface Bands {
  readonly rows: number;
  readonly w: number;
  readonly c: number;
  readonly data: readonly (Float32Array | Uint8Array)[];
}

/** What a pass reads and writes besides its own tiles: stored tensors, ADQ factors, the result. */
export interface RunContext {
  readonly sizes: Sizes;
  /** Tensors stored by earlier passes, and those this pass fills. */
  readonly stores: ReadonlyMap<string, Piece>;
  /** The tensors whose σ the pass sums: their tiles' rows go into these bands. */
  readonly bands?: ReadonlyMap<string, Bands>;
  /** φ of each ADQ layer (by layer index), from the whole-image deviation. */
  readonly factors: ReadonlyMap<number, number>;
  /** The HR image, RGB bytes. */
  readonly output: Uint8Array;
}

type Taps = ReturnType<typeof bilinearTaps>;

/** A tile's tensor in the kernel heap: a rectangle of its grid, NHWC rows of w pixels × c channels. */
interface Slab {
  readonly y0: number;
  readonly x0: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  /** Bytes per value: 1 (uint8 codes) or 4 (float32). */
  readonly elem: number;
  readonly at: number;
}

/** Address of global (y, x) in s. */
function addr(s: Slab, y: number, x: number): number {
  return s.at + ((y - s.y0) * s.w + (x - s.x0)) * s.c * s.elem;
}

function rowBytes(s: Slab): number {
  return s.w * s.c * s.elem;
}

/**
 * A layer whose output only feeds one next layer of the same pass, which it computes itself: a
 * conv with a float32 output and a residual add (the conv adds the other input while storing its
 * tiles), or a float32 concat and the quantizer after it (each input quantized straight into its
 * channels of the uint8 result, no float32 concat in between).
 */
interface Fused {
  /** The consumer, skipped when the pass runs. */
  readonly layer: number;
  readonly output: string;
  /** The add's other input. */
  readonly residual?: string;
  /** A clamp layer after the add, also computed by the conv (skipped too); output is then its output. */
  readonly clampAfter?: { readonly layer: number; readonly min: number; readonly max: number };
}

/** A conv whose float32 output only feeds a fused concat + quantizer: it writes its channels' codes itself. */
interface IntoConcat {
  /** The quantizer's output, and this input's first channel in it. */
  readonly output: string;
  readonly offset: number;
  readonly step: number;
  readonly max: number;
}

/**
 * A quantize layer computed by the conv, affine or pixel shuffle layer whose float32 output it
 * reads, from the values in registers rather than from memory.
 */
interface Quantized {
  /** The quantize layer, skipped when the pass runs. */
  readonly layer: number;
  readonly output: string;
  readonly step: number;
  readonly max: number;
}

/** The layers of one pass that run inside another (see Fused, Quantized and IntoConcat). */
interface PassFusion {
  readonly fused: Map<number, Fused>;
  readonly quantized: Map<number, Quantized>;
  readonly intoConcat: Map<number, IntoConcat>;
  /** Per fused concat: the inputs its convs write. */
  readonly writtenInputs: Map<number, Set<string>>;
  readonly skipped: Set<number>;
  /** The tensors the pass's layers make. */
  readonly produced: ReadonlySet<string>;
  readonly targets: ReadonlySet<string>;
}

/** TensorFlow's 'same' padding before the first row (or column). */
function padBefore(size: number, k: number, stride: number, padding: 'same' | 'valid'): number {
  if (padding === 'valid') return 0;
  const out = Math.ceil(size / stride);
  return Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2);
}

/** Where a tile's slabs come from: the kernel heap, or (planning) a counter of the bytes it would hold. */
interface Arena {
  alloc(bytes: number): number;
  release(at: number): void;
}

/** Counts what a tile would allocate, aligned as WasmHeap aligns it, and the most at once. */
class CountingArena implements Arena {
  private readonly sizes = new Map<number, number>();
  private next = 16;
  live = 0;
  peak = 0;

  alloc(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / 16) * 16;
    const at = this.next;
    this.next += size;
    this.sizes.set(at, size);
    this.live += size;
    this.peak = Math.max(this.peak, this.live);
    return at;
  }

  release(at: number): void {
    this.live -= this.sizes.get(at)!;
    this.sizes.delete(at);
  }
}

/** First index of a non-decreasing array whose value is at least v. */
function lowerBound(a: Int32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Runs the passes of a plan on one kernel instance: per tile, finds the rectangle every tensor of
 * the pass needs (walking back from the targets' tiles), computes the layers over those rectangles
 * in global coordinates, and writes the targets' tiles. Because every layer is evaluated at global
 * positions with the zero padding only at the real image border, a tile's values equal the
 * untiled ones exactly. A tensor on a tiling grid (F times the input's size) has as a tile's part
 * the tile scaled by F; one off those grids (after a strided conv or a pool) the cells whose first
 * input row and column map into the tile, so the tiles of a pass partition every grid.
 *
 * A tile's tensors live in the kernel heap from the layer that makes them to their last reader, and
 * every layer runs there (assembly/layers.ts, the convs reading their input in place), so the only
 * copies are the stored tensors a pass reads (their rectangle, once per tile) and the targets it
 * writes. Some layers run inside the one before them (see Fused, Quantized and IntoConcat).
 *
 * Without kernels the executor only plans: `measure` gives the heap bytes a tile needs.
 */
export class TileExecutor {
  private readonly convs = new Map<number, WasmConv>();
  private readonly taps = new Map<string, Taps>();
  /** Bilinear taps in the heap, 16 bytes per output index: i0, i1 (i32), w0, w1 (f32). */
  private readonly heapTaps = new Map<string, number>();
  private readonly affine = new Map<number, { scale: number; shift: number }>();
  private readonly fusion: PassFusion[];
  /** Per image size: for each tensor off the tiling grids, the input row (column) of each of its rows (columns). */
  private readonly owners = new WeakMap<Sizes, Map<string, { y: Int32Array; x: Int32Array }>>();
  /**
   * Milliseconds spent in each layer (by graph index) since the last reset, when profiling: a
   * layer fused into another (a conv's residual add, a concat's quantize) counts in the one that
   * runs it. Timing reads the clock around each layer and changes nothing that is computed.
   */
  layerMs: Float64Array | undefined;

  constructor(
    private readonly graph: ModelGraph,
    private readonly plan: Plan,
    private readonly kernels?: IntegerKernels,
  ) {
    this.fusion = plan.passes.map((_, p) => this.fuse(p));
  }

  private get k(): LayerKernels {
    return this.kernels!.exports;
  }

  /** Which layers of pass p run inside another: decided once per model. */
  private fuse(p: number): PassFusion {
    const { graph } = this;
    const pass = this.plan.passes[p]!;
    const inPass = new Set(pass.layers);
    const targets = new Set(pass.targets);
    const fused = new Map<number, Fused>();
    const quantized = new Map<number, Quantized>();
    const intoConcat = new Map<number, IntoConcat>();
    const writtenInputs = new Map<number, Set<string>>();
    const skipped = new Set<number>();
    // A tensor that only feeds one layer of the pass and that the pass does not write.
    const internal = (name: string) => {
      const t = graph.tensors.get(name)!;
      return t.consumers.length === 1 && inPass.has(t.consumers[0]!) && !targets.has(name) && name !== graph.header.output;
    };
    for (const i of pass.layers) {
      const gl = graph.layers[i]!;
      const t = graph.tensors.get(gl.layer.output)!;
      if (!internal(t.name)) continue;
      const next = t.consumers[0]!;
      const consumer = graph.layers[next]!.layer;
      if (gl.layer.op === 'conv' && gl.conv?.kind === 'float32' && consumer.op === 'add') {
        const residual = consumer.inputs[0] === t.name ? consumer.inputs[1]! : consumer.inputs[0]!;
        // The residual must exist when the conv runs: stored by an earlier pass, the input, or made
        // before the conv in this pass (the add may read one made after it).
        const producer = graph.tensors.get(residual)!.producer;
        if (residual === t.name || (inPass.has(producer) && pass.layers.indexOf(producer) > pass.layers.indexOf(gl.index))) continue;
        // A clamp after the add (the model's output range) is the conv's too.
        const sum = graph.tensors.get(consumer.output)!;
        const after = internal(sum.name) ? graph.layers[sum.consumers[0]!]!.layer : undefined;
        const unbounded = gl.conv.min === -Infinity && gl.conv.max === Infinity;
        if (after?.op === 'clamp' && unbounded) {
          fused.set(gl.index, { layer: next, output: after.output, residual, clampAfter: { layer: sum.consumers[0]!, min: after.min, max: after.max } });
          skipped.add(sum.consumers[0]!);
        } else fused.set(gl.index, { layer: next, output: consumer.output, residual });
      } else if (gl.layer.op === 'concat' && t.info.dtype === 'float32' && consumer.op === 'quantize') {
        fused.set(gl.index, { layer: next, output: consumer.output });
      } else continue;
      skipped.add(next);
    }
    for (const i of pass.layers) {
      const gl = graph.layers[i]!;
      const floats = graph.tensors.get(gl.layer.output)!.info.dtype === 'float32';
      if (!(gl.layer.op === 'conv' && gl.conv?.kind === 'float32') && gl.layer.op !== 'affine' && !(gl.layer.op === 'pixel_shuffle' && floats)) continue;
      const t = graph.tensors.get(fused.get(gl.index)?.output ?? gl.layer.output)!;
      const q = t.consumers.find((c) => graph.layers[c]!.layer.op === 'quantize' && inPass.has(c) && !skipped.has(c));
      if (q === undefined) continue;
      const output = graph.layers[q]!.layer.output;
      const info = graph.tensors.get(output)!.info as { step: number; bits: number };
      quantized.set(gl.index, { layer: q, output, step: info.step, max: 2 ** info.bits - 1 });
      skipped.add(q);
    }
    for (const [index, f] of fused) {
      const concat = graph.layers[index]!.layer;
      if (concat.op !== 'concat') continue;
      const info = graph.tensors.get(f.output)!.info as { step: number; bits: number };
      const written = new Set<string>();
      let offset = 0;
      for (const name of concat.inputs) {
        const t = graph.tensors.get(name)!;
        const producer = graph.layers[t.producer];
        if (
          producer?.layer.op === 'conv' &&
          producer.conv?.kind === 'float32' &&
          internal(name) &&
          inPass.has(t.producer) &&
          !fused.has(t.producer) &&
          !quantized.has(t.producer)
        ) {
          intoConcat.set(t.producer, { output: f.output, offset, step: info.step, max: 2 ** info.bits - 1 });
          written.add(name);
        }
        offset += t.info.channels;
      }
      writtenInputs.set(index, written);
    }
    const produced = new Set(pass.layers.map((i) => graph.layers[i]!.layer.output));
    return { fused, quantized, intoConcat, writtenInputs, skipped, produced, targets };
  }

  private conv(gl: GraphLayer): WasmConv {
    let conv = this.convs.get(gl.index);
    if (!conv) {
      const layer = gl.layer as Extract<ArtifactLayer, { op: 'conv' }>;
      const k = Math.max(...layer.kernel);
      // Prepared at a nominal size: runCropAt supplies each tile's.
      conv = this.kernels!.prepareConv(convParams(gl, this.graph.tensors.get(layer.inputs[0]!)!, k, k));
      this.convs.set(gl.index, conv);
    }
    return conv;
  }

  private affineOf(gl: GraphLayer): { scale: number; shift: number } {
    let a = this.affine.get(gl.index);
    if (!a) this.affine.set(gl.index, (a = { scale: this.place(gl.affine!.scale), shift: this.place(gl.affine!.shift) }));
    return a;
  }

  dispose(): void {
    for (const conv of this.convs.values()) conv.dispose();
    this.convs.clear();
    if (!this.kernels) return;
    const heap = this.kernels.heap;
    for (const { scale, shift } of this.affine.values()) {
      heap.release(scale);
      heap.release(shift);
    }
    this.affine.clear();
    for (const at of this.heapTaps.values()) heap.release(at);
    this.heapTaps.clear();
  }

  private place(values: Float32Array): number {
    const at = this.kernels!.heap.alloc(values.byteLength);
    new Float32Array(this.kernels!.heap.memory.buffer, at, values.length).set(values);
    return at;
  }

  private tapsFor(inSize: number, outSize: number): Taps {
    const key = `${inSize}:${outSize}`;
    let t = this.taps.get(key);
    if (!t) this.taps.set(key, (t = bilinearTaps(inSize, outSize)));
    return t;
  }

  private heapTapsFor(inSize: number, outSize: number): number {
    const key = `${inSize}:${outSize}`;
    let at = this.heapTaps.get(key);
    if (at === undefined) {
      const t = this.tapsFor(inSize, outSize);
      const heap = this.kernels!.heap;
      at = heap.alloc(outSize * 16);
      const buffer = heap.memory.buffer;
      const ints = new Int32Array(buffer, at, outSize * 4);
      const floats = new Float32Array(buffer, at, outSize * 4);
      for (let o = 0; o < outSize; o++) {
        ints[4 * o] = t.i0[o]!;
        ints[4 * o + 1] = t.i1[o]!;
        floats[4 * o + 2] = t.w0[o]!;
        floats[4 * o + 3] = t.w1[o]!;
      }
      this.heapTaps.set(key, at);
    }
    return at;
  }

  /** The rectangle of `input` that `layer` reads to produce rectangle r of its output. */
  inputRect(layer: ArtifactLayer, input: string, r: Rect, sizes: Sizes): Rect {
    const s = sizes.get(input)!;
    const clip = (y0: number, x0: number, y1: number, x1: number): Rect => ({
      y0: Math.max(y0, 0),
      x0: Math.max(x0, 0),
      y1: Math.min(y1, s.h),
      x1: Math.min(x1, s.w),
    });
    switch (layer.op) {
      case 'conv': {
        const [kh, kw] = layer.kernel;
        const st = layer.stride;
        const pt = padBefore(s.h, kh, st, layer.padding);
        const pl = padBefore(s.w, kw, st, layer.padding);
        return clip(r.y0 * st - pt, r.x0 * st - pl, (r.y1 - 1) * st - pt + kh, (r.x1 - 1) * st - pl + kw);
      }
      case 'max_pool':
        return clip(r.y0 * layer.stride, r.x0 * layer.stride, (r.y1 - 1) * layer.stride + layer.kernel, (r.x1 - 1) * layer.stride + layer.kernel);
      case 'pixel_shuffle': {
        const f = layer.factor;
        return clip(Math.floor(r.y0 / f), Math.floor(r.x0 / f), Math.ceil(r.y1 / f), Math.ceil(r.x1 / f));
      }
      case 'bilinear_resize': {
        const o = sizes.get(layer.output)!;
        const ty = this.tapsFor(s.h, o.h);
        const tx = this.tapsFor(s.w, o.w);
        return clip(ty.i0[r.y0]!, tx.i0[r.x0]!, ty.i1[r.y1 - 1]! + 1, tx.i1[r.x1 - 1]! + 1);
      }
      default:
        return r;
    }
  }

  /**
   * For each tensor off the tiling grids, the input (LR) row of each of its rows and the input
   * column of each of its columns: where its first tap lies, followed back layer by layer. Never
   * decreasing, and within the image, so the cells that map into the tiles partition the grid.
   */
  private ownersFor(sizes: Sizes): Map<string, { y: Int32Array; x: Int32Array }> {
    let owners = this.owners.get(sizes);
    if (owners) return owners;
    owners = new Map();
    const made = owners;
    const { tensors } = this.graph;
    /** The LR row (column) of index j of tensor `name`. */
    const lr = (name: string, axis: 'y' | 'x', j: number): number => {
      const t = tensors.get(name)!;
      if (t.factor !== undefined) return Math.floor(j / t.factor);
      return made.get(name)![axis][j]!;
    };
    for (const { layer } of this.graph.layers) {
      if (tensors.get(layer.output)!.factor !== undefined) continue;
      const input = layer.inputs[0]!;
      const out = sizes.get(layer.output)!;
      const inSize = sizes.get(input)!;
      const axisMap = (axis: 'y' | 'x'): Int32Array => {
        const n = axis === 'y' ? out.h : out.w;
        const m = new Int32Array(n);
        const size = axis === 'y' ? inSize.h : inSize.w;
        for (let i = 0; i < n; i++) {
          let j: number;
          let from = input;
          switch (layer.op) {
            case 'conv': {
              const k = layer.kernel[axis === 'y' ? 0 : 1];
              j = i * layer.stride - padBefore(size, k, layer.stride, layer.padding);
              break;
            }
            case 'max_pool':
              j = i * layer.stride;
              break;
            case 'pixel_shuffle':
              j = Math.floor(i / layer.factor);
              break;
            case 'bilinear_resize':
              // Its grid is its sizeOf's.
              from = layer.sizeOf;
              j = i;
              break;
            default:
              j = i;
          }
          const fromSize = sizes.get(from)!;
          m[i] = lr(from, axis, Math.min(Math.max(j, 0), (axis === 'y' ? fromSize.h : fromSize.w) - 1));
        }
        return m;
      };
      made.set(layer.output, { y: axisMap('y'), x: axisMap('x') });
    }
    this.owners.set(sizes, made);
    return made;
  }

  /** The part of tensor `name` that `tile` (a rectangle of the input grid) computes and writes. */
  ownedRect(name: string, tile: Rect, sizes: Sizes): Rect {
    const t = this.graph.tensors.get(name)!;
    const s = sizes.get(name)!;
    const f = t.factor;
    if (f !== undefined) return { y0: tile.y0 * f, x0: tile.x0 * f, y1: Math.min(tile.y1 * f, s.h), x1: Math.min(tile.x1 * f, s.w) };
    const m = this.ownersFor(sizes).get(name)!;
    return { y0: lowerBound(m.y, tile.y0), x0: lowerBound(m.x, tile.x0), y1: lowerBound(m.y, tile.y1), x1: lowerBound(m.x, tile.x1) };
  }

  /**
   * One piece of a pass: `tile` is a rectangle of the input grid (a tiled pass: each target's part
   * is what the tile owns of it), or undefined (a whole pass: everything in full).
   */
  run(passIndex: number, tile: Rect | undefined, ctx: RunContext): void {
    if (!this.kernels) throw new Error('TileExecutor: no kernels to run on (this one only plans)');
    this.walk(passIndex, tile, ctx.sizes, ctx, this.kernels.heap);
  }

  /** The most kernel-heap bytes that `run` holds at once for this tile (slabs, aligned; not the weights). */
  measure(passIndex: number, tile: Rect | undefined, sizes: Sizes): number {
    const arena = new CountingArena();
    this.walk(passIndex, tile, sizes, undefined, arena);
    return arena.peak;
  }

  /** Runs (ctx given) or counts (ctx undefined) one piece of a pass. */
  private walk(passIndex: number, tile: Rect | undefined, sizes: Sizes, ctx: RunContext | undefined, arena: Arena): void {
    const pass = this.plan.passes[passIndex]!;
    const fusion = this.fusion[passIndex]!;
    const { produced } = fusion;
    const { tensors, layers } = this.graph;
    const need = new Map<string, Rect>();
    const cores = new Map<string, Rect>();
    if (tile) {
      for (const t of pass.targets) {
        const core = this.ownedRect(t, tile, sizes);
        cores.set(t, core);
        if (!rectEmpty(core)) need.set(t, core);
      }
      for (let k = pass.layers.length - 1; k >= 0; k--) {
        const layer = layers[pass.layers[k]!]!.layer;
        const r = need.get(layer.output);
        if (!r || rectEmpty(r)) continue;
        for (const input of layer.inputs) {
          if (produced.has(input)) need.set(input, union(need.get(input), this.inputRect(layer, input, r, sizes)));
        }
      }
    } else {
      for (const i of pass.layers) {
        const out = layers[i]!.layer.output;
        const s = sizes.get(out)!;
        need.set(out, { y0: 0, x0: 0, y1: s.h, x1: s.w });
        cores.set(out, need.get(out)!);
      }
    }
    // What the pass reads of tensors stored by earlier passes: one copy into the heap per tile.
    const reads = new Map<string, Rect>();
    for (const i of pass.layers) {
      const layer = layers[i]!.layer;
      const r = need.get(layer.output);
      if (!r || rectEmpty(r)) continue;
      for (const input of layer.inputs) {
        if (!produced.has(input)) reads.set(input, union(reads.get(input), this.inputRect(layer, input, r, sizes)));
      }
    }
    const dry = ctx === undefined;
    const alloc = (r: Rect, c: number, elem: number): Slab => {
      const h = r.y1 - r.y0;
      const w = r.x1 - r.x0;
      return { y0: r.y0, x0: r.x0, h, w, c, elem, at: arena.alloc(h * w * c * elem) };
    };
    const local = new Map<string, Slab>();
    const held: Slab[] = [];
    const get = (name: string): Slab => local.get(name)!;
    try {
      for (const [name, r] of reads) {
        const info = tensors.get(name)!.info;
        const slab = alloc(r, info.channels, info.dtype === 'uint8' ? 1 : 4);
        held.push(slab);
        local.set(name, slab);
        if (!dry) this.load(ctx.stores.get(name)!, slab);
      }
      pass.layers.forEach((i, k) => {
        const gl = layers[i]!;
        const r = need.get(gl.layer.output);
        const into = fusion.intoConcat.get(i);
        if (r && !rectEmpty(r) && into) {
          // Its codes go straight into the fused concat's result, which covers the same rectangle.
          let target = local.get(into.output);
          if (!target) {
            target = alloc(r, tensors.get(into.output)!.info.channels, 1);
            local.set(into.output, target);
          }
          if (!dry) {
            const t0 = this.layerMs ? performance.now() : 0;
            this.runConv(gl, r, get(gl.layer.inputs[0]!), 0, sizes, undefined, {
              at: addr(target, r.y0, r.x0) + into.offset,
              step: into.step,
              max: into.max,
              pixel: target.c,
              only: true,
            });
            if (this.layerMs) this.layerMs[i]! += performance.now() - t0;
          }
        } else if (r && !rectEmpty(r) && !fusion.skipped.has(i)) {
          const fused = fusion.fused.get(i);
          const quantized = fusion.quantized.get(i);
          const name = fused ? fused.output : gl.layer.output;
          let codes: Slab | undefined;
          if (quantized) {
            // Over the conv's rectangle, which covers what the quantizer's readers need.
            codes = alloc(r, tensors.get(quantized.output)!.info.channels, 1);
            local.set(quantized.output, codes);
          }
          // A fused concat's convs may have made its result already.
          let out = fused && gl.layer.op === 'concat' ? local.get(fused.output) : undefined;
          if (!out) {
            const info = tensors.get(name)!.info;
            out = alloc(r, info.channels, info.dtype === 'uint8' ? 1 : 4);
            local.set(name, out);
          }
          if (!dry) {
            const t0 = this.layerMs ? performance.now() : 0;
            this.fill(gl, r, out, get, ctx, fusion, fused, codes && quantized && { at: codes.at, step: quantized.step, max: quantized.max });
            if (this.layerMs) this.layerMs[i]! += performance.now() - t0;
          }
          for (const [n, s] of quantized
            ? ([
                [name, out],
                [quantized.output, codes!],
              ] as const)
            : ([[name, out]] as const)) {
            const core = cores.get(n);
            if (core && !rectEmpty(core) && fusion.targets.has(n)) this.store(n, s, core, ctx, arena);
          }
        }
        for (const name of pass.releaseAfter[k]!) {
          const slab = local.get(name);
          if (slab && produced.has(name)) {
            arena.release(slab.at);
            local.delete(name);
          }
        }
      });
    } finally {
      for (const [name, slab] of local) if (produced.has(name)) arena.release(slab.at);
      for (const slab of held) arena.release(slab.at);
    }
  }

  /** Copies a stored tensor's part into slab (its rectangle). */
  private load(store: Piece, slab: Slab): void {
    const n = slab.w * store.c;
    const buffer = this.kernels!.heap.memory.buffer;
    const dst = slab.elem === 1 ? new Uint8Array(buffer, slab.at, slab.h * n) : new Float32Array(buffer, slab.at, slab.h * n);
    if (slab.w === store.w) {
      // Whole rows: one copy.
      const src = (slab.y0 - store.y0) * n;
      dst.set(store.data.subarray(src, src + slab.h * n));
      return;
    }
    for (let y = 0; y < slab.h; y++) {
      const src = ((slab.y0 + y - store.y0) * store.w + (slab.x0 - store.x0)) * store.c;
      dst.set(store.data.subarray(src, src + n), y * n);
    }
  }

  /** Writes the core of a target: into the result image (the graph output) and/or its store. */
  private store(name: string, slab: Slab, core: Rect, ctx: RunContext | undefined, arena: Arena): void {
    const width = core.x1 - core.x0;
    const rows = core.y1 - core.y0;
    if (name === this.graph.header.output) {
      const n = width * 3;
      const bytes = arena.alloc(rows * n);
      try {
        if (ctx) {
          const w = ctx.sizes.get(name)!.w;
          const heap = this.kernels!.heap;
          this.k.outputBytes(addr(slab, core.y0, core.x0), rowBytes(slab), bytes, n, rows, n);
          const src = new Uint8Array(heap.memory.buffer, bytes, rows * n);
          if (width === w) ctx.output.set(src, core.y0 * w * 3);
          else for (let y = 0; y < rows; y++) ctx.output.set(src.subarray(y * n, (y + 1) * n), ((core.y0 + y) * w + core.x0) * 3);
        }
      } finally {
        arena.release(bytes);
      }
    }
    const store = ctx?.stores.get(name);
    const bands = ctx?.bands?.get(name);
    if (!store && !bands) return;
    const c = slab.c;
    const buffer = this.kernels!.heap.memory.buffer;
    const src = slab.elem === 1 ? new Uint8Array(buffer, slab.at, slab.h * slab.w * c) : new Float32Array(buffer, slab.at, slab.h * slab.w * c);
    if (store && !bands && width === slab.w && width === store.w) {
      // Whole rows: one copy.
      const s = (core.y0 - slab.y0) * width * c;
      store.data.set(src.subarray(s, s + rows * width * c), (core.y0 - store.y0) * width * c);
      return;
    }
    for (let y = core.y0; y < core.y1; y++) {
      const s = ((y - slab.y0) * slab.w + (core.x0 - slab.x0)) * c;
      const row = src.subarray(s, s + width * c);
      if (store) store.data.set(row, ((y - store.y0) * store.w + (core.x0 - store.x0)) * c);
      if (bands) {
        const j = Math.floor(y / bands.rows);
        bands.data[j % bands.data.length]!.set(row, ((y - j * bands.rows) * bands.w + core.x0) * c);
      }
    }
  }

  /** Conv gl over output rectangle r, reading its input from x, into outAt (see WasmConv.runCropAt). */
  private runConv(gl: GraphLayer, r: Rect, x: Slab, outAt: number, sizes: Sizes, residual?: ConvResidual, codes?: ConvCodes): void {
    const layer = gl.layer;
    if (layer.op !== 'conv') throw new Error('not a conv layer');
    const inRect = this.inputRect(layer, layer.inputs[0]!, r, sizes);
    const s = sizes.get(layer.inputs[0]!)!;
    const [kh, kw] = layer.kernel;
    const padTop = inRect.y0 - (r.y0 * layer.stride - padBefore(s.h, kh, layer.stride, layer.padding));
    const padLeft = inRect.x0 - (r.x0 * layer.stride - padBefore(s.w, kw, layer.stride, layer.padding));
    this.conv(gl).runCropAt(
      addr(x, inRect.y0, inRect.x0),
      rowBytes(x),
      inRect.y1 - inRect.y0,
      inRect.x1 - inRect.x0,
      padTop,
      padLeft,
      r.y1 - r.y0,
      r.x1 - r.x0,
      outAt,
      residual,
      codes,
    );
  }

  /** Computes layer gl over r into out. */
  private fill(
    gl: GraphLayer,
    r: Rect,
    out: Slab,
    get: (name: string) => Slab,
    ctx: RunContext,
    fusion: PassFusion,
    fused: Fused | undefined,
    codes: ConvCodes | undefined,
  ): void {
    const layer = gl.layer;
    const { h, w, c, elem } = out;
    // The first input (a concat reads each of its inputs itself: some may exist only inside its result).
    const x = layer.op === 'concat' ? out : get(layer.inputs[0]!);
    const k = this.k;
    const outRow = w * c * elem;
    /** A per-element kernel over r: (src, srcStride, dst, dstStride, rows, n); one long row when both are contiguous. */
    const each = (f: (src: number, srcStride: number, dst: number, dstStride: number, rows: number, n: number) => void) => {
      if (x.w === w) f(addr(x, r.y0, r.x0), rowBytes(x), out.at, outRow, 1, h * w * c);
      else f(addr(x, r.y0, r.x0), rowBytes(x), out.at, outRow, h, w * c);
    };
    switch (layer.op) {
      case 'conv': {
        let residual: ConvResidual | undefined;
        if (fused) {
          const res = get(fused.residual!);
          residual = { at: addr(res, r.y0, r.x0), rowStride: rowBytes(res), ...(fused.clampAfter ? { clampAfter: fused.clampAfter } : {}) };
        }
        this.runConv(gl, r, x, out.at, ctx.sizes, residual, codes);
        break;
      }
      case 'add':
      case 'mul': {
        const b = get(layer.inputs[1]!);
        const op = layer.op === 'add' ? 0 : 1;
        if (x.w === w && b.w === w) k.binaryF32(op, addr(x, r.y0, r.x0), 0, addr(b, r.y0, r.x0), 0, out.at, 0, 1, h * w * c);
        else k.binaryF32(op, addr(x, r.y0, r.x0), rowBytes(x), addr(b, r.y0, r.x0), rowBytes(b), out.at, outRow, h, w * c);
        break;
      }
      case 'concat': {
        let c0 = 0;
        const q = fused && (this.graph.tensors.get(fused.output)!.info as { step: number; bits: number });
        const written = fusion.writtenInputs.get(gl.index);
        for (const name of layer.inputs) {
          if (written?.has(name)) {
            c0 += this.graph.tensors.get(name)!.info.channels;
            continue;
          }
          const p = get(name);
          const at = addr(p, r.y0, r.x0);
          if (q) k.quantize(at, rowBytes(p), p.c * 4, out.at + c0, outRow, c, h, w, p.c, q.step, 2 ** q.bits - 1);
          else k.copyPixels(at, rowBytes(p), p.c * elem, out.at + c0 * elem, outRow, c * elem, h, w, p.c * elem);
          c0 += p.c;
        }
        break;
      }
      case 'pixel_shuffle':
        k.pixelShuffle(
          x.at,
          rowBytes(x),
          x.y0,
          x.x0,
          x.c,
          out.at,
          outRow,
          r.y0,
          r.x0,
          h,
          w,
          c,
          layer.factor,
          elem,
          codes?.at ?? 0,
          w * c,
          codes?.step ?? 1,
          codes?.max ?? 0,
        );
        break;
      case 'repeat_channels':
        k.repeatChannels(addr(x, r.y0, r.x0), rowBytes(x), x.c, out.at, outRow, c, h, w, elem);
        break;
      case 'max_pool':
        k.maxPoolF32(addr(x, r.y0 * layer.stride, r.x0 * layer.stride), rowBytes(x), out.at, outRow, h, w, c, layer.kernel, layer.stride);
        break;
      case 'bilinear_resize': {
        const s = ctx.sizes.get(layer.inputs[0]!)!;
        const o = ctx.sizes.get(layer.output)!;
        k.bilinearF32(x.at, rowBytes(x), x.y0, x.x0, c, out.at, outRow, r.y0, r.x0, h, w, this.heapTapsFor(s.h, o.h), this.heapTapsFor(s.w, o.w));
        break;
      }
      case 'sigmoid':
        each(k.sigmoidF32);
        break;
      case 'clamp': {
        const { min, max } = layer;
        each((src, ss, dst, ds, rows, n) => k.clampF32(src, ss, dst, ds, rows, n, min, max));
        break;
      }
      case 'adq_scale': {
        const phi = ctx.factors.get(gl.index)!;
        each((src, ss, dst, ds, rows, n) => k.scaleF32(src, ss, dst, ds, rows, n, phi));
        break;
      }
      case 'affine': {
        const { scale, shift } = this.affineOf(gl);
        k.affineF32(addr(x, r.y0, r.x0), rowBytes(x), out.at, outRow, h, w, c, scale, shift, codes?.at ?? 0, codes?.step ?? 1, codes?.max ?? 0);
        break;
      }
      case 'quantize': {
        const q = this.graph.tensors.get(layer.output)!.info as { step: number; bits: number };
        const max = 2 ** q.bits - 1;
        each((src, ss, dst, ds, rows, n) => k.quantize(src, ss, 0, dst, ds, 0, rows, 1, n, q.step, max));
        break;
      }
    }
  }
}
