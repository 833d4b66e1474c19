import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dReference } from './conv-reference.js';
import { packInt4, type ConvOutput, type ConvParams } from './conv-spec.js';
import { seeded } from './test-helpers.js';
import { loadIntegerKernels, supportsRelaxedSimd, type IntegerKernels } from './wasm-kernels.js';

const plainUrl = new URL('../dist/kernels.wasm', import.meta.url);
const relaxedUrl = new URL('../dist/kernels-relaxed.wasm', import.meta.url);
const relaxed = supportsRelaxedSimd();

let kernels: IntegerKernels;
beforeAll(async () => {
  kernels = await loadIntegerKernels({ source: plainUrl, relaxedSource: relaxedUrl });
});

interface Case {
  readonly name: string;
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly cout: number;
  readonly k: readonly [number, number];
  readonly stride?: number;
  readonly padding?: 'same' | 'valid';
  readonly groups?: number;
  readonly int4?: boolean;
  readonly kinds?: readonly ConvOutput['kind'][];
}

/** Random weights, inputs and per-channel arithmetic spread so that outputs hit 0 and 255 too. */
function makeParams(c: Case, seed: number, kind: ConvOutput['kind'], inputMax: number, fill?: { input: number; weight: number }) {
  const r = seeded(seed);
  const groups = c.groups ?? 1;
  const count = c.cout * c.k[0] * c.k[1] * (c.cin / groups);
  const raw = Array.from({ length: count }, () => fill?.weight ?? (c.int4 ? r.int(-8, 7) : r.int(-128, 127)));
  const weights = c.int4 ? { bits: 4 as const, packed: packInt4(raw) } : Int8Array.from(raw);
  const taps = c.k[0] * c.k[1] * (c.cin / groups);
  const typical = Math.sqrt(taps) * inputMax * (c.int4 ? 4.6 : 74) * 0.6;
  const multipliers = Array.from({ length: c.cout }, (_, i) => ((i % 5 === 4 ? -1 : 1) * (0.4 + r.next()) * 120) / typical);
  // Weights average −0.5: take the accumulators' mean out so that outputs centre in the range.
  const offsets = multipliers.map((m) => (r.next() - 0.3) * 120 + m * taps * (inputMax / 2) * 0.5);
  const output: ConvOutput = kind === 'int32' ? { kind } : kind === 'uint8' ? { kind, multipliers, offsets } : { kind, multipliers, offsets };
  const params: ConvParams = {
    height: c.h,
    width: c.w,
    inChannels: c.cin,
    outChannels: c.cout,
    kernel: c.k,
    stride: c.stride,
    padding: c.padding,
    groups: c.groups,
    weights,
    output,
    inputBits: Math.ceil(Math.log2(inputMax + 1)),
  };
  const input = Uint8Array.from({ length: c.h * c.w * c.cin }, () => fill?.input ?? r.int(0, inputMax));
  return { params, input };
}

function bits(a: Uint8Array | Int32Array | Float32Array): number[] {
  return Array.from(a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a);
}

function expectSame(
  c: Case,
  seed: number,
  kind: ConvOutput['kind'],
  kernel: 'plain' | 'relaxed',
  inputMax = kernel === 'relaxed' ? 127 : 255,
  fill?: { input: number; weight: number },
) {
  const { params, input } = makeParams(c, seed, kind, inputMax, fill);
  const conv = kernels.prepareConv(params, { kernel });
  try {
    expect(conv.kernel).toBe(kernel);
    const got = conv.run(input);
    const want = conv2dReference(input, params);
    expect(got.constructor).toBe(want.constructor);
    const g = bits(got);
    const w = bits(want);
    const first = g.findIndex((v, i) => v !== w[i]);
    expect(first, `${c.name} ${kind} ${kernel}: first difference at ${first}`).toBe(-1);
    expect(g.length).toBe(w.length);
    if (kind === 'uint8' && w.length >= 64 && !fill) {
      // The data exercise rounding inside the range as well as both clips.
      const inside = w.filter((v) => v > 0 && v < 255).length;
      expect(inside, `${c.name}: ${inside} of ${w.length} outputs inside (0, 255)`).toBeGreaterThan(w.length / 4);
      expect(w.includes(0)).toBe(true);
    }
  } finally {
    conv.dispose();
  }
}

