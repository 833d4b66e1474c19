import type { ArtifactLayer } from './artifact-header.js';
import { bilinearTaps, convParams, outputByte, type GraphLayer, type ModelGraph } from './graph.js';
import { rectEmpty, union, type Plan, type Rect } from './plan.js';
import type { IntegerKernels, WasmConv } from './wasm-kernels.js';

/** A tensor over a rectangle of its grid (NHWC rows of w pixels × c channels). */
export interface Piece {
  readonly y0: number;
  readonly x0: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float32Array | Uint8Array;
}

/** What a pass reads and writes besides its own tiles: full tensors, ADQ factors, the result. */
export interface RunContext {
  readonly sizes: ReadonlyMap<string, { readonly h: number; readonly w: number }>;
  /** Whole tensors stored by earlier passes, and those this pass fills. */
  readonly stores: ReadonlyMap<string, Piece>;
  /** φ of each ADQ layer (by layer index), from the whole-image deviation. */
  readonly factors: ReadonlyMap<number, number>;
  /** The HR image, RGB bytes. */
  readonly output: Uint8Array;
}

type Taps = ReturnType<typeof bilinearTaps>;
const ROUND = 1.5 * 2 ** 52;

/** TensorFlow's 'same' padding before the first row (or column). */
function padBefore(size: number, k: number, stride: number, padding: 'same' | 'valid'): number {
  if (padding === 'valid') return 0;
  const out = Math.ceil(size / stride);
  return Math.floor(Math.max((out - 1) * stride + k - size, 0) / 2);
}

/**
 * Runs the passes of a plan on one kernel instance: per tile, finds the rectangle every tensor of
 * the pass needs (walking back from the targets' tiles), computes the layers over those rectangles
 * in global coordinates, and writes the targets' tiles. Because every layer is evaluated at global
 * positions with the zero padding only at the real image border, a tile's values equal the
 * untiled ones exactly.
 */
export class TileExecutor {
  private readonly convs = new Map<number, WasmConv>();
  private readonly taps = new Map<string, Taps>();
  private readonly producedBy: ReadonlySet<string>[];

  constructor(private readonly graph: ModelGraph, private readonly plan: Plan, kernels: IntegerKernels) {
    for (const gl of graph.layers) {
      if (gl.layer.op !== 'conv') continue;
      const k = Math.max(...gl.layer.kernel);
      // Prepared at a nominal size: runPadded supplies each tile's.
      this.convs.set(gl.index, kernels.prepareConv(convParams(gl, graph.tensors.get(gl.layer.inputs[0]!)!, k, k)));
    }
    this.producedBy = plan.passes.map((p) => new Set(p.layers.map((i) => graph.layers[i]!.layer.output)));
  }

  dispose(): void {
    for (const conv of this.convs.values()) conv.dispose();
    this.convs.clear();
  }

  private tapsFor(inSize: number, outSize: number): Taps {
    const key = `${inSize}:${outSize}`;
    let t = this.taps.get(key);
    if (!t) this.taps.set(key, (t = bilinearTaps(inSize, outSize)));
    return t;
  }

  /** The rectangle of `input` that `layer` reads to produce rectangle r of its output. */
  inputRect(layer: ArtifactLayer, input: string, r: Rect, ctx: RunContext): Rect {
    const s = ctx.sizes.get(input)!;
    const clip = (y0: number, x0: number, y1: number, x1: number): Rect => ({
      y0: Math.max(y0, 0), x0: Math.max(x0, 0), y1: Math.min(y1, s.h), x1: Math.min(x1, s.w),
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
        const o = ctx.sizes.get(layer.output)!;
        const ty = this.tapsFor(s.h, o.h);
        const tx = this.tapsFor(s.w, o.w);
        return clip(ty.i0[r.y0]!, tx.i0[r.x0]!, ty.i1[r.y1 - 1]! + 1, tx.i1[r.x1 - 1]! + 1);
      }
      default:
        return r;
    }
  }

