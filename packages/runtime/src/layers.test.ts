import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dReference } from './conv-reference.js';
import { convGeometry, type ConvParams } from './conv-spec.js';
import { expFdlibm, sigmoidF32 } from './exp.js';
import { adqFactor, adqPhi, bilinearTaps, outputByte, quantizeCode } from './graph.js';
import { seeded } from './test-helpers.js';
import { loadIntegerKernels, supportsRelaxedSimd, type ConvCodes, type ConvResidual, type IntegerKernels } from './wasm-kernels.js';

// The layer kernels (assembly/layers.ts) and the conv's fused residual add and quantizer, each
// against the scalar arithmetic of the reference engine, bit for bit (any NaN equals any NaN).

const f32 = Math.fround;
let kernels: IntegerKernels;
let relaxedKernels: IntegerKernels | undefined;
beforeAll(async () => {
  kernels = await loadIntegerKernels({ source: new URL('../dist/kernels.wasm', import.meta.url), relaxedSimd: 'off' });
  if (supportsRelaxedSimd()) {
    relaxedKernels = await loadIntegerKernels({
      source: new URL('../dist/kernels.wasm', import.meta.url),
      relaxedSource: new URL('../dist/kernels-relaxed.wasm', import.meta.url),
      relaxedSimd: 'require',
    });
  }
});

type Typed = Float32Array | Uint8Array | Int32Array;

function put(k: IntegerKernels, values: Typed): number {
  const at = k.heap.alloc(values.byteLength);
  k.heap.bytes().set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  return at;
}

function floatsAt(k: IntegerKernels, at: number, n: number): Float32Array {
  return new Float32Array(k.heap.memory.buffer.slice(at, at + 4 * n));
}

function bytesAt(k: IntegerKernels, at: number, n: number): Uint8Array {
  return new Uint8Array(k.heap.memory.buffer.slice(at, at + n));
}

/** Float32 bit patterns, NaN as one value. */
function patterns(values: ArrayLike<number>): number[] {
  const one = new Float32Array(1);
  const bits = new Uint32Array(one.buffer);
  return Array.from(values, (v) => {
    one[0] = v;
    return Number.isNaN(v) ? -1 : bits[0]!;
  });
}

function expectFloats(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  const g = patterns(got);
  const w = patterns(want);
  const first = g.findIndex((v, i) => v !== w[i]);
  expect(first, `${what}: first difference at ${first} (got ${got[first]}, want ${want[first]})`).toBe(-1);
  expect(g.length).toBe(w.length);
}

function expectBytes(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  const first = Array.from(want).findIndex((v, i) => v !== got[i]);
  expect(first, `${what}: first difference at ${first} (got ${got[first]}, want ${want[first]})`).toBe(-1);
}

/** Float32 values across the range, with the special ones and values right at and next to ties of step. */
function awkward(n: number, seed: number, step = 0.020301, max = 255): Float32Array {
  const r = seeded(seed);
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e30, -1e30, 1e-40, -1e-40, 3.4e38, 1, -1, 0.5, 255.5, 254.5];
  for (let i = 0; i < n; i++) {
    const kind = r.int(0, 9);
    if (kind === 0) out[i] = specials[r.int(0, specials.length - 1)]!;
    else if (kind <= 3) {
      // At a tie of the quantizer (code + 0.5 steps), or one float32 step either side.
      out[i] = (r.int(-2, max + 2) + 0.5) * step;
      bits[i] = bits[i]! + r.int(-1, 1);
    } else if (kind <= 5) out[i] = (r.next() * 2 - 0.5) * step * max;
    else if (kind <= 7) out[i] = (r.next() - 0.5) * 20;
    else bits[i] = (r.next() * 2 ** 32) >>> 0;
  }
  return out;
}