const cases: Case[] = [
  { name: '1×1 5→3 on 1×1', h: 1, w: 1, cin: 5, cout: 3, k: [1, 1] },
  { name: '1×1 17→13', h: 3, w: 11, cin: 17, cout: 13, k: [1, 1] },
  { name: '1×1 48→48', h: 4, w: 9, cin: 48, cout: 48, k: [1, 1] },
  { name: '3×3 3→8 (first layer)', h: 6, w: 7, cin: 3, cout: 8, k: [3, 3] },
  { name: '3×3 1→1 on 1×1', h: 1, w: 1, cin: 1, cout: 1, k: [3, 3] },
  { name: '3×3 7→11 on 2×3', h: 2, w: 3, cin: 7, cout: 11, k: [3, 3] },
  { name: '3×3 33→20 on 5×9', h: 5, w: 9, cin: 33, cout: 20, k: [3, 3] },
  { name: '3×3 48→48 on 13×21', h: 13, w: 21, cin: 48, cout: 48, k: [3, 3] },
  { name: '3×3 32→48 (to pixel shuffle)', h: 5, w: 6, cin: 32, cout: 48, k: [3, 3] },
  { name: '3×3 16→3 (tail)', h: 7, w: 10, cin: 16, cout: 3, k: [3, 3] },
  { name: '5×5 6→10', h: 6, w: 11, cin: 6, cout: 10, k: [5, 5] },
  { name: '5×5 9→12 on 3×3 (padding wider than the image)', h: 3, w: 3, cin: 9, cout: 12, k: [5, 5] },
  { name: '3×1 10→9', h: 7, w: 5, cin: 10, cout: 9, k: [3, 1] },
  { name: '1×3 9→10', h: 5, w: 7, cin: 9, cout: 10, k: [1, 3] },
  { name: '5×1 12→12', h: 6, w: 4, cin: 12, cout: 12, k: [5, 1] },
  { name: '1×5 12→12', h: 4, w: 9, cin: 12, cout: 12, k: [1, 5] },
  { name: '3×3 groups 2, 8→6', h: 5, w: 6, cin: 8, cout: 6, k: [3, 3], groups: 2 },
  { name: '3×3 groups 3, 9→12 (odd channels per group)', h: 4, w: 7, cin: 9, cout: 12, k: [3, 3], groups: 3 },
  { name: '1×1 groups 4, 16→40', h: 3, w: 5, cin: 16, cout: 40, k: [1, 1], groups: 4 },
  { name: '5×5 groups 2, 14→26', h: 6, w: 5, cin: 14, cout: 26, k: [5, 5], groups: 2 },
  { name: '3×3 depthwise 5', h: 6, w: 9, cin: 5, cout: 5, k: [3, 3], groups: 5 },
  { name: '3×1 groups 6, 12→18', h: 5, w: 4, cin: 12, cout: 18, k: [3, 1], groups: 6 },
  { name: '3×3 stride 2 valid 16→16 (ESA)', h: 9, w: 9, cin: 16, cout: 16, k: [3, 3], stride: 2, padding: 'valid' },
  { name: '3×3 stride 2 valid 5→7 on 8×13', h: 8, w: 13, cin: 5, cout: 7, k: [3, 3], stride: 2, padding: 'valid' },
  { name: '3×3 stride 2 same 6→9', h: 7, w: 10, cin: 6, cout: 9, k: [3, 3], stride: 2 },
  { name: '1×1 stride 2 valid groups 2', h: 5, w: 7, cin: 4, cout: 6, k: [1, 1], stride: 2, padding: 'valid', groups: 2 },
  { name: '3×3 int4 48→48', h: 6, w: 9, cin: 48, cout: 48, k: [3, 3], int4: true },
  { name: '5×5 int4 groups 3, 9→9', h: 5, w: 6, cin: 9, cout: 9, k: [5, 5], groups: 3, int4: true },
  { name: '1×3 int4 7→5', h: 3, w: 6, cin: 7, cout: 5, k: [1, 3], int4: true },
  // Whole tiles (4 and 8 pixels) with each count of a block's last channels, written from registers.
  { name: '3×3 5→1 on 3×16', h: 3, w: 16, cin: 5, cout: 1, k: [3, 3] },
  { name: '1×1 6→2 on 2×17', h: 2, w: 17, cin: 6, cout: 2, k: [1, 1] },
  { name: '1×1 groups 2, 12→6 on 3×16', h: 3, w: 16, cin: 12, cout: 6, k: [1, 1], groups: 2 },
  { name: '1×1 8→4 on 3×16', h: 3, w: 16, cin: 8, cout: 4, k: [1, 1] },
  { name: '1×1 6→5 on 2×12', h: 2, w: 12, cin: 6, cout: 5, k: [1, 1] },
  { name: '3×3 groups 2, 12→12 on 4×12', h: 4, w: 12, cin: 12, cout: 12, k: [3, 3], groups: 2 },
  { name: '3×3 4→7 on 3×9', h: 3, w: 9, cin: 4, cout: 7, k: [3, 3] },
  // Inputs regrouped by vector shuffles: 3 channels padded to 4, 1-channel groups to 2.
  // 3 output channels from 3 or 4 (the pixel-pair kernel; from 1 or 2 the generic one), rows
  // ending in 0-3 extra pixels.
  { name: '3×3 3→3 on 4×19 (HR tail)', h: 4, w: 19, cin: 3, cout: 3, k: [3, 3] },
  { name: '1×1 3→3 on 3×13', h: 3, w: 13, cin: 3, cout: 3, k: [1, 1] },
  { name: '5×5 4→3 on 5×10', h: 5, w: 10, cin: 4, cout: 3, k: [5, 5] },
  { name: '3×3 1→3 on 2×5', h: 2, w: 5, cin: 1, cout: 3, k: [3, 3] },
  { name: '3×3 2→3 on 3×16', h: 3, w: 16, cin: 2, cout: 3, k: [3, 3] },
  { name: '5×5 groups 3, 3→48 on 4×13 (anchor)', h: 4, w: 13, cin: 3, cout: 48, k: [5, 5], groups: 3 },
  // One input channel per group: horizontal tap pairs (odd and even widths, stride 2).
  { name: '1×5 1→4 on 3×9', h: 3, w: 9, cin: 1, cout: 4, k: [1, 5] },
  { name: '3×4 groups 2, 2→6 on 5×11', h: 5, w: 11, cin: 2, cout: 6, k: [3, 4], groups: 2 },
  { name: '5×5 depthwise 6, stride 2', h: 9, w: 14, cin: 6, cout: 6, k: [5, 5], groups: 6, stride: 2 },
  { name: '3×3 groups 4, 4→36 int4', h: 4, w: 10, cin: 4, cout: 36, k: [3, 3], groups: 4, int4: true },
];

