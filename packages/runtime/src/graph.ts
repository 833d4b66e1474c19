import {
  ARTIFACT_SCHEMA_VERSION,
  type ArtifactLayer,
  type BlobRef,
  type LayerOp,
  type ModelArtifactHeader,
  type TensorInfo,
} from './artifact-header.js';
import { ArtifactError, type ModelArtifact } from './container.js';
import { unpackInt4, type ConvParams } from './conv-spec.js';

/**
 * A model header checked against its blob and resolved into what the engines run: weights decoded,
 * per-channel conv arithmetic computed once, every tensor's grid known. Both engines (the scalar
 * reference and the WASM one) execute a ModelGraph, so they share this lowering and nothing else.
 */

/**
 * Spatial grid of a tensor: 'x<F>' is F times the input's size (the grids that tile), anything
 * else a derived key (strided conv, pooling) that only equal derivations share.
 */
export type GridKey = string;

export interface GraphTensor {
  readonly name: string;
  readonly info: TensorInfo;
  readonly grid: GridKey;
  /** F of an 'x<F>' grid, else undefined. */
  readonly factor: number | undefined;
  /** Index of the producing layer; −1 for the graph input. */
  readonly producer: number;
  /** Layers that read its values (not `sizeOf` references). */
  readonly consumers: number[];
  /** Layers whose ADQ scale uses its deviation. */
  readonly statisticOf: number[];
}

export interface ConvArithmetic {
  readonly weights: Int8Array;
  readonly multipliers: Float32Array;
  readonly offsets: Float32Array;
  readonly kind: 'uint8' | 'float32';
  readonly min: number;
  readonly max: number;
  readonly inputBits: number;
}

export interface GraphLayer {
  readonly index: number;
  readonly layer: ArtifactLayer;
  /** Convs: the weights as int8 OHWI and the per-channel requantization. */
  readonly conv?: ConvArithmetic;
  /** Affine: per-channel scale and shift. */
  readonly affine?: { readonly scale: Float32Array; readonly shift: Float32Array };
}

export interface ModelGraph {
  readonly header: ModelArtifactHeader;
  readonly tensors: ReadonlyMap<string, GraphTensor>;
  readonly layers: readonly GraphLayer[];
}