describe('layer kernels are bit-exact with the reference arithmetic', () => {
  it('quantize: contiguous rows, strided rows and channel runs, tails of every length', () => {
    const k = kernels;
    for (const step of [0.020301, 0.6356, 0.21306, 0.25, 1 / 3, 3e-39, 1e30]) {
      for (const bits of [1, 4, 8]) {
        const max = 2 ** bits - 1;
        const x = awkward(600, bits * 31 + 7, step, max);
        const src = put(k, x);
        const want = Uint8Array.from(x, (v) => quantizeCode(v, step, max));
        // One run over everything, then 3 rows of 37 values (rows 50 values apart), then runs of
        // 1..20 channels per pixel (a concat's slices: source pixels n apart, destination c).
        const dst = k.heap.alloc(600);
        k.exports.quantize(src, 0, 0, dst, 0, 0, 1, 1, 600, step, max);
        expectBytes(bytesAt(k, dst, 600), want, `step ${step}, ${bits} bits`);
        k.exports.quantize(src, 200, 0, dst, 40, 0, 3, 1, 37, step, max);
        const rows = bytesAt(k, dst, 120);
        for (let y = 0; y < 3; y++) expectBytes(rows.subarray(y * 40, y * 40 + 37), want.subarray(y * 50, y * 50 + 37), `strided row ${y}`);
        for (let n = 1; n <= 20; n++) {
          const c = n + 3;
          k.exports.quantize(src, n * 4 * 6, n * 4, dst, c * 6, c, 4, 6, n, step, max);
          const got = bytesAt(k, dst, 4 * 6 * c);
          for (let y = 0; y < 4; y++) {
            for (let p = 0; p < 6; p++) {
              expectBytes(got.subarray((y * 6 + p) * c, (y * 6 + p) * c + n), want.subarray((y * 6 + p) * n, (y * 6 + p + 1) * n), `runs of ${n}`);
            }
          }
        }
        k.heap.release(dst);
        k.heap.release(src);
      }
    }
  });

  it('quantize: values a few float32 steps from a tie, where the division is skipped', () => {
    // Each vector of 4 holds one distance from a tie, so that the quantizer's multiply-and-round
    // path (taken when no lane is within 2^-19 of a tie) meets the values closest to its bound.
    const k = kernels;
    for (const step of [0.020301, 0.6356, 0.21306, 1 / 3, 1 / 255, 7.000001]) {
      for (const max of [15, 255]) {
        const values: number[] = [];
        for (const ulps of [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 1024, -2, -3, -4, -8, -16, -32, -64, -128, -256, -1024]) {
          for (let code = -1; code <= max + 1; code++) {
            const x = new Float32Array([(code + 0.5) * step]);
            new Int32Array(x.buffer)[0]! += ulps;
            values.push(x[0]!, x[0]!, x[0]!, x[0]!);
          }
        }
        const x = Float32Array.from(values);
        const src = put(k, x);
        const dst = k.heap.alloc(x.length);
        k.exports.quantize(src, 0, 0, dst, 0, 0, 1, 1, x.length, step, max);
        expectBytes(
          bytesAt(k, dst, x.length),
          Uint8Array.from(x, (v) => quantizeCode(v, step, max)),
          `step ${step}, max ${max}`,
        );
        k.heap.release(dst);
        k.heap.release(src);
      }
    }
  });

  it('output bytes', () => {
    const k = kernels;
    const x = awkward(1000, 3, 1 / 255, 255);
    const src = put(k, x);
    const dst = k.heap.alloc(1000);
    k.exports.outputBytes(src, 0, dst, 0, 1, 1000);
    expectBytes(bytesAt(k, dst, 1000), Uint8Array.from(x, outputByte), 'outputBytes');
    // 7 rows of 33, strided.
    k.exports.outputBytes(src, 140, dst, 40, 7, 33);
    const got = bytesAt(k, dst, 280);
    for (let y = 0; y < 7; y++) expectBytes(got.subarray(y * 40, y * 40 + 33), Uint8Array.from(x.subarray(y * 35, y * 35 + 33), outputByte), `row ${y}`);
    k.heap.release(dst);
    k.heap.release(src);
  });

  it('add, mul, ADQ scale and clamp', () => {
    const k = kernels;
    const n = 515;
    const a = awkward(n, 11);
    const b = awkward(n, 12);
    const at = put(k, a);
    const bt = put(k, b);
    const dst = k.heap.alloc(4 * n);
    k.exports.binaryF32(0, at, 0, bt, 0, dst, 0, 1, n);
    expectFloats(
      floatsAt(k, dst, n),
      Array.from(a, (v, i) => f32(v + b[i]!)),
      'add',
    );
    k.exports.binaryF32(1, at, 4 * 100, bt, 4 * 103, dst, 4 * 99, 5, 97);
    const got = floatsAt(k, dst, 99 * 5);
    for (let y = 0; y < 5; y++) {
      expectFloats(
        got.subarray(y * 99, y * 99 + 97),
        Array.from(a.subarray(y * 100, y * 100 + 97), (v, i) => f32(v * b[y * 103 + i]!)),
        `mul row ${y}`,
      );
    }
    for (const phi of [f32(1.37), -0.5, 0, f32(3e38), f32(1e-30)]) {
      k.exports.scaleF32(at, 0, dst, 0, 1, n, phi);
      expectFloats(
        floatsAt(k, dst, n),
        Array.from(a, (v) => f32(v * phi)),
        `scale ${phi}`,
      );
    }
    for (const [lo, hi] of [
      [0, 1],
      [0.1, 0.7],
      [-Infinity, 2],
      [-1e300, 1e300],
      [0, 0],
      [-0, 0],
      [-3, -3],
    ] as const) {
      k.exports.clampF32(at, 0, dst, 0, 1, n, lo, hi);
      expectFloats(
        floatsAt(k, dst, n),
        Array.from(a, (v) => f32(Math.min(Math.max(v, lo), hi))),
        `clamp ${lo}..${hi}`,
      );
    }
    for (const p of [at, bt, dst]) k.heap.release(p);
  });

  it('affine, with and without its quantizer', () => {
    const k = kernels;
    const r = seeded(5);
    for (const c of [1, 3, 4, 5, 12, 48]) {
      const w = 7;
      const rows = 3;
      const x = awkward(rows * w * c + 11, c);
      const scale = Float32Array.from({ length: c }, () => f32(0.5 + r.next()));
      const shift = Float32Array.from({ length: c }, () => f32(r.next() - 0.5));
      const xs = put(k, x);
      const sa = put(k, scale);
      const sh = put(k, shift);
      const dst = k.heap.alloc(4 * rows * w * c);
      const codes = k.heap.alloc(rows * w * c);
      const stride = (w * c + 3) * 4;
      for (const quantized of [false, true]) {
        k.exports.affineF32(xs, stride, dst, w * c * 4, rows, w, c, sa, sh, quantized ? codes : 0, 0.020301, 255);
        const want: number[] = [];
        for (let y = 0; y < rows; y++) for (let i = 0; i < w * c; i++) want.push(f32(f32(x[y * (w * c + 3) + i]! * scale[i % c]!) + shift[i % c]!));
        expectFloats(floatsAt(k, dst, rows * w * c), want, `affine c ${c}`);
        if (quantized)
          expectBytes(
            bytesAt(k, codes, rows * w * c),
            want.map((v) => quantizeCode(v, 0.020301, 255)),
            `affine codes c ${c}`,
          );
      }
      for (const p of [xs, sa, sh, dst, codes]) k.heap.release(p);
    }
  });

  it('sigmoid, and the exp it uses (fdlibm as V8 computes Math.exp)', () => {
    const k = kernels;
    // Every 32771st float32 bit pattern (131 000 values over the whole range; a one-off run over all
    // 2^32 found no difference either), and the special ones, strided.
    const n = Math.ceil(2 ** 32 / 32771);
    const x = new Float32Array(n + 16);
    const bits = new Uint32Array(x.buffer);
    for (let i = 0; i < n; i++) bits[i] = i * 32771;
    x.set([0, -0, 1, -1, NaN, Infinity, -Infinity, 708, -708, 745.2, -745.2, 88.8, -103.9, 2 ** -28, -(2 ** -29), 0.34657359], n);
    const src = put(k, x);
    const dst = k.heap.alloc(x.byteLength);
    k.exports.sigmoidF32(src, 0, dst, 0, 1, x.length);
    expectFloats(floatsAt(k, dst, x.length), Array.from(x, sigmoidF32), 'sigmoid');
    k.exports.sigmoidF32(src, 4 * 1000, dst, 4 * 900, 9, 899);
    const got = floatsAt(k, dst, 900 * 9);
    for (let y = 0; y < 9; y++) expectFloats(got.subarray(y * 900, y * 900 + 899), Array.from(x.subarray(y * 1000, y * 1000 + 899), sigmoidF32), `row ${y}`);
    k.heap.release(dst);
    k.heap.release(src);
    const r = seeded(9);
    const words = new DataView(new ArrayBuffer(8));
    const samples = [0, -0, 1, -1, 0.5, NaN, Infinity, -Infinity, 709.78, 709.79, -745.13, -745.14, 1e-300, 2 ** -28, 0.3465735902799726, 1.0397207708399179];
    for (let i = 0; i < 3000; i++) {
      words.setUint32(0, (r.next() * 2 ** 32) >>> 0);
      words.setUint32(4, (r.next() * 2 ** 32) >>> 0);
      samples.push(words.getFloat64(0), (r.next() - 0.5) * 1500, (r.next() - 0.5) * 4);
    }
    const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
    expect(samples.filter((v) => !same(k.exports.expF64(v), expFdlibm(v)))).toEqual([]);
    // The port is Math.exp itself on V8 (Node), so models keep the values they had.
    expect(samples.filter((v) => !same(Math.exp(v), expFdlibm(v)))).toEqual([]);
  });

  it('ADQ deviation sums, continued over chunks', () => {
    const k = kernels;
    const r = seeded(77);
    for (const [values, step] of [
      [Float32Array.from({ length: 5000 }, () => f32((r.next() - 0.3) * 3)), 1],
      [Uint8Array.from({ length: 5000 }, () => r.int(0, 255)), 0.020301],
    ] as const) {
      const elem = values instanceof Float32Array ? 4 : 1;
      const at = put(k, values);
      const n = values.length;
      const sweep = (mean: number) => {
        let sum = 0;
        for (let i = 0; i < n; i += 777) sum = k.exports.adqSum(at + i * elem, Math.min(777, n - i), elem, step, mean, sum);
        return sum;
      };
      let sum = 0;
      for (let i = 0; i < n; i++) sum += values[i]! * step;
      let want = 0;
      for (let i = 0; i < n; i++) {
        const d = values[i]! * step - sum / n;
        want += d * d;
      }
      expect(sweep(NaN)).toBe(sum);
      const squares = sweep(sweep(NaN) / n);
      expect(squares).toBe(want);
      for (const deviation of ['population', 'sample'] as const) {
        expect(adqPhi(squares, n, deviation, 1.5, 0.25)).toBe(adqFactor(values, step, deviation, 1.5, 0.25));
      }
      k.heap.release(at);
    }
  });

  it('concat copies, channel repeat and pixel shuffle', () => {
    const k = kernels;
    const r = seeded(21);
    const data = Uint8Array.from({ length: 4096 }, () => r.int(0, 255));
    const src = put(k, data);
    const dst = k.heap.alloc(8192);
    for (const bytes of [1, 3, 4, 12, 16, 20, 48, 96]) {
      const w = 5;
      const rows = 3;
      const srcPixel = bytes + 4;
      const dstPixel = bytes + 8;
      k.heap.bytes().fill(0, dst, dst + 8192);
      k.exports.copyPixels(src + 3, w * srcPixel + 1, srcPixel, dst + 2, w * dstPixel, dstPixel, rows, w, bytes);
      const got = bytesAt(k, dst, 8192);
      for (let y = 0; y < rows; y++) {
        for (let p = 0; p < w; p++) {
          const s = 3 + y * (w * srcPixel + 1) + p * srcPixel;
          const d = 2 + y * w * dstPixel + p * dstPixel;
          expectBytes(got.subarray(d, d + bytes), data.subarray(s, s + bytes), `copy ${bytes}`);
          // Nothing written around the pixel's bytes.
          expect(got[d + bytes]).toBe(0);
        }
      }
    }
    for (const elem of [1, 4]) {
      for (const [xc, c] of [
        [3, 48],
        [2, 7],
        [5, 5],
      ] as const) {
        k.exports.repeatChannels(src, 9 * xc * elem, xc, dst, 6 * c * elem, c, 2, 6, elem);
        const got = bytesAt(k, dst, 2 * 6 * c * elem);
        for (let y = 0; y < 2; y++) {
          for (let p = 0; p < 6; p++) {
            for (let ch = 0; ch < c; ch++) {
              const s = (y * 9 * xc + p * xc + (ch % xc)) * elem;
              const d = ((y * 6 + p) * c + ch) * elem;
              expectBytes(got.subarray(d, d + elem), data.subarray(s, s + elem), `repeat ${xc}→${c}`);
            }
          }
        }
      }
      for (const f of [2, 3, 4]) {
        for (const c of [1, 3]) {
          // Input piece at (sy0, sx0) = (2, 1), 6 × 5 pixels of c·f² channels; output rows from y0 = 2f + 1.
          const cin = c * f * f;
          const [sy0, sx0, iw] = [2, 1, 5];
          const [y0, x0, rows, w] = [2 * f + 1, f + 2, 2 * f, 3 * f - 2];
          // Floats also quantized on the way (the quantize layer after a float32 shuffle, fused).
          const codes = elem === 4 ? k.heap.alloc(rows * w * c) : 0;
          k.exports.pixelShuffle(src, iw * cin * elem, sy0, sx0, cin, dst, w * c * elem, y0, x0, rows, w, c, f, elem, codes, w * c, 0.020301, 255);
          const got = bytesAt(k, dst, rows * w * c * elem);
          if (codes !== 0) {
            const floats = new Float32Array(got.slice().buffer);
            expectBytes(
              bytesAt(k, codes, rows * w * c),
              Array.from(floats, (v) => quantizeCode(v, 0.020301, 255)),
              `shuffle codes f ${f} c ${c}`,
            );
            k.heap.release(codes);
          }
          for (let y = 0; y < rows; y++) {
            for (let x = 0; x < w; x++) {
              for (let ch = 0; ch < c; ch++) {
                const gy = y0 + y;
                const gx = x0 + x;
                const s = (((Math.floor(gy / f) - sy0) * iw + Math.floor(gx / f) - sx0) * cin + ch * f * f + (gy % f) * f + (gx % f)) * elem;
                const d = ((y * w + x) * c + ch) * elem;
                expectBytes(got.subarray(d, d + elem), data.subarray(s, s + elem), `shuffle f ${f} c ${c} elem ${elem}`);
              }
            }
          }
        }
      }
    }
    k.heap.release(dst);
    k.heap.release(src);
  });

  it('max pool and bilinear resize', () => {
    const k = kernels;
    const r = seeded(33);
    for (const c of [1, 4, 5, 12]) {
      const [h, w] = [17, 19];
      const x = awkward(h * w * c, c + 40);
      // Zeros of both signs and NaN, where max must order −0 < +0 and propagate NaN as Math.max.
      for (let i = 0; i < x.length; i += 7) x[i] = [0, -0, NaN][r.int(0, 2)]!;
      const src = put(k, x);
      for (const [kernel, stride] of [
        [3, 2],
        [7, 3],
        [2, 1],
      ] as const) {
        const oh = Math.floor((h - kernel) / stride) + 1;
        const ow = Math.floor((w - kernel) / stride) + 1;
        const dst = k.heap.alloc(4 * oh * ow * c);
        k.exports.maxPoolF32(src, w * c * 4, dst, ow * c * 4, oh, ow, c, kernel, stride);
        const want: number[] = [];
        for (let y = 0; y < oh; y++) {
          for (let xx = 0; xx < ow; xx++) {
            for (let ch = 0; ch < c; ch++) {
              let m = -Infinity;
              for (let dy = 0; dy < kernel; dy++) for (let dx = 0; dx < kernel; dx++) m = Math.max(m, x[((y * stride + dy) * w + xx * stride + dx) * c + ch]!);
              want.push(m);
            }
          }
        }
        const got = floatsAt(k, dst, oh * ow * c);
        expectFloats(got, want, `max pool ${kernel}/${stride} c ${c}`);
        expect(patterns(got.filter((v) => v === 0))).toEqual(patterns(want.filter((v) => v === 0)));
        k.heap.release(dst);
      }
      // Resize the input piece rows 3.., columns 2.. of a 40 × 50 input, to 93 × 101 (rows 10.., columns 7..).
      const [inH, inW, outH, outW] = [40, 50, 93, 101];
      const ty = bilinearTaps(inH, outH);
      const tx = bilinearTaps(inW, outW);
      const tapsAt = (t: ReturnType<typeof bilinearTaps>, size: number) => {
        const words = new ArrayBuffer(size * 16);
        const ints = new Int32Array(words);
        const floats = new Float32Array(words);
        for (let o = 0; o < size; o++) {
          ints[4 * o] = t.i0[o]!;
          ints[4 * o + 1] = t.i1[o]!;
          floats[4 * o + 2] = t.w0[o]!;
          floats[4 * o + 3] = t.w1[o]!;
        }
        return put(k, new Uint8Array(words));
      };
      const tya = tapsAt(ty, outH);
      const txa = tapsAt(tx, outW);
      const [y0, x0, rows, cols] = [10, 7, 9, 11];
      const [sy0, sx0] = [ty.i0[y0]!, tx.i0[x0]!];
      const pieceW = tx.i1[x0 + cols - 1]! + 1 - sx0;
      const dst = k.heap.alloc(4 * rows * cols * c);
      k.exports.bilinearF32(src, pieceW * c * 4, sy0, sx0, c, dst, cols * c * 4, y0, x0, rows, cols, tya, txa);
      const at = (yy: number, xx: number, ch: number) => x[((yy - sy0) * pieceW + (xx - sx0)) * c + ch]!;
      const want: number[] = [];
      for (let y = y0; y < y0 + rows; y++) {
        for (let xx = x0; xx < x0 + cols; xx++) {
          for (let ch = 0; ch < c; ch++) {
            const top = f32(f32(at(ty.i0[y]!, tx.i0[xx]!, ch) * tx.w0[xx]!) + f32(at(ty.i0[y]!, tx.i1[xx]!, ch) * tx.w1[xx]!));
            const bottom = f32(f32(at(ty.i1[y]!, tx.i0[xx]!, ch) * tx.w0[xx]!) + f32(at(ty.i1[y]!, tx.i1[xx]!, ch) * tx.w1[xx]!));
            want.push(f32(f32(top * ty.w0[y]!) + f32(bottom * ty.w1[y]!)));
          }
        }
      }
      expectFloats(floatsAt(k, dst, rows * cols * c), want, `bilinear c ${c}`);
      for (const p of [dst, tya, txa, src]) k.heap.release(p);
    }
  });
});