const kernelsToTest: ('plain' | 'relaxed')[] = relaxed ? ['plain', 'relaxed'] : ['plain'];

describe.each(kernelsToTest)('%s WASM conv is bit-exact with the reference', (kernel) => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    for (const kind of ['uint8', 'int32', 'float32'] as const) expectSame(c, 1000 + i, kind, kernel);
  });

  it('rounds ties to even and clips to the output bits', () => {
    // M = 0.5 makes every odd accumulator a tie; offsets of .5 make ties of every accumulator.
    const c = { h: 5, w: 6, cin: 3, cout: 6, k: [3, 3] as const };
    const r = seeded(7);
    const weights = Int8Array.from({ length: 6 * 9 * 3 }, () => r.int(-3, 3));
    const input = Uint8Array.from({ length: 5 * 6 * 3 }, () => r.int(0, 9));
    for (const output of [
      { kind: 'uint8', multipliers: [0.5, 0.5, 1, 1, 0.25, -0.5], offsets: [0, 3, 0.5, 1.5, 2, 7.5] },
      { kind: 'uint8', multipliers: [0.5, 1, 2, 4, 8, 16], offsets: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5], min: 0, max: 15 },
      { kind: 'uint8', multipliers: [1, 1, 1, 1, 1, 1], offsets: [0, 0, 0, 0, 0, 0], min: 3, max: 9 },
      { kind: 'float32', multipliers: [0.1, 0.3, 1, -2, 7, 1e-3], offsets: [0, -1, 2, 3, 4, 5], min: -1.5, max: 20 },
    ] as const) {
      const params: ConvParams = {
        height: c.h,
        width: c.w,
        inChannels: c.cin,
        outChannels: c.cout,
        kernel: c.k,
        weights,
        output,
        inputBits: 4,
      };
      const conv = kernels.prepareConv(params, { kernel });
      const got = conv.run(input);
      conv.dispose();
      expect(bits(got)).toEqual(bits(conv2dReference(input, params)));
    }
    // The tie cases are really there.
    const ties = conv2dReference(input, {
      height: c.h,
      width: c.w,
      inChannels: c.cin,
      outChannels: 1,
      kernel: c.k,
      weights: weights.subarray(0, 27),
      output: { kind: 'int32' },
    });
    expect(Array.from(ties).some((acc) => acc % 2 !== 0 && acc > 0)).toBe(true);
  });
});