  /**
   * One piece of a pass: `tile` is a rectangle of the input grid (a tiled pass: each target's
   * tile is it scaled to the target's grid), or undefined (a whole pass: everything in full).
   */
  run(passIndex: number, tile: Rect | undefined, ctx: RunContext): void {
    const pass = this.plan.passes[passIndex]!;
    const produced = this.producedBy[passIndex]!;
    const { tensors, layers } = this.graph;
    const need = new Map<string, Rect>();
    const cores = new Map<string, Rect>();
    if (tile) {
      for (const t of pass.targets) {
        const f = tensors.get(t)!.factor!;
        const s = ctx.sizes.get(t)!;
        cores.set(t, { y0: tile.y0 * f, x0: tile.x0 * f, y1: Math.min(tile.y1 * f, s.h), x1: Math.min(tile.x1 * f, s.w) });
        need.set(t, cores.get(t)!);
      }
      for (let k = pass.layers.length - 1; k >= 0; k--) {
        const layer = layers[pass.layers[k]!]!.layer;
        const r = need.get(layer.output);
        if (!r || rectEmpty(r)) continue;
        for (const input of layer.inputs) {
          if (produced.has(input)) need.set(input, union(need.get(input), this.inputRect(layer, input, r, ctx)));
        }
      }
    } else {
      for (const i of pass.layers) {
        const out = layers[i]!.layer.output;
        const s = ctx.sizes.get(out)!;
        need.set(out, { y0: 0, x0: 0, y1: s.h, x1: s.w });
        cores.set(out, need.get(out)!);
      }
    }
    const local = new Map<string, Piece>();
    const get = (name: string): Piece => local.get(name) ?? ctx.stores.get(name)!;
    pass.layers.forEach((i, k) => {
      const gl = layers[i]!;
      const r = need.get(gl.layer.output);
      if (r && !rectEmpty(r)) {
        const piece = this.compute(gl, r, get, ctx);
        local.set(gl.layer.output, piece);
        const core = cores.get(gl.layer.output);
        if (core && pass.targets.includes(gl.layer.output)) this.store(gl.layer.output, piece, core, ctx);
      }
      for (const name of pass.releaseAfter[k]!) local.delete(name);
    });
  }

  private store(name: string, piece: Piece, core: Rect, ctx: RunContext): void {
    const width = core.x1 - core.x0;
    if (name === this.graph.header.output) {
      const w = ctx.sizes.get(name)!.w;
      for (let y = core.y0; y < core.y1; y++) {
        const src = ((y - piece.y0) * piece.w + (core.x0 - piece.x0)) * 3;
        const dst = (y * w + core.x0) * 3;
        for (let i = 0; i < width * 3; i++) ctx.output[dst + i] = outputByte(piece.data[src + i]!);
      }
      return;
    }
    const store = ctx.stores.get(name)!;
    const c = piece.c;
    for (let y = core.y0; y < core.y1; y++) {
      const src = ((y - piece.y0) * piece.w + (core.x0 - piece.x0)) * c;
      store.data.set(piece.data.subarray(src, src + width * c), (y * store.w + core.x0) * c);
    }
  }