describe("the kernel a conv gets with 'auto'", () => {
  it('is the relaxed one for dense windows at 7 bits or fewer, the plain one for 1×1, grouped, 8-bit and 3-to-3-channel convs', (ctx) => {
    if (!relaxedKernels) return ctx.skip();
    const kernelOf = (k: number, groups: number, inputBits: number, kernel?: 'relaxed', channels = 12) => {
      const params: ConvParams = {
        height: 6,
        width: 6,
        inChannels: channels,
        outChannels: channels,
        kernel: [k, k],
        groups,
        weights: new Int8Array((channels * channels * k * k) / groups).fill(1),
        inputBits,
        output: { kind: 'float32', multipliers: new Array(channels).fill(0.01), offsets: new Array(channels).fill(0) },
      };
      const c = relaxedKernels!.prepareConv(params, kernel ? { kernel } : {});
      c.dispose();
      return c.kernel;
    };
    expect([kernelOf(3, 1, 4), kernelOf(5, 1, 7), kernelOf(1, 1, 4), kernelOf(3, 2, 4), kernelOf(3, 1, 8)]).toEqual([
      'relaxed',
      'relaxed',
      'plain',
      'plain',
      'plain',
    ]);
    // The RGB tail's 3×3 keeps the plain kernel's 3-channel layout.
    expect(kernelOf(3, 1, 4, undefined, 3)).toBe('plain');
    // Asked for, the relaxed kernel still runs them (the shapes below hold both kernels to the reference).
    expect(kernelOf(1, 1, 4, 'relaxed')).toBe('relaxed');
    expect(kernelOf(3, 1, 4, 'relaxed', 3)).toBe('relaxed');
  });
});

