import type { ArtifactLayer, BlobRef, LayerOp, TensorInfo } from './artifact-header.js';
import { conv2dReference } from './conv-reference.js';
import { unpackInt4 } from './conv-spec.js';
import { sigmoidF32 } from './exp.js';
import type { ConvArithmetic, GraphLayer, GraphTensor, GridKey, ModelGraph } from './graph-types.js';
import { adqFactor, bilinearTaps, convParams, f32, quantizeCode } from './layer-math.js';

/**
 * The registry of layer ops: for each op, how many inputs it takes, how a header's layer is checked
 * and resolved (shape, dtype, grid; weights decoded), the spatial size it produces, and its scalar
 * reference, the specification the WASM engine reproduces bit for bit. `validateArtifact`,
 * `inferSizes` and `runReference` read this table; a new op is one entry here plus its WASM kernel
 * in the tile executor.
 */
export interface LayerSpec<L extends ArtifactLayer> {
  /** Fewest and most inputs. */
  readonly arity: readonly [number, number];
  /** Checks the layer against its inputs and declared output; says what changes from the first input's grid. */
  check(ctx: CheckContext<L>): Resolved | void;
  /** The output's spatial size from the first input's (default: the same); throws a RangeError when the image is too small. */
  size?(layer: L, input: Size, sizes: ReadonlyMap<string, Size>): Size;
  /** The scalar reference: fills `ctx.data`, or returns the output values. */
  reference(ctx: ReferenceContext<L>): Float32Array | Uint8Array | void;
}

export interface Size {
  readonly h: number;
  readonly w: number;
}

/** What a layer's check resolves besides its output tensor: a new grid, the conv's arithmetic, the affine's constants. */
export interface Resolved {
  readonly grid?: GridKey;
  readonly factor?: number | undefined;
  readonly conv?: ConvArithmetic;
  readonly affine?: GraphLayer['affine'];
}

export interface CheckContext<L> {
  readonly layer: L;
  readonly index: number;
  readonly inputs: readonly GraphTensor[];
  readonly first: GraphTensor;
  readonly out: TensorInfo;
  readonly tensors: ReadonlyMap<string, GraphTensor>;
  readonly blob: Uint8Array;
  bad(problem: string): never;
  expectFloat(t: { readonly info: TensorInfo; readonly name: string }, role: string): void;
  /** The first input and the output are float32, with the same channels. */
  floatInOut(): void;
  sameGrid(): void;
  sameChannels(c: number, what: string): void;
}

/** A tensor of the scalar reference: the whole image, HWC. */
export interface FullTensor {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float32Array | Uint8Array;
}

export interface ReferenceContext<L> {
  readonly layer: L;
  readonly gl: GraphLayer;
  readonly graph: ModelGraph;
  readonly out: GraphTensor;
  /** The first input. */
  readonly x: FullTensor;
  value(name: string): FullTensor;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float32Array | Uint8Array;
}

export const MAX_CHANNELS = 65536;

export const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A layer with its op narrowed to K (a layer type may carry several ops: add and mul share one). */
type OpOf<K extends LayerOp> = ArtifactLayer & { readonly op: K };

type Registry = { readonly [K in LayerOp]: LayerSpec<OpOf<K>> };

const elementwise =
  <L extends ArtifactLayer>(f: (v: number, layer: L) => number): LayerSpec<L>['reference'] =>
  ({ x, data, layer }) => {
    for (let i = 0; i < data.length; i++) data[i] = f(x.data[i]!, layer);
  };

const binary = (f: (a: number, b: number) => number): LayerSpec<OpOf<'add' | 'mul'>> => ({
  arity: [2, 2],
  check({ inputs, first, layer, bad, expectFloat, sameGrid, sameChannels, out }) {
    inputs.forEach((t) => expectFloat(t, 'input'));
    if (inputs[0]!.info.channels !== inputs[1]!.info.channels) bad(`inputs have ${inputs[0]!.info.channels} and ${inputs[1]!.info.channels} channels`);
    sameGrid();
    expectFloat({ info: out, name: layer.output }, 'output');
    sameChannels(first.info.channels, 'the inputs');
  },
  reference({ x, data, layer, value }) {
    const b = value(layer.inputs[1]!).data;
    for (let i = 0; i < data.length; i++) data[i] = f(x.data[i]!, b[i]!);
  },
});