describe.runIf(relaxed)('relaxed WASM conv with int16 accumulation (low-bit layers)', () => {
  const lowBit: Case[] = [
    { name: '3×3 48→48', h: 7, w: 9, cin: 48, cout: 48, k: [3, 3] },
    { name: '3×3 int4 48→48', h: 7, w: 9, cin: 48, cout: 48, k: [3, 3], int4: true },
    { name: '5×5 int4 groups 2, 14→26', h: 6, w: 5, cin: 14, cout: 26, k: [5, 5], groups: 2, int4: true },
    { name: '1×1 int4 17→13', h: 3, w: 11, cin: 17, cout: 13, k: [1, 1], int4: true },
    { name: '3×3 stride 2 valid 16→16', h: 9, w: 9, cin: 16, cout: 16, k: [3, 3], stride: 2, padding: 'valid' },
  ];
  it.each(lowBit.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    for (const inputMax of [15, 3, 127]) {
      for (const kind of ['uint8', 'int32', 'float32'] as const) expectSame(c, 2000 + i, kind, 'relaxed', inputMax);
    }
  });

  it('stays exact when every int16 sum reaches its bound', () => {
    const c: Case = { name: 'bound', h: 6, w: 7, cin: 48, cout: 16, k: [3, 3] };
    const conv = kernels.prepareConv(makeParams(c, 1, 'int32', 15).params, { kernel: 'relaxed' });
    expect(conv.int16Chunk).toBe(Math.floor(32767 / (2 * 15 * 128)));
    conv.dispose();
    for (const weight of [-128, 127]) expectSame(c, 1, 'int32', 'relaxed', 15, { input: 15, weight });
    for (const weight of [-8, 7]) expectSame({ ...c, int4: true }, 1, 'int32', 'relaxed', 127, { input: 127, weight });
  });
});

