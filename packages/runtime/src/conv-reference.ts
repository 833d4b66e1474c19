import { convGeometry, resolveOutput, weightsOHWI, type ConvParams, type ResolvedOutput } from './conv-spec.js';

const f32 = Math.fround;

/**
 * Round half to even of a float32 value held in a double (as f32x4.nearest). Every step is exact:
 * x − floor(x) of a float32 value loses nothing.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  const fraction = x - floor;
  const rounded = fraction < 0.5 ? floor : fraction > 0.5 ? floor + 1 : floor % 2 === 0 ? floor : floor + 1;
  // nearest keeps the sign of a negative value that rounds to zero.
  return rounded === 0 && x < 0 ? -0 : rounded;
}

/**
 * f32(f32(f32(acc) · m) + b): a double holds each float32 product and sum exactly before fround
 * rounds it (53 ≥ 2·24 + 2 bits, so rounding twice equals rounding once), which makes this equal
 * to WebAssembly's f32x4.convert/mul/add on every engine.
 */
export function scaleAccumulator(acc: number, multiplier: number, offset: number): number {
  return f32(f32(f32(acc) * multiplier) + offset);
}

/** The uint8 requantization of one accumulator (see ConvOutput). */
export function requantizeUint8(acc: number, multiplier: number, offset: number, min: number, max: number): number {
  const rounded = roundHalfEven(scaleAccumulator(acc, multiplier, offset));
  return rounded < min ? min : rounded > max ? max : rounded;
}

function writeOutput(kind: ResolvedOutput['kind'], out: Uint8Array | Int32Array | Float32Array, at: number, acc: number, o: number, r: ResolvedOutput) {
  if (kind === 'int32') out[at] = acc;
  else if (kind === 'uint8') out[at] = requantizeUint8(acc, r.multipliers[o]!, r.offsets[o]!, r.min, r.max);
  else out[at] = Math.min(Math.max(scaleAccumulator(acc, r.multipliers[o]!, r.offsets[o]!), r.min), r.max);
}

/**
 * The integer convolution as straightforward loops: the specification the WASM kernels are tested
 * against. input: height × width × inChannels uint8 (NHWC); output likewise with the conv's output
 * shape, uint8, int32 or float32 per params.output.kind. Padding reads 0 (the zero point of
 * unsigned activations).
 */
export function conv2dReference(input: Uint8Array, params: ConvParams): Uint8Array | Int32Array | Float32Array {
  const g = convGeometry(params);
  if (input.length !== g.height * g.width * g.inChannels) {
    throw new RangeError(`conv: input has ${input.length} values, expected ${g.height}×${g.width}×${g.inChannels}`);
  }
  const w = weightsOHWI(params, g);
  const r = resolveOutput(params.output, g.outChannels);
  const count = g.outHeight * g.outWidth * g.outChannels;
  const out = r.kind === 'uint8' ? new Uint8Array(count) : r.kind === 'int32' ? new Int32Array(count) : new Float32Array(count);
  for (let oy = 0; oy < g.outHeight; oy++) {
    for (let ox = 0; ox < g.outWidth; ox++) {
      for (let o = 0; o < g.outChannels; o++) {
        const c0 = Math.floor(o / g.outPerGroup) * g.inPerGroup;
        let acc = 0;
        for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.stride + ky - g.padTop;
          if (iy < 0 || iy >= g.height) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.stride + kx - g.padLeft;
            if (ix < 0 || ix >= g.width) continue;
            const xBase = (iy * g.width + ix) * g.inChannels + c0;
            const wBase = ((o * g.kh + ky) * g.kw + kx) * g.inPerGroup;
            for (let i = 0; i < g.inPerGroup; i++) acc += input[xBase + i]! * w[wBase + i]!;
          }
        }
        writeOutput(r.kind, out, (oy * g.outWidth + ox) * g.outChannels + o, acc | 0, o, r);
      }
    }
  }
  return out;
}