export const LAYER_OPS: Registry = {
  conv: {
    arity: [1, 1],
    check: checkConv,
    size(layer, s) {
      const [kh, kw] = layer.kernel;
      if (layer.padding === 'same') return { h: Math.ceil(s.h / layer.stride), w: Math.ceil(s.w / layer.stride) };
      windowFits(layer.id, s, Math.max(kh, kw));
      return { h: Math.floor((s.h - kh) / layer.stride) + 1, w: Math.floor((s.w - kw) / layer.stride) + 1 };
    },
    reference: ({ gl, graph, layer, x }) =>
      conv2dReference(x.data as Uint8Array, convParams(gl, graph.tensors.get(layer.inputs[0]!)!, x.h, x.w)) as Float32Array | Uint8Array,
  },
  add: binary((a, b) => a + b),
  mul: binary((a, b) => a * b),
  concat: {
    arity: [1, 64],
    check({ inputs, first, layer, out, bad, sameGrid, sameChannels }) {
      sameGrid();
      for (const t of inputs) {
        const a = t.info;
        const b = first.info;
        if (a.dtype !== b.dtype || (a.dtype === 'uint8' && b.dtype === 'uint8' && (a.step !== b.step || a.bits !== b.bits))) {
          bad(`inputs '${first.name}' and '${t.name}' differ in dtype or step`);
        }
      }
      sameDType(out, first.info, layer.output, bad);
      sameChannels(
        inputs.reduce((s, t) => s + t.info.channels, 0),
        'the sum of the inputs',
      );
    },
    reference({ layer, value, h, w, c, data }) {
      let c0 = 0;
      for (const name of layer.inputs) {
        const t = value(name);
        for (let p = 0; p < h * w; p++) for (let k = 0; k < t.c; k++) data[p * c + c0 + k] = t.data[p * t.c + k]!;
        c0 += t.c;
      }
    },
  },
  pixel_shuffle: {
    arity: [1, 1],
    check({ layer, first, out, bad, sameChannels }) {
      if (!isInt(layer.factor, 1, 16)) bad('factor must be an integer in 1..16');
      const r2 = layer.factor * layer.factor;
      if (first.info.channels % r2 !== 0) bad(`input channels ${first.info.channels} are not a multiple of factor² = ${r2}`);
      sameDType(out, first.info, layer.output, bad);
      sameChannels(first.info.channels / r2, 'input channels / factor²');
      if (first.factor === undefined) return { grid: `${first.grid}*${layer.factor}` };
      const factor = first.factor * layer.factor;
      return { grid: `x${factor}`, factor };
    },
    size: (layer, s) => ({ h: s.h * layer.factor, w: s.w * layer.factor }),
    reference({ layer, x, h, w, c, data }) {
      const r = layer.factor;
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          for (let k = 0; k < c; k++) {
            const src = (Math.floor(y / r) * x.w + Math.floor(xx / r)) * x.c + k * r * r + (y % r) * r + (xx % r);
            data[(y * w + xx) * c + k] = x.data[src]!;
          }
        }
      }
    },
  },
  repeat_channels: {
    arity: [1, 1],
    check({ layer, first, out, bad, sameChannels }) {
      if (!isInt(layer.times, 1, MAX_CHANNELS)) bad('times must be a positive integer');
      sameDType(out, first.info, layer.output, bad);
      sameChannels(first.info.channels * layer.times, 'input channels × times');
    },
    reference({ x, h, w, c, data }) {
      for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) data[p * c + k] = x.data[p * x.c + (k % x.c)]!;
    },
  },
  max_pool: {
    arity: [1, 1],
    check({ layer, first, bad, floatInOut }) {
      if (!isInt(layer.kernel, 1, 64) || !isInt(layer.stride, 1, 64)) bad('kernel and stride must be integers in 1..64');
      floatInOut();
      return { grid: `${first.grid}/p${layer.kernel}s${layer.stride}`, factor: undefined };
    },
    size(layer, s) {
      windowFits(layer.id, s, layer.kernel);
      return { h: Math.floor((s.h - layer.kernel) / layer.stride) + 1, w: Math.floor((s.w - layer.kernel) / layer.stride) + 1 };
    },
    reference({ layer, x, h, w, c, data }) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          for (let k = 0; k < c; k++) {
            let m = -Infinity;
            for (let dy = 0; dy < layer.kernel; dy++) {
              for (let dx = 0; dx < layer.kernel; dx++) m = Math.max(m, x.data[((y * layer.stride + dy) * x.w + xx * layer.stride + dx) * c + k]!);
            }
            data[(y * w + xx) * c + k] = m;
          }
        }
      }
    },
  },
  bilinear_resize: {
    arity: [1, 1],
    check({ layer, tensors, bad, floatInOut }) {
      const like = typeof layer.sizeOf === 'string' ? tensors.get(layer.sizeOf) : undefined;
      if (!like) return bad(`sizeOf ${JSON.stringify(layer.sizeOf)} is not an earlier tensor`);
      floatInOut();
      return { grid: like.grid, factor: like.factor };
    },
    size: (layer, _s, sizes) => sizes.get(layer.sizeOf)!,
    reference({ x, h, w, c, data }) {
      const ty = bilinearTaps(x.h, h);
      const tx = bilinearTaps(x.w, w);
      const at = (yy: number, xx: number, k: number) => x.data[(yy * x.w + xx) * c + k]!;
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          for (let k = 0; k < c; k++) {
            const top = f32(f32(at(ty.i0[y]!, tx.i0[xx]!, k) * tx.w0[xx]!) + f32(at(ty.i0[y]!, tx.i1[xx]!, k) * tx.w1[xx]!));
            const bottom = f32(f32(at(ty.i1[y]!, tx.i0[xx]!, k) * tx.w0[xx]!) + f32(at(ty.i1[y]!, tx.i1[xx]!, k) * tx.w1[xx]!));
            data[(y * w + xx) * c + k] = f32(top * ty.w0[y]!) + f32(bottom * ty.w1[y]!);
          }
        }
      }
    },
  },
  sigmoid: {
    arity: [1, 1],
    check: ({ floatInOut }) => floatInOut(),
    reference: elementwise((v) => sigmoidF32(v)),
  },
  clamp: {
    arity: [1, 1],
    check({ layer, bad, floatInOut }) {
      floatInOut();
      if (!(typeof layer.min === 'number' && typeof layer.max === 'number' && !Number.isNaN(layer.min) && layer.min <= layer.max))
        bad('clamp needs numbers min <= max');
    },
    reference: elementwise((v, layer) => Math.min(Math.max(v, layer.min), layer.max)),
  },
  adq_scale: {
    arity: [1, 1],
    check({ layer, index, tensors, bad, floatInOut }) {
      floatInOut();
      const stat = typeof layer.statisticsOf === 'string' ? tensors.get(layer.statisticsOf) : undefined;
      if (!stat) return bad(`statisticsOf ${JSON.stringify(layer.statisticsOf)} is not an earlier tensor`);
      if (!isFiniteNumber(layer.slope) || !isFiniteNumber(layer.offset)) bad('slope and offset must be finite numbers');
      if (layer.deviation !== 'population' && layer.deviation !== 'sample') bad(`deviation must be 'population' or 'sample'`);
      stat.statisticOf.push(index);
    },
    reference({ layer, graph, value, x, data }) {
      const stat = graph.tensors.get(layer.statisticsOf)!;
      const step = stat.info.dtype === 'uint8' ? stat.info.step : 1;
      const phi = adqFactor(value(layer.statisticsOf).data, step, layer.deviation, layer.slope, layer.offset);
      for (let i = 0; i < data.length; i++) data[i] = x.data[i]! * phi;
    },
  },
  affine: {
    arity: [1, 1],
    check({ layer, out, blob, bad, floatInOut }) {
      floatInOut();
      return { affine: { scale: blobFloats(blob, layer.scale, out.channels, 'scale', bad), shift: blobFloats(blob, layer.shift, out.channels, 'shift', bad) } };
    },
    reference({ gl, x, c, data }) {
      const { scale, shift } = gl.affine!;
      for (let i = 0; i < data.length; i++) data[i] = f32(x.data[i]! * scale[i % c]!) + shift[i % c]!;
    },
  },
  quantize: {
    arity: [1, 1],
    check({ layer, first, out, bad, expectFloat, sameChannels }) {
      expectFloat(first, 'input');
      if (out.dtype !== 'uint8') bad(`output '${layer.output}' must be uint8`);
      sameChannels(first.info.channels, 'the input');
    },
    reference({ out, x, data }) {
      const info = out.info as { step: number; bits: number };
      for (let i = 0; i < data.length; i++) data[i] = quantizeCode(x.data[i]!, info.step, 2 ** info.bits - 1);
    },
  },
};