describe('conv with a fused residual add and quantizer', () => {
  const shapes = [
    { h: 6, w: 11, cin: 48, cout: 48, k: 3 },
    { h: 5, w: 9, cin: 12, cout: 12, k: 1 },
    { h: 4, w: 7, cin: 16, cout: 6, k: 5 },
    { h: 7, w: 6, cin: 6, cout: 3, k: 3 },
    { h: 5, w: 10, cin: 24, cout: 20, k: 3, groups: 2 },
    { h: 9, w: 9, cin: 12, cout: 12, k: 3, stride: 2, padding: 'valid' as const },
    // Whole 4- and 8-pixel tiles ending in 1, 2, 3, 5 and 7 channels.
    { h: 3, w: 16, cin: 5, cout: 1, k: 3 },
    { h: 2, w: 17, cin: 6, cout: 2, k: 1 },
    { h: 3, w: 16, cin: 12, cout: 6, k: 1, groups: 2 },
    { h: 2, w: 12, cin: 6, cout: 5, k: 1 },
    { h: 3, w: 9, cin: 4, cout: 7, k: 3 },
    // 3 output channels from 3 or 4 (the pixel-pair kernel), and from 2.
    { h: 4, w: 13, cin: 3, cout: 3, k: 3 },
    { h: 3, w: 10, cin: 4, cout: 3, k: 1 },
    { h: 5, w: 6, cin: 2, cout: 3, k: 5 },
    // One input channel per group (tap pairs): the bicubic anchor.
    { h: 4, w: 11, cin: 3, cout: 48, k: 5, groups: 3 },
  ];
  for (const kernel of ['plain', 'relaxed'] as const) {
    it.each(shapes.map((s, i) => [`${s.k}×${s.k} ${s.cin}→${s.cout}${s.groups ? ` groups ${s.groups}` : ''}${s.stride ? ' stride 2' : ''}`, s, i] as const))(
      `${kernel}: %s, on a crop of a wider tensor`,
      (_name, s, i) => {
        const k = kernel === 'relaxed' ? relaxedKernels : kernels;
        if (!k) return;
        const r = seeded(100 + i);
        const inputMax = kernel === 'relaxed' ? 127 : 255;
        const weights = Int8Array.from({ length: s.cout * s.k * s.k * (s.cin / (s.groups ?? 1)) }, () => r.int(-128, 127));
        const input = Uint8Array.from({ length: s.h * s.w * s.cin }, () => r.int(0, inputMax));
        for (const [min, max] of [
          [-Infinity, Infinity],
          [-3, 2.5],
        ] as const) {
          const params: ConvParams = {
            height: s.h,
            width: s.w,
            inChannels: s.cin,
            outChannels: s.cout,
            kernel: [s.k, s.k],
            stride: s.stride,
            padding: s.padding,
            groups: s.groups,
            weights,
            inputBits: kernel === 'relaxed' ? 7 : 8,
            output: {
              kind: 'float32',
              min,
              max,
              multipliers: Array.from({ length: s.cout }, () => (r.next() + 0.2) / (inputMax * 40 * s.k)),
              offsets: Array.from({ length: s.cout }, () => r.next() - 0.5),
            },
          };
          const g = convGeometry(params);
          const conv = k.prepareConv(params, { kernel });
          expect(conv.kernel).toBe(kernel);
          // The input as a crop of a tensor 3 pixels wider; the residual as one 2 pixels wider.
          const wide = new Uint8Array(s.h * (s.w + 3) * s.cin);
          for (let y = 0; y < s.h; y++) wide.set(input.subarray(y * s.w * s.cin, (y + 1) * s.w * s.cin), (y * (s.w + 3) + 1) * s.cin);
          const n = g.outHeight * g.outWidth * s.cout;
          const resW = g.outWidth + 2;
          const residual = awkward(g.outHeight * resW * s.cout, 7 + i, 0.020301, 255);
          const inAt = put(k, wide);
          const resAt = put(k, residual);
          const outAt = k.heap.alloc(4 * n);
          const codesAt = k.heap.alloc(n);
          const plainOut = conv2dReference(input, params) as Float32Array;
          const runCrop = (residual?: ConvResidual, codes?: ConvCodes) =>
            conv.runCropAt(inAt + s.cin, (s.w + 3) * s.cin, s.h, s.w, g.padTop, g.padLeft, g.outHeight, g.outWidth, outAt, residual, codes);
          const resRows = { at: resAt + 4 * s.cout, rowStride: 4 * resW * s.cout };
          runCrop();
          expectFloats(floatsAt(k, outAt, n), plainOut, 'plain output');
          runCrop(resRows, { at: codesAt, step: 0.020301, max: 255 });
          const want = Array.from(plainOut, (v, j) => {
            const p = Math.floor(j / s.cout);
            const y = Math.floor(p / g.outWidth);
            return f32(v + residual[(y * resW + (p % g.outWidth) + 1) * s.cout + (j % s.cout)]!);
          });
          expectFloats(floatsAt(k, outAt, n), want, 'with residual');
          expectBytes(
            bytesAt(k, codesAt, n),
            want.map((v) => quantizeCode(v, 0.020301, 255)),
            'codes',
          );
          if (min === -Infinity) {
            // The clamp layer after the add, inside the conv too (its NaN and −0 order as f32 min/max).
            runCrop({ ...resRows, clampAfter: { min: -0.5, max: 0.75 } }, { at: codesAt, step: 0.020301, max: 255 });
            const clamped = want.map((v) => f32(Math.min(Math.max(v, -0.5), 0.75)));
            expectFloats(floatsAt(k, outAt, n), clamped, 'with residual and clamp');
            expectBytes(
              bytesAt(k, codesAt, n),
              clamped.map((v) => quantizeCode(v, 0.020301, 255)),
              'codes of the clamped sum',
            );
          } else {
            expect(() =>
              conv.runCropAt(inAt, s.w * s.cin, s.h, s.w, g.padTop, g.padLeft, g.outHeight, g.outWidth, outAt, {
                at: resAt,
                rowStride: 4 * resW * s.cout,
                clampAfter: { min: 0, max: 1 },
              }),
            ).toThrow(/clamp after the residual add needs an unbounded output/);
          }
          runCrop(undefined, {
            at: codesAt,
            step: 0.6356,
            max: 15,
          });
          expectBytes(
            bytesAt(k, codesAt, n),
            Array.from(plainOut, (v) => quantizeCode(v, 0.6356, 15)),
            'codes without residual',
          );
          for (const p of [inAt, resAt, outAt, codesAt]) k.heap.release(p);
          conv.dispose();
        }
      },
    );
  }

  it('writes nothing outside its channels: codes into a wider pixel (a fused concat), and past the output', () => {
    for (const s of [
      { w: 16, cin: 12, cout: 6, groups: 2, k: 1 },
      { w: 12, cin: 6, cout: 5, groups: 1, k: 3 },
      { w: 16, cin: 5, cout: 3, groups: 1, k: 3 },
      { w: 15, cin: 3, cout: 3, groups: 1, k: 3 },
      { w: 16, cin: 4, cout: 3, groups: 1, k: 1 },
    ]) {
      const h = 3;
      const r = seeded(7);
      const params: ConvParams = {
        height: h,
        width: s.w,
        inChannels: s.cin,
        outChannels: s.cout,
        kernel: [s.k, s.k],
        groups: s.groups,
        weights: Int8Array.from({ length: s.cout * s.k * s.k * (s.cin / s.groups) }, () => r.int(-128, 127)),
        inputBits: 8,
        output: {
          kind: 'float32',
          multipliers: Array.from({ length: s.cout }, () => (r.next() + 0.2) / (255 * 40 * s.k)),
          offsets: Array.from({ length: s.cout }, () => r.next() - 0.5),
        },
      };
      const conv = kernels.prepareConv(params, { kernel: 'plain' });
      const n = h * s.w * s.cout;
      const pixel = s.cout + 3;
      const inAt = put(
        kernels,
        Uint8Array.from({ length: h * s.w * s.cin }, () => r.int(0, 255)),
      );
      const outAt = put(kernels, new Float32Array(n + 8).fill(-7.5));
      const codesAt = put(kernels, new Uint8Array(h * s.w * pixel + 8).fill(0xab));
      conv.runCropAt(inAt, s.w * s.cin, h, s.w, s.k >> 1, s.k >> 1, h, s.w, outAt, undefined, { at: codesAt, pixel, step: 0.020301, max: 255 });
      const plain = conv2dReference(bytesAt(kernels, inAt, h * s.w * s.cin), params) as Float32Array;
      expectFloats(floatsAt(kernels, outAt, n + 8), [...plain, ...new Array<number>(8).fill(-7.5)], 'floats and what follows them');
      const codes = bytesAt(kernels, codesAt, h * s.w * pixel + 8);
      const want = Array.from({ length: codes.length }, (_, j) => {
        const p = Math.floor(j / pixel);
        const c = j % pixel;
        return p < h * s.w && c < s.cout ? quantizeCode(plain[p * s.cout + c]!, 0.020301, 255) : 0xab;
      });
      expectBytes(codes, want, 'codes and the bytes between and after them');
      for (const p of [inAt, outAt, codesAt]) kernels.heap.release(p);
      conv.dispose();
    }
  });
});