  private compute(gl: GraphLayer, r: Rect, get: (name: string) => Piece, ctx: RunContext): Piece {
    const layer = gl.layer;
    const info = this.graph.tensors.get(layer.output)!.info;
    const h = r.y1 - r.y0;
    const w = r.x1 - r.x0;
    const c = info.channels;
    const x = get(layer.inputs[0]!);
    const make = (): Float32Array | Uint8Array => (info.dtype === 'uint8' ? new Uint8Array(h * w * c) : new Float32Array(h * w * c));
    const piece = (data: Float32Array | Uint8Array): Piece => ({ y0: r.y0, x0: r.x0, h, w, c, data });
    /** Offset of global (y, x) in p. */
    const at = (p: Piece, y: number, xx: number) => ((y - p.y0) * p.w + (xx - p.x0)) * p.c;
    /** f applied to each row run of one input over r (same grid, same channel count). */
    const map = (f: (src: Float32Array | Uint8Array, s: number, dst: Float32Array | Uint8Array, d: number, n: number) => void) => {
      const out = make();
      for (let y = r.y0; y < r.y1; y++) f(x.data, at(x, y, r.x0), out, (y - r.y0) * w * c, w * c);
      return piece(out);
    };
    switch (layer.op) {
      case 'conv': {
        const inRect = this.inputRect(layer, layer.inputs[0]!, r, ctx);
        const s = ctx.sizes.get(layer.inputs[0]!)!;
        const ih = inRect.y1 - inRect.y0;
        const iw = inRect.x1 - inRect.x0;
        let crop = x.data as Uint8Array;
        if (x.y0 !== inRect.y0 || x.x0 !== inRect.x0 || x.h !== ih || x.w !== iw) {
          crop = new Uint8Array(ih * iw * x.c);
          for (let y = 0; y < ih; y++) {
            const src = at(x, inRect.y0 + y, inRect.x0);
            crop.set((x.data as Uint8Array).subarray(src, src + iw * x.c), y * iw * x.c);
          }
        }
        const [kh, kw] = layer.kernel;
        const padTop = inRect.y0 - (r.y0 * layer.stride - padBefore(s.h, kh, layer.stride, layer.padding));
        const padLeft = inRect.x0 - (r.x0 * layer.stride - padBefore(s.w, kw, layer.stride, layer.padding));
        return piece(this.convs.get(gl.index)!.runPadded(crop, ih, iw, padTop, padLeft, h, w) as Float32Array | Uint8Array);
      }
      case 'add':
      case 'mul': {
        const a = x.data as Float32Array;
        const bp = get(layer.inputs[1]!);
        const b = bp.data as Float32Array;
        const out = new Float32Array(h * w * c);
        const add = layer.op === 'add';
        for (let y = r.y0; y < r.y1; y++) {
          const ia = at(x, y, r.x0);
          const ib = at(bp, y, r.x0);
          const o = (y - r.y0) * w * c;
          if (add) for (let i = 0; i < w * c; i++) out[o + i] = a[ia + i]! + b[ib + i]!;
          else for (let i = 0; i < w * c; i++) out[o + i] = a[ia + i]! * b[ib + i]!;
        }
        return piece(out);
      }
      case 'concat': {
        const out = make();
        let c0 = 0;
        for (const name of layer.inputs) {
          const p = get(name);
          const pc = p.c;
          const src = p.data;
          for (let y = r.y0; y < r.y1; y++) {
            let s = at(p, y, r.x0);
            let d = (y - r.y0) * w * c + c0;
            // Element by element: a typed-array copy per pixel of a few channels costs more than it saves.
            for (let xx = 0; xx < w; xx++, s += pc, d += c) for (let k = 0; k < pc; k++) out[d + k] = src[s + k]!;
          }
          c0 += pc;
        }
        return piece(out);
      }
      case 'pixel_shuffle': {
        const f = layer.factor;
        const out = make();
        for (let y = r.y0; y < r.y1; y++) {
          for (let xx = r.x0; xx < r.x1; xx++) {
            const s = at(x, Math.floor(y / f), Math.floor(xx / f)) + (y % f) * f + (xx % f);
            const d = ((y - r.y0) * w + (xx - r.x0)) * c;
            for (let k = 0; k < c; k++) out[d + k] = x.data[s + k * f * f]!;
          }
        }
        return piece(out);
      }
      case 'repeat_channels': {
        const out = make();
        const src = x.data;
        const xc = x.c;
        for (let y = r.y0; y < r.y1; y++) {
          let s = at(x, y, r.x0);
          let d = (y - r.y0) * w * c;
          for (let xx = 0; xx < w; xx++, s += xc) for (let k = 0; k < c; k++) out[d++] = src[s + (k % xc)]!;
        }
        return piece(out);
      }
      case 'max_pool': {
        const out = make();
        const { kernel: k, stride: st } = layer;
        for (let y = r.y0; y < r.y1; y++) {
          for (let xx = r.x0; xx < r.x1; xx++) {
            const d = ((y - r.y0) * w + (xx - r.x0)) * c;
            for (let ch = 0; ch < c; ch++) out[d + ch] = -Infinity;
            for (let dy = 0; dy < k; dy++) {
              for (let dx = 0; dx < k; dx++) {
                const s = at(x, y * st + dy, xx * st + dx);
                for (let ch = 0; ch < c; ch++) if (x.data[s + ch]! > out[d + ch]!) out[d + ch] = x.data[s + ch]!;
              }
            }
          }
        }
        return piece(out);
      }
      case 'bilinear_resize': {
        const s = ctx.sizes.get(layer.inputs[0]!)!;
        const o = ctx.sizes.get(layer.output)!;
        const ty = this.tapsFor(s.h, o.h);
        const tx = this.tapsFor(s.w, o.w);
        const out = make();
        const f32 = Math.fround;
        const v = x.data;
        for (let y = r.y0; y < r.y1; y++) {
          const wy0 = ty.w0[y]!;
          const wy1 = ty.w1[y]!;
          for (let xx = r.x0; xx < r.x1; xx++) {
            const wx0 = tx.w0[xx]!;
            const wx1 = tx.w1[xx]!;
            const a = at(x, ty.i0[y]!, tx.i0[xx]!);
            const b = at(x, ty.i0[y]!, tx.i1[xx]!);
            const cc = at(x, ty.i1[y]!, tx.i0[xx]!);
            const dd = at(x, ty.i1[y]!, tx.i1[xx]!);
            const dst = ((y - r.y0) * w + (xx - r.x0)) * c;
            for (let k = 0; k < c; k++) {
              const top = f32(f32(v[a + k]! * wx0) + f32(v[b + k]! * wx1));
              const bottom = f32(f32(v[cc + k]! * wx0) + f32(v[dd + k]! * wx1));
              out[dst + k] = f32(top * wy0) + f32(bottom * wy1);
            }
          }
        }
        return piece(out);
      }
      case 'sigmoid':
        return map((src, s, dst, d, n) => {
          for (let i = 0; i < n; i++) dst[d + i] = 1 / (1 + Math.exp(-src[s + i]!));
        });
      case 'clamp': {
        const { min, max } = layer;
        return map((src, s, dst, d, n) => {
          for (let i = 0; i < n; i++) dst[d + i] = Math.min(Math.max(src[s + i]!, min), max);
        });
      }
      case 'adq_scale': {
        const phi = ctx.factors.get(gl.index)!;
        return map((src, s, dst, d, n) => {
          for (let i = 0; i < n; i++) dst[d + i] = src[s + i]! * phi;
        });
      }
      case 'affine': {
        const { scale, shift } = gl.affine!;
        const f32 = Math.fround;
        return map((src, s, dst, d, n) => {
          for (let i = 0, k = 0; i < n; i++, k = k + 1 === c ? 0 : k + 1) dst[d + i] = f32(src[s + i]! * scale[k]!) + shift[k]!;
        });
      }
      case 'quantize': {
        const q = info as { step: number; bits: number };
        const max = 2 ** q.bits - 1;
        const step = q.step;
        const src = x.data as Float32Array;
        const out = new Uint8Array(h * w * c);
        const f32 = Math.fround;
        for (let y = r.y0; y < r.y1; y++) {
          const s = at(x, y, r.x0);
          const d = (y - r.y0) * w * c;
          for (let i = 0; i < w * c; i++) {
            const v = f32(src[s + i]! / step);
            // Adding and removing 1.5·2^52 rounds a double to an integer, half to even (as quantizeCode).
            out[d + i] = v > 0 ? (v >= max ? max : v + ROUND - ROUND) : 0;
          }
        }
        return piece(out);
      }
    }
  }
}