/** The registry's entry for an op named in a header, or undefined for an unknown one. */
export function layerSpec(op: unknown): LayerSpec<ArtifactLayer> | undefined {
  return typeof op === 'string' && Object.hasOwn(LAYER_OPS, op) ? (LAYER_OPS[op as LayerOp] as LayerSpec<ArtifactLayer>) : undefined;
}

function checkConv(ctx: CheckContext<OpOf<'conv'>>): Resolved {
  const { layer, first, out, blob, bad } = ctx;
  const kernel = layer.kernel;
  if (!Array.isArray(kernel) || kernel.length !== 2 || !isInt(kernel[0], 1, 31) || !isInt(kernel[1], 1, 31)) bad('kernel must be [kh, kw], integers in 1..31');
  if (!isInt(layer.stride, 1, 16)) bad('stride must be an integer in 1..16');
  if (layer.padding !== 'same' && layer.padding !== 'valid') bad(`padding must be 'same' or 'valid'`);
  if (!isInt(layer.groups, 1, MAX_CHANNELS)) bad('groups must be a positive integer');
  if (layer.weightBits !== 8 && layer.weightBits !== 4) bad('weightBits must be 8 or 4');
  if (first.info.dtype !== 'uint8') bad(`input '${first.name}' must be uint8 activation codes (quantize it first)`);
  const cin = first.info.channels;
  const cout = out.channels;
  if (cin % layer.groups !== 0 || cout % layer.groups !== 0) bad(`groups ${layer.groups} must divide ${cin} input and ${cout} output channels`);
  const [kh, kw] = kernel;
  const count = cout * kh * kw * (cin / layer.groups);
  const wBytes = layer.weightBits === 8 ? count : Math.ceil(count / 2);
  const raw = blobBytes(blob, layer.weights, wBytes, 'weights', bad);
  // A copy: `raw` may view a Node Buffer's shared pool, whose .buffer holds more than these bytes.
  const weights = layer.weightBits === 8 ? new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice() : unpackInt4(raw, count);
  const scales = blobFloats(blob, layer.weightScales, cout, 'weightScales', bad);
  const bias = layer.bias === undefined ? undefined : blobFloats(blob, layer.bias, cout, 'bias', bad);
  const sx = (first.info as { step: number }).step;
  const multipliers = new Float32Array(cout);
  const offsets = new Float32Array(cout);
  const sy = out.dtype === 'uint8' ? out.step : 1;
  for (let c = 0; c < cout; c++) {
    // One rounding to float32 of the exact double product/quotient.
    multipliers[c] = (sx * scales[c]!) / sy;
    offsets[c] = bias ? bias[c]! / sy : 0;
    if (!Number.isFinite(multipliers[c]!) || !Number.isFinite(offsets[c]!)) bad(`output channel ${c}: requantization scale or offset is not a finite float32`);
  }
  const conv: ConvArithmetic = {
    weights,
    multipliers,
    offsets,
    kind: out.dtype,
    min: out.dtype === 'uint8' ? 0 : -Infinity,
    max: out.dtype === 'uint8' ? 2 ** out.bits - 1 : Infinity,
    inputBits: (first.info as { bits: number }).bits,
  };
  if (layer.stride === 1 && layer.padding === 'same') return { conv };
  return { conv, grid: `${first.grid}/c${kh}x${kw}s${layer.stride}${layer.padding === 'same' ? 'p' : 'v'}`, factor: undefined };
}