const OPS: readonly LayerOp[] = [
  'conv', 'add', 'mul', 'concat', 'pixel_shuffle', 'repeat_channels', 'max_pool', 'bilinear_resize',
  'sigmoid', 'adq_scale', 'affine', 'quantize', 'clamp',
];
const ARITY: Record<LayerOp, [number, number]> = {
  conv: [1, 1], add: [2, 2], mul: [2, 2], concat: [1, 64], pixel_shuffle: [1, 1], repeat_channels: [1, 1],
  max_pool: [1, 1], bilinear_resize: [1, 1], sigmoid: [1, 1], adq_scale: [1, 1], affine: [1, 1],
  quantize: [1, 1], clamp: [1, 1],
};
const MAX_CHANNELS = 65536;
const MAX_LAYERS = 100_000;

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a decoded artifact completely; every problem is an ArtifactError naming the layer. */
export function validateArtifact(artifact: ModelArtifact, source = 'model'): ModelGraph {
  const fail = (problem: string): never => {
    throw new ArtifactError(`${source}: ${problem}`);
  };
  const { header, blob } = artifact;
  if (!isObject(header)) fail('header is not a JSON object');
  if (header.schemaVersion !== ARTIFACT_SCHEMA_VERSION) fail(`schemaVersion ${JSON.stringify(header.schemaVersion)} is not supported`);
  if (!(blob instanceof Uint8Array)) fail('blob is not a Uint8Array');
  if (isObject(header.blob) && header.blob.byteLength !== blob.byteLength) {
    fail(`header says ${String(header.blob.byteLength)} weight bytes, blob has ${blob.byteLength}`);
  }
  if (!isInt(header.scale, 1, 16)) fail(`scale must be an integer in 1..16, got ${JSON.stringify(header.scale)}`);
  if (typeof header.input !== 'string' || typeof header.output !== 'string') fail('input and output must be tensor names');
  if (!isObject(header.tensors)) fail('tensors must be an object of tensor descriptions');
  if (!Array.isArray(header.layers) || header.layers.length === 0 || header.layers.length > MAX_LAYERS) fail('layers must be a non-empty array');
  if (header.metadata !== undefined && !isObject(header.metadata)) fail('metadata must be an object');

  const infos = new Map<string, TensorInfo>();
  for (const [name, info] of Object.entries(header.tensors)) {
    const where = `tensor '${name}'`;
    if (!isObject(info)) fail(`${where}: not an object`);
    if (!isInt(info.channels, 1, MAX_CHANNELS)) fail(`${where}: channels must be an integer in 1..${MAX_CHANNELS}`);
    if (info.dtype === 'uint8') {
      if (!isFiniteNumber(info.step) || info.step <= 0 || !Number.isFinite(Math.fround(info.step)) || Math.fround(info.step) === 0) {
        fail(`${where}: step must be a positive finite float32`);
      }
      if (!isInt(info.bits, 1, 8)) fail(`${where}: bits must be an integer in 1..8`);
    } else if (info.dtype !== 'float32') {
      fail(`${where}: dtype must be 'uint8' or 'float32', got ${JSON.stringify((info as { dtype?: unknown }).dtype)}`);
    }
    infos.set(name, info as TensorInfo);
  }

  const tensors = new Map<string, GraphTensor>();
  const inputInfo = infos.get(header.input);
  if (!inputInfo) return fail(`input tensor '${header.input}' is not declared`);
  if (inputInfo.dtype !== 'float32' || inputInfo.channels !== 3) fail(`input tensor '${header.input}' must be float32 with 3 channels`);
  tensors.set(header.input, { name: header.input, info: inputInfo, grid: 'x1', factor: 1, producer: -1, consumers: [], statisticOf: [] });

  const layers: GraphLayer[] = [];
  const ids = new Set<string>();
  header.layers.forEach((raw, index) => {
    const at = isObject(raw) && typeof raw.id === 'string' ? `layer '${raw.id}'` : `layer ${index}`;
    const bad = (problem: string): never => fail(`${at}: ${problem}`);
    if (!isObject(raw)) bad('not an object');
    const layer = raw as ArtifactLayer;
    if (typeof layer.id !== 'string' || layer.id.length === 0) bad('id must be a non-empty string');
    if (ids.has(layer.id)) bad('duplicate id');
    ids.add(layer.id);
    if (!OPS.includes(layer.op)) bad(`unknown op ${JSON.stringify(layer.op)}`);
    if (!Array.isArray(layer.inputs) || layer.inputs.some((n) => typeof n !== 'string')) bad('inputs must be an array of tensor names');
    const [lo, hi] = ARITY[layer.op];
    if (layer.inputs.length < lo || layer.inputs.length > hi) bad(`${layer.op} takes ${lo === hi ? lo : `${lo}..${hi}`} inputs, got ${layer.inputs.length}`);
    const inputs = layer.inputs.map((name) => {
      const t = tensors.get(name);
      if (!t) return bad(infos.has(name) ? `input '${name}' is used before a layer produces it` : `unknown tensor '${name}'`);
      return t;
    });
    if (typeof layer.output !== 'string') bad('output must be a tensor name');
    const outInfo = infos.get(layer.output);
    if (!outInfo) bad(`output '${layer.output}' is not declared in tensors`);
    if (tensors.has(layer.output)) bad(`output '${layer.output}' is already produced`);
    const out = outInfo as TensorInfo;
    const first = inputs[0]!;
    const expectFloat = (t: { info: TensorInfo; name: string }, role: string) => {
      if (t.info.dtype !== 'float32') bad(`${role} '${t.name}' must be float32`);
    };
    const sameGrid = () => {
      for (const t of inputs) if (t.grid !== first.grid) bad(`inputs '${first.name}' and '${t.name}' have different spatial sizes`);
    };
    const sameChannels = (c: number, what: string) => {
      if (out.channels !== c) bad(`output '${layer.output}' has ${out.channels} channels, ${what} gives ${c}`);
    };
    let grid = first.grid;
    let factor = first.factor;
    const resolved: { conv?: ConvArithmetic; affine?: GraphLayer['affine'] } = {};
    switch (layer.op) {
      case 'conv': {
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
        const weights =
          layer.weightBits === 8 ? new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice() : unpackInt4(raw, count);
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
        resolved.conv = {
          weights, multipliers, offsets, kind: out.dtype,
          min: out.dtype === 'uint8' ? 0 : -Infinity,
          max: out.dtype === 'uint8' ? 2 ** out.bits - 1 : Infinity,
          inputBits: (first.info as { bits: number }).bits,
        };
        if (layer.stride !== 1 || layer.padding !== 'same') {
          grid = `${first.grid}/c${kh}x${kw}s${layer.stride}${layer.padding === 'same' ? 'p' : 'v'}`;
          factor = undefined;
        }
        break;
      }
      case 'add':
      case 'mul':
        inputs.forEach((t) => expectFloat(t, 'input'));
        if (inputs[0]!.info.channels !== inputs[1]!.info.channels) bad(`inputs have ${inputs[0]!.info.channels} and ${inputs[1]!.info.channels} channels`);
        sameGrid();
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the inputs');
        break;
      case 'concat': {
        sameGrid();
        for (const t of inputs) {
          const a = t.info;
          const b = first.info;
          if (a.dtype !== b.dtype || (a.dtype === 'uint8' && b.dtype === 'uint8' && (a.step !== b.step || a.bits !== b.bits))) {
            bad(`inputs '${first.name}' and '${t.name}' differ in dtype or step`);
          }
        }
        sameDType(out, first.info, layer.output, bad);
        sameChannels(inputs.reduce((s, t) => s + t.info.channels, 0), 'the sum of the inputs');
        break;
      }
      case 'pixel_shuffle': {
        if (!isInt(layer.factor, 1, 16)) bad('factor must be an integer in 1..16');
        const r2 = layer.factor * layer.factor;
        if (first.info.channels % r2 !== 0) bad(`input channels ${first.info.channels} are not a multiple of factor² = ${r2}`);
        sameDType(out, first.info, layer.output, bad);
        sameChannels(first.info.channels / r2, 'input channels / factor²');
        if (factor !== undefined) {
          factor *= layer.factor;
          grid = `x${factor}`;
        } else grid = `${first.grid}*${layer.factor}`;
        break;
      }
      case 'repeat_channels':
        if (!isInt(layer.times, 1, MAX_CHANNELS)) bad('times must be a positive integer');
        sameDType(out, first.info, layer.output, bad);
        sameChannels(first.info.channels * layer.times, 'input channels × times');
        break;
      case 'max_pool':
        if (!isInt(layer.kernel, 1, 64) || !isInt(layer.stride, 1, 64)) bad('kernel and stride must be integers in 1..64');
        expectFloat(first, 'input');
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the input');
        grid = `${first.grid}/p${layer.kernel}s${layer.stride}`;
        factor = undefined;
        break;
      case 'bilinear_resize': {
        const like = typeof layer.sizeOf === 'string' ? tensors.get(layer.sizeOf) : undefined;
        if (!like) bad(`sizeOf ${JSON.stringify(layer.sizeOf)} is not an earlier tensor`);
        expectFloat(first, 'input');
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the input');
        grid = like!.grid;
        factor = like!.factor;
        break;
      }
      case 'sigmoid':
      case 'clamp':
        expectFloat(first, 'input');
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the input');
        if (layer.op === 'clamp' && !(typeof layer.min === 'number' && typeof layer.max === 'number' && !Number.isNaN(layer.min) && layer.min <= layer.max)) {
          bad('clamp needs numbers min <= max');
        }
        break;
      case 'adq_scale': {
        expectFloat(first, 'input');
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the input');
        const stat = typeof layer.statisticsOf === 'string' ? tensors.get(layer.statisticsOf) : undefined;
        if (!stat) bad(`statisticsOf ${JSON.stringify(layer.statisticsOf)} is not an earlier tensor`);
        if (!isFiniteNumber(layer.slope) || !isFiniteNumber(layer.offset)) bad('slope and offset must be finite numbers');
        if (layer.deviation !== 'population' && layer.deviation !== 'sample') bad(`deviation must be 'population' or 'sample'`);
        stat!.statisticOf.push(index);
        break;
      }
      case 'affine':
        expectFloat(first, 'input');
        expectFloat({ info: out, name: layer.output }, 'output');
        sameChannels(first.info.channels, 'the input');
        resolved.affine = {
          scale: blobFloats(blob, layer.scale, out.channels, 'scale', bad),
          shift: blobFloats(blob, layer.shift, out.channels, 'shift', bad),
        };
        break;
      case 'quantize':
        expectFloat(first, 'input');
        if (out.dtype !== 'uint8') bad(`output '${layer.output}' must be uint8`);
        sameChannels(first.info.channels, 'the input');
        break;
    }
    for (const t of inputs) t.consumers.push(index);
    tensors.set(layer.output, { name: layer.output, info: out, grid, factor, producer: index, consumers: [], statisticOf: [] });
    layers.push({ index, layer, ...resolved });
  });

  for (const name of infos.keys()) if (!tensors.has(name)) fail(`tensor '${name}' is declared but no layer produces it`);
  const output = tensors.get(header.output);
  if (!output || output.producer < 0) return fail(`output tensor '${header.output}' is not produced by a layer`);
  if (output.info.dtype !== 'float32' || output.info.channels !== 3) fail(`output tensor '${header.output}' must be float32 with 3 channels`);
  if (output.grid !== `x${header.scale}`) fail(`output tensor '${header.output}' is not ${header.scale} times the input's size`);
  for (const t of tensors.values()) {
    if (t.name !== header.output && t.consumers.length === 0 && t.statisticOf.length === 0 && t.producer >= 0) {
      fail(`layer '${header.layers[t.producer]!.id}': output '${t.name}' is never used`);
    }
  }
  return { header, tensors, layers };
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
  if (ref.offset + ref.byteLength > blob.byteLength) bad(`${what} bytes ${ref.offset}..${ref.offset + ref.byteLength} lie outside the ${blob.byteLength}-byte blob`);
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

/** Spatial size of every tensor for an input of height × width; fails when the image is too small. */
export function inferSizes(graph: ModelGraph, height: number, width: number): Map<string, { h: number; w: number }> {
  const sizes = new Map<string, { h: number; w: number }>();
  sizes.set(graph.header.input, { h: height, w: width });
  for (const { layer } of graph.layers) {
    const s = sizes.get(layer.inputs[0]!)!;
    let size = s;
    const tooSmall = (k: number) => {
      if (s.h < k || s.w < k) throw new RangeError(`layer '${layer.id}': the image is too small (${s.w}×${s.h} at this layer, the window is ${k})`);
    };
    if (layer.op === 'conv') {
      const [kh, kw] = layer.kernel;
      if (layer.padding === 'valid') {
        tooSmall(Math.max(kh, kw));
        size = { h: Math.floor((s.h - kh) / layer.stride) + 1, w: Math.floor((s.w - kw) / layer.stride) + 1 };
      } else size = { h: Math.ceil(s.h / layer.stride), w: Math.ceil(s.w / layer.stride) };
    } else if (layer.op === 'max_pool') {
      tooSmall(layer.kernel);
      size = { h: Math.floor((s.h - layer.kernel) / layer.stride) + 1, w: Math.floor((s.w - layer.kernel) / layer.stride) + 1 };
    } else if (layer.op === 'pixel_shuffle') {
      size = { h: s.h * layer.factor, w: s.w * layer.factor };
    } else if (layer.op === 'bilinear_resize') {
      size = sizes.get(layer.sizeOf)!;
    }
    sizes.set(layer.output, size);
  }
  return sizes;
}

/** The conv of a layer as the kernels take it, for an input of height × width. */
export function convParams(l: GraphLayer, input: GraphTensor, height: number, width: number): ConvParams {
  const layer = l.layer;
  if (layer.op !== 'conv' || !l.conv) throw new Error('not a conv layer');
  const c = l.conv;
  return {
    height, width, inChannels: input.info.channels, outChannels: c.multipliers.length,
    kernel: layer.kernel, stride: layer.stride, padding: layer.padding, groups: layer.groups,
    weights: c.weights, inputBits: c.inputBits,
    output: { kind: c.kind, multipliers: c.multipliers, offsets: c.offsets, min: c.min, max: c.max },
  };
}

/**
 * Bilinear taps along one axis (align_corners false, as PyTorch): source s = (o + 0.5)·in/out − 0.5
 * in double, clamped at 0; i0 = ⌊s⌋, i1 = min(i0 + 1, in − 1), weights w1 = f32(s − i0),
 * w0 = f32(1 − w1).
 */
export function bilinearTaps(inSize: number, outSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const ratio = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.max((o + 0.5) * ratio - 0.5, 0);
    const a = Math.min(Math.floor(s), inSize - 1);
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    w1[o] = s - a;
    w0[o] = 1 - w1[o]!;
  }
  return { i0, i1, w0, w1 };
}

