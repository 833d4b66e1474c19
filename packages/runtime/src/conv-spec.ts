/**
 * What an integer convolution computes, independent of the engine: shapes, weights and the output
 * arithmetic. The scalar reference (conv-reference.ts) and the WASM kernels (wasm-kernels.ts) take
 * the same ConvParams and must agree bit for bit.
 */

/** int4 weights as stored in a model: two's-complement nibbles, low nibble first. */
export interface PackedInt4 {
  readonly bits: 4;
  readonly packed: Uint8Array;
}

/**
 * What the conv writes per output channel c, from the int32 sum acc = Σ x·w (x uint8, w int8):
 *   uint8:   clamp(roundHalfEven(f32(f32(f32(acc) · M_c) + B_c)), min, max)   (HWGQ requantization,
 *            ReLU is min 0, the clip is max 2^bits − 1)
 *   int32:   acc
 *   float32: clamp(f32(f32(f32(acc) · M_c) + B_c), min, max)
 * f32(·) rounds to IEEE-754 binary32, nearest even; each product and sum is rounded on its own
 * (never a fused multiply-add). M and B are rounded to float32 when the conv is prepared.
 */
export type ConvOutput =
  | {
      readonly kind: 'uint8';
      readonly multipliers: ArrayLike<number>;
      readonly offsets?: ArrayLike<number>;
      /** Integer bounds in [0, 255]; default 0 and 255. */
      readonly min?: number;
      readonly max?: number;
    }
  | { readonly kind: 'int32' }
  | {
      readonly kind: 'float32';
      readonly multipliers: ArrayLike<number>;
      readonly offsets?: ArrayLike<number>;
      /** Default −Infinity and +Infinity. */
      readonly min?: number;
      readonly max?: number;
    };

export interface ConvParams {
  /** Input image, NHWC with N = 1: height × width × inChannels uint8. */
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** [kh, kw]. */
  readonly kernel: readonly [number, number];
  /** Default 1. */
  readonly stride?: number;
  /** 'same' pads as TensorFlow does (the extra row/column at the bottom/right); default 'same'. */
  readonly padding?: 'same' | 'valid';
  /** Output channel o reads input channels g·(inChannels/groups) … with g = ⌊o / (outChannels/groups)⌋. Default 1. */
  readonly groups?: number;
  /**
   * int8 weights (or int4, unpacked at load), laid out per weightLayout:
   * 'OHWI' (default): [outChannels][kh][kw][inChannels/groups];
   * 'HWIO': [kh][kw][inChannels/groups][outChannels].
   */
  readonly weights: Int8Array | PackedInt4;
  readonly weightLayout?: 'OHWI' | 'HWIO';
  /** Bits of the input activations (default 8). Inputs of 7 bits or fewer allow the relaxed-SIMD kernel. */
  readonly inputBits?: number;
  readonly output: ConvOutput;
}

/** Shapes resolved: every default applied, padding turned into offsets. */
export interface ConvGeometry {
  readonly height: number;
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: number;
  readonly groups: number;
  readonly inPerGroup: number;
  readonly outPerGroup: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`conv: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** One axis of TensorFlow's padding rule. */
function axis(size: number, k: number, stride: number, padding: 'same' | 'valid', name: string) {
  if (padding === 'valid') {
    if (size < k) throw new RangeError(`conv: ${name} ${size} is smaller than the kernel (${k}) with 'valid' padding`);
    return { out: Math.floor((size - k) / stride) + 1, before: 0 };
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return { out, before: Math.floor(total / 2) };
}

export function convGeometry(params: ConvParams): ConvGeometry {
  const height = positiveInteger(params.height, 'height');
  const width = positiveInteger(params.width, 'width');
  const inChannels = positiveInteger(params.inChannels, 'inChannels');
  const outChannels = positiveInteger(params.outChannels, 'outChannels');
  if (!Array.isArray(params.kernel) || params.kernel.length !== 2) throw new RangeError('conv: kernel must be [kh, kw]');
  const kh = positiveInteger(params.kernel[0], 'kernel height');
  const kw = positiveInteger(params.kernel[1], 'kernel width');
  const stride = positiveInteger(params.stride ?? 1, 'stride');
  const groups = positiveInteger(params.groups ?? 1, 'groups');
  const padding = params.padding ?? 'same';
  if (padding !== 'same' && padding !== 'valid') throw new RangeError(`conv: unknown padding ${String(padding)}`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`conv: groups (${groups}) must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
  }
  const v = axis(height, kh, stride, padding, 'height');
  const h = axis(width, kw, stride, padding, 'width');
  return {
    height,
    width,
    inChannels,
    outChannels,
    kh,
    kw,
    stride,
    groups,
    inPerGroup: inChannels / groups,
    outPerGroup: outChannels / groups,
    outHeight: v.out,
    outWidth: h.out,
    padTop: v.before,
    padLeft: h.before,
  };
}