function windowFits(id: string, s: Size, k: number): void {
  if (s.h < k || s.w < k) throw new RangeError(`layer '${id}': the image is too small (${s.w}×${s.h} at this layer, the window is ${k})`);
}

function sameDType(out: TensorInfo, input: TensorInfo, name: string, bad: (p: string) => never) {
  if (out.dtype !== input.dtype || (out.dtype === 'uint8' && input.dtype === 'uint8' && (out.step !== input.step || out.bits !== input.bits))) {
    bad(`output '${name}' must have the input's dtype (and step)`);
  }
}

function blobBytes(blob: Uint8Array, ref: BlobRef | undefined, byteLength: number, what: string, bad: (p: string) => never): Uint8Array {
  if (!isObject(ref) || !isInt(ref.offset, 0, Number.MAX_SAFE_INTEGER) || !isInt(ref.byteLength, 0, Number.MAX_SAFE_INTEGER)) {
    return bad(`${what} must be { offset, byteLength } with non-negative integers`);
  }
  if (ref.byteLength !== byteLength) bad(`${what} has ${ref.byteLength} bytes, the shape needs ${byteLength}`);
  if (ref.offset + ref.byteLength > blob.byteLength)
    bad(`${what} bytes ${ref.offset}..${ref.offset + ref.byteLength} lie outside the ${blob.byteLength}-byte blob`);
  return blob.subarray(ref.offset, ref.offset + ref.byteLength);
}

/** float32 little-endian values; all must be finite. */
function blobFloats(blob: Uint8Array, ref: BlobRef | undefined, count: number, what: string, bad: (p: string) => never): Float32Array {
  const bytes = blobBytes(blob, ref, count * 4, what, bad);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = view.getFloat32(i * 4, true);
    if (!Number.isFinite(out[i]!)) bad(`${what}[${i}] is not finite`);
  }
  return out;
}