/**
 * The ADQ deviation of a whole tensor (values: float32 values or uint8 codes times step), in
 * double, in memory order: the mean first, then the mean squared deviation (two passes, no
 * cancellation); φ = f32(slope · σ + offset).
 */
export function adqFactor(values: Float32Array | Uint8Array, step: number, deviation: 'population' | 'sample', slope: number, offset: number): number {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]! * step;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = values[i]! * step - mean;
    squares += d * d;
  }
  return adqPhi(squares, n, deviation, slope, offset);
}

/** φ from the sum of squared deviations of n values. */
export function adqPhi(squares: number, n: number, deviation: 'population' | 'sample', slope: number, offset: number): number {
  const divisor = deviation === 'sample' ? n - 1 : n;
  const sigma = divisor > 0 ? Math.sqrt(squares / divisor) : 0;
  return Math.fround(slope * sigma + offset);
}

/** The uint8 code of a float value for a quantize layer (see QuantizeLayer). */
export function quantizeCode(x: number, step: number, maxCode: number): number {
  const v = Math.fround(x / step);
  // Round half to even; NaN (never produced by finite layers) maps to 0.
  if (!(v > 0)) return 0;
  if (v >= maxCode) return maxCode;
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** The output pixel: clamp(roundHalfEven(f32(x · 255)), 0, 255), NaN → 0. */
export function outputByte(x: number): number {
  return quantizeCode(Math.fround(x * 255), 1, 255);
}

export const f32 = Math.fround;