/** Sign-extends int4 nibbles (low nibble first) into int8. */
export function unpackInt4(packed: Uint8Array, count: number): Int8Array {
  if (!Number.isInteger(count) || count < 0 || packed.length < Math.ceil(count / 2)) {
    throw new RangeError(`unpackInt4: ${count} values need ${Math.ceil(count / 2)} bytes, got ${packed.length}`);
  }
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const nibble = (packed[i >> 1]! >> ((i & 1) << 2)) & 0xf;
    out[i] = (nibble << 28) >> 28;
  }
  return out;
}

/** The inverse of unpackInt4 (values must lie in [−8, 7]); an odd count leaves the last high nibble 0. */
export function packInt4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < -8 || v > 7) throw new RangeError(`packInt4: ${v} at ${i} is not an int4 value`);
    out[i >> 1] |= (v & 0xf) << ((i & 1) << 2);
  }
  return out;
}

/** The weights as int8 in OHWI order, whatever the stored layout and width. */
export function weightsOHWI(params: ConvParams, geometry: ConvGeometry): Int8Array {
  const { outChannels, kh, kw, inPerGroup } = geometry;
  const count = outChannels * kh * kw * inPerGroup;
  const stored = params.weights instanceof Int8Array ? params.weights : unpackInt4OrThrow(params.weights, count);
  if (stored.length !== count) {
    throw new RangeError(`conv: expected ${count} weights (${outChannels}×${kh}×${kw}×${inPerGroup}), got ${stored.length}`);
  }
  const layout = params.weightLayout ?? 'OHWI';
  if (layout === 'OHWI') return stored;
  if (layout !== 'HWIO') throw new RangeError(`conv: unknown weight layout ${String(layout)}`);
  const out = new Int8Array(count);
  for (let o = 0; o < outChannels; o++) {
    for (let t = 0; t < kh * kw; t++) {
      for (let i = 0; i < inPerGroup; i++) out[(o * kh * kw + t) * inPerGroup + i] = stored[(t * inPerGroup + i) * outChannels + o]!;
    }
  }
  return out;
}

function unpackInt4OrThrow(weights: PackedInt4, count: number): Int8Array {
  if (weights.bits !== 4 || !(weights.packed instanceof Uint8Array)) throw new RangeError('conv: weights must be an Int8Array or { bits: 4, packed }');
  if (weights.packed.length !== Math.ceil(count / 2)) {
    throw new RangeError(`conv: expected ${Math.ceil(count / 2)} bytes of int4 weights, got ${weights.packed.length}`);
  }
  return unpackInt4(weights.packed, count);
}

/** The per-channel arithmetic of ConvOutput, resolved: float32 M, B and the bounds. */
export interface ResolvedOutput {
  readonly kind: 'uint8' | 'int32' | 'float32';
  readonly multipliers: Float32Array;
  readonly offsets: Float32Array;
  readonly min: number;
  readonly max: number;
}

export function resolveOutput(output: ConvOutput, outChannels: number): ResolvedOutput {
  if (output.kind === 'int32') {
    return { kind: 'int32', multipliers: new Float32Array(outChannels), offsets: new Float32Array(outChannels), min: 0, max: 0 };
  }
  if (output.kind !== 'uint8' && output.kind !== 'float32') throw new RangeError(`conv: unknown output kind ${String((output as { kind: unknown }).kind)}`);
  const perChannel = (values: ArrayLike<number> | undefined, name: string): Float32Array => {
    if (values === undefined) return new Float32Array(outChannels);
    if (values.length !== outChannels) throw new RangeError(`conv: ${name} has ${values.length} values for ${outChannels} output channels`);
    const out = Float32Array.from(values);
    const bad = out.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new RangeError(`conv: ${name}[${bad}] is not a finite float32 (${values[bad]})`);
    return out;
  };
  const multipliers = perChannel(output.multipliers, 'multipliers');
  const offsets = perChannel(output.offsets, 'offsets');
  if (output.kind === 'uint8') {
    const min = output.min ?? 0;
    const max = output.max ?? 255;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max > 255 || min > max) {
      throw new RangeError(`conv: uint8 output bounds must be integers with 0 <= min <= max <= 255, got ${min}, ${max}`);
    }
    return { kind: 'uint8', multipliers, offsets, min, max };
  }
  const min = Math.fround(output.min ?? -Infinity);
  const max = Math.fround(output.max ?? Infinity);
  if (Number.isNaN(min) || Number.isNaN(max) || min > max) throw new RangeError(`conv: float32 output bounds must satisfy min <= max, got ${min}, ${max}`);
  return { kind: 'float32', multipliers, offsets, min, max };
}