describe('WASM conv', () => {
  it('accepts HWIO weights', () => {
    const r = seeded(3);
    const ohwi = Int8Array.from({ length: 6 * 9 * 4 }, () => r.int(-128, 127));
    const hwio = new Int8Array(ohwi.length);
    for (let o = 0; o < 6; o++) for (let t = 0; t < 9; t++) for (let i = 0; i < 4; i++) hwio[(t * 4 + i) * 6 + o] = ohwi[(o * 9 + t) * 4 + i]!;
    const base = { height: 4, width: 5, inChannels: 4, outChannels: 6, kernel: [3, 3] as const, output: { kind: 'int32' as const } };
    const input = Uint8Array.from({ length: 80 }, () => r.int(0, 255));
    const a = kernels.prepareConv({ ...base, weights: ohwi, weightLayout: 'OHWI' }, { kernel: 'plain' });
    const b = kernels.prepareConv({ ...base, weights: hwio, weightLayout: 'HWIO' }, { kernel: 'plain' });
    expect(Array.from(b.run(input))).toEqual(Array.from(a.run(input)));
    a.dispose();
    b.dispose();
  });

  it('names what is wrong with its arguments', () => {
    const base: ConvParams = { height: 2, width: 2, inChannels: 2, outChannels: 2, kernel: [1, 1], weights: new Int8Array(4), output: { kind: 'int32' } };
    expect(() => kernels.prepareConv({ ...base, weights: new Int8Array(3) })).toThrow('expected 4 weights');
    expect(() => kernels.prepareConv({ ...base, output: { kind: 'uint8', multipliers: [1] } })).toThrow('multipliers has 1 values');
    expect(() => kernels.prepareConv({ ...base, output: { kind: 'uint8', multipliers: [1, NaN] } })).toThrow('not a finite float32');
    expect(() => kernels.prepareConv({ ...base, output: { kind: 'uint8', multipliers: [1, 1], max: 256 } })).toThrow('bounds');
    expect(() => kernels.prepareConv(base).run(new Uint8Array(7))).toThrow('input has 7 values');
    const conv = kernels.prepareConv(base);
    conv.dispose();
    expect(() => conv.run(new Uint8Array(8))).toThrow('after dispose');
  });

  it.runIf(relaxed)('refuses inputs over 7 bits on the relaxed kernel', () => {
    const params: ConvParams = {
      height: 1,
      width: 2,
      inChannels: 1,
      outChannels: 1,
      kernel: [1, 1],
      weights: new Int8Array(1),
      output: { kind: 'int32' },
      inputBits: 7,
    };
    const conv = kernels.prepareConv(params, { kernel: 'relaxed' });
    expect(conv.kernel).toBe('relaxed');
    expect(() => conv.run(new Uint8Array([5, 128]))).toThrow('exceeds the declared 7 input bits');
    const wide = kernels.prepareConv({ ...params, width: 50 }, { kernel: 'relaxed' });
    const input = new Uint8Array(50).fill(127);
    input[37] = 200;
    expect(() => wide.run(input)).toThrow('input value 200 exceeds');
    wide.dispose();
    expect(kernels.prepareConv({ ...params, inputBits: 8 }).kernel).toBe('plain');
    expect(() => kernels.prepareConv({ ...params, inputBits: 8 }, { kernel: 'relaxed' })).toThrow('7 bits or fewer');
    conv.dispose();
  });

  it('finds the largest input byte (the relaxed kernel’s input check)', () => {
    const r = seeded(11);
    for (const n of [0, 1, 15, 16, 17, 100, 1000]) {
      for (let trial = 0; trial < 5; trial++) {
        const bytes = Uint8Array.from({ length: n }, () => r.int(0, 100));
        if (n > 0) bytes[r.int(0, n - 1)] = r.int(0, 255);
        const at = kernels.heap.alloc(n);
        kernels.heap.bytes().set(bytes, at);
        expect(kernels.exports.maxU8(at, n)).toBe(n === 0 ? 0 : Math.max(...bytes));
        kernels.heap.release(at);
      }
    }
  });

  it('returns the heap to where it was after dispose', () => {
    const before = kernels.heap.allocated;
    const { params, input } = makeParams({ name: 'x', h: 8, w: 8, cin: 16, cout: 16, k: [3, 3] }, 5, 'uint8', 255);
    const conv = kernels.prepareConv(params);
    conv.run(input);
    conv.dispose();
    // Only the shared workspace (padded image) may remain.
    expect(kernels.heap.allocated - before).toBeLessThanOrEqual(64 * 1024);
  });
});

describe('loadIntegerKernels', () => {
  it('loads from bytes, a compiled module, a path, a URL and a fetch Response', async () => {
    const bytes = await readFile(plainUrl);
    const sources = [
      bytes,
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      await WebAssembly.compile(bytes),
      plainUrl.pathname,
      plainUrl,
      plainUrl.href,
      new Response(bytes, { headers: { 'content-type': 'application/wasm' } }),
      Promise.resolve(new Response(bytes)),
    ];
    for (const source of sources) {
      const k = await loadIntegerKernels({ source });
      expect(k.relaxedSimd).toBe(false);
      const conv = k.prepareConv({
        height: 1,
        width: 1,
        inChannels: 2,
        outChannels: 1,
        kernel: [1, 1],
        weights: new Int8Array([2, -3]),
        output: { kind: 'int32' },
      });
      expect(Array.from(conv.run(new Uint8Array([10, 1])))).toEqual([17]);
    }
  });

  it('takes the relaxed module only where the engine has relaxed SIMD', async () => {
    const off = await loadIntegerKernels({ source: plainUrl, relaxedSource: relaxedUrl, relaxedSimd: 'off' });
    expect(off.relaxedSimd).toBe(false);
    if (relaxed) {
      expect((await loadIntegerKernels({ source: plainUrl, relaxedSource: relaxedUrl, relaxedSimd: 'require' })).relaxedSimd).toBe(true);
    } else {
      await expect(loadIntegerKernels({ relaxedSimd: 'require' })).rejects.toThrow('relaxed SIMD is not supported');
    }
  });
});
