/**
 * Benchmark of the integer conv kernel against references measured in the same run, one thread
 * each: float32 tfjs-wasm (XNNPACK) and onnxruntime-web's int8 QLinearConv. Rounds interleave
 * the engines so that load from other processes hits all of them alike; ratios are taken within a
 * round. Usage: node dist/bench.js [--json] [--quick]
 * (add --experimental-wasm-relaxed-simd on Node 20 to include the relaxed-SIMD kernel).
 */
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { conv2dReference } from './conv-reference.js';
import type { ConvParams } from './conv-spec.js';
import { qlinearConvModel } from './onnx-qlinearconv.js';
import { loadIntegerKernels, type WasmConv } from './wasm-kernels.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const ROUND_SECONDS = quick ? 0.1 : 0.25;
const CHANNELS = 48;
const KERNEL = 3;
const SIZES = [128, 256];

// Library banners go to stderr so that --json prints JSON only.
const log = (...args: unknown[]) => console.error(...args);

interface Engine {
  readonly name: string;
  /** One conv; resolves when its output is complete. */
  readonly run: () => void | Promise<unknown>;
  readonly dispose: () => void;
}

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** A layer with realistic numbers: 8-bit activations, per-channel int8 weights, HWGQ 8-bit output. */
function makeLayer(size: number) {
  const random = seeded(size);
  const c = CHANNELS;
  const ohwi = Int8Array.from({ length: c * KERNEL * KERNEL * c }, () => Math.round((random() - 0.5) * 200));
  const input = Uint8Array.from({ length: size * size * c }, () => Math.floor(random() * 256));
  const inputScale = 0.020301; // HWGQ 8-bit step (docs/method.md §4.1)
  const weightScales = Float32Array.from({ length: c }, () => 0.0005 + random() * 0.001);
  // Output step chosen so that the uint8 outputs spread over the range (and some clip).
  const outputScale = inputScale * 3;
  // As onnxruntime forms its requantization scale: float32 products and quotient.
  const f = Math.fround;
  const multipliers = Float32Array.from(weightScales, (s) => f(f(f(inputScale) * s) / f(outputScale)));
  const params: ConvParams = {
    height: size,
    width: size,
    inChannels: c,
    outChannels: c,
    kernel: [KERNEL, KERNEL],
    weights: ohwi,
    output: { kind: 'uint8', multipliers, offsets: new Float32Array(c) },
  };
  return { params, input, ohwi, inputScale, weightScales, outputScale };
}

type Layer = ReturnType<typeof makeLayer>;

async function int8Engines(layer: Layer): Promise<{ engines: Engine[]; conv: WasmConv; relaxed: boolean }> {
  const kernels = await loadIntegerKernels();
  const conv = kernels.prepareConv(layer.params, { kernel: 'plain' });
  const inputAt = kernels.heap.alloc(conv.inputBytes);
  const outputAt = kernels.heap.alloc(conv.outputBytes);
  kernels.heap.bytes().set(layer.input, inputAt);
  const engines: Engine[] = [
    { name: 'int8 wasm (in heap)', run: () => conv.runAt(inputAt, outputAt), dispose: () => {} },
    { name: 'int8 wasm (copy in/out)', run: () => conv.run(layer.input), dispose: () => conv.dispose() },
  ];
  if (kernels.relaxedSimd) {
    // The relaxed kernel takes 7-bit inputs: the same layer with the low bit dropped; and a 4-bit
    // layer (4-bit activations × int4 weights, as the searched layers), where it sums in int16.
    const variants = [
      { name: 'int8 wasm relaxed, 7-bit input (in heap)', bits: 7, weights: layer.ohwi, input: layer.input.map((v) => v >> 1) },
      { name: 'int8 wasm relaxed, 4-bit in × int4 w (in heap)', bits: 4, weights: layer.ohwi.map((v) => v >> 4), input: layer.input.map((v) => v >> 4) },
      { name: 'int8 wasm plain, 4-bit in × int4 w (in heap)', bits: 4, weights: layer.ohwi.map((v) => v >> 4), input: layer.input.map((v) => v >> 4) },
    ];
    for (const v of variants) {
      const c = kernels.prepareConv({ ...layer.params, weights: v.weights, inputBits: v.bits }, { kernel: v.name.includes('relaxed') ? 'relaxed' : 'plain' });
      const at = kernels.heap.alloc(c.inputBytes);
      const out = kernels.heap.alloc(c.outputBytes);
      kernels.heap.bytes().set(v.input, at);
      engines.push({ name: v.name, run: () => c.runAt(at, out), dispose: () => c.dispose() });
    }
  }
  return { engines, conv, relaxed: kernels.relaxedSimd };
}

type Tf = typeof import('@tensorflow/tfjs');

async function loadTf(): Promise<Tf | string> {
  const quiet = console.log;
  console.log = log;
  try {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dir.endsWith('/dist') ? `${dir}/` : join(dir, 'dist') + '/');
    if (!(await tf.setBackend('wasm'))) return 'tfjs wasm backend did not initialise';
    await tf.ready();
    return tf;
  } catch (error) {
    return `tfjs-backend-wasm unavailable: ${(error as Error).message}`;
  } finally {
    console.log = quiet;
  }
}

function tfEngine(tf: Tf, layer: Layer, size: number): Engine {
  const c = CHANNELS;
  const x = tf.tensor4d(
    Float32Array.from(layer.input, (v) => v * layer.inputScale),
    [1, size, size, c],
  );
  // tfjs filters are HWIO.
  const hwio = new Float32Array(layer.ohwi.length);
  for (let o = 0; o < c; o++) {
    for (let t = 0; t < KERNEL * KERNEL; t++) {
      for (let i = 0; i < c; i++) hwio[(t * c + i) * c + o] = layer.ohwi[(o * KERNEL * KERNEL + t) * c + i]! * layer.weightScales[o]!;
    }
  }
  const w = tf.tensor4d(hwio, [KERNEL, KERNEL, c, c]);
  return {
    name: 'fp32 tfjs-wasm',
    // The wasm backend computes synchronously; disposing keeps memory flat.
    run: () => tf.conv2d(x, w, 1, 'same').dispose(),
    dispose: () => {
      x.dispose();
      w.dispose();
    },
  };
}

type Ort = typeof import('onnxruntime-web');

async function loadOrt(): Promise<Ort | string> {
  try {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  } catch (error) {
    return `onnxruntime-web unavailable: ${(error as Error).message}`;
  }
}

async function ortEngine(ort: Ort, layer: Layer, size: number): Promise<{ engine: Engine; output: () => Promise<Uint8Array> }> {
  const c = CHANNELS;
  const oihw = new Int8Array(layer.ohwi.length);
  for (let o = 0; o < c; o++) {
    for (let t = 0; t < KERNEL * KERNEL; t++) {
      for (let i = 0; i < c; i++) oihw[(o * c + i) * KERNEL * KERNEL + t] = layer.ohwi[(o * KERNEL * KERNEL + t) * c + i]!;
    }
  }
  const model = qlinearConvModel({
    height: size,
    width: size,
    inChannels: c,
    outChannels: c,
    kernel: KERNEL,
    weights: oihw,
    inputScale: layer.inputScale,
    weightScales: layer.weightScales,
    outputScale: layer.outputScale,
  });
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const nchw = new Uint8Array(layer.input.length);
  for (let p = 0; p < size * size; p++) for (let i = 0; i < c; i++) nchw[i * size * size + p] = layer.input[p * c + i]!;
  const feeds = { x: new ort.Tensor('uint8', nchw, [1, c, size, size]) };
  return {
    engine: {
      name: 'int8 onnxruntime-web QLinearConv',
      run: async () => {
        const result = await session.run(feeds);
        result.y!.dispose();
      },
      dispose: () => void session.release(),
    },
    output: async () => {
      const y = (await session.run(feeds)).y!;
      const chw = y.data as Uint8Array;
      const hwc = new Uint8Array(chw.length);
      for (let p = 0; p < size * size; p++) for (let i = 0; i < c; i++) hwc[p * c + i] = chw[i * size * size + p]!;
      y.dispose();
      return hwc;
    },
  };
}

/** Seconds per run: enough repetitions to fill ROUND_SECONDS. */
async function time(engine: Engine, estimate: number): Promise<number> {
  const n = Math.max(2, Math.round(ROUND_SECONDS / estimate));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await engine.run();
  return (performance.now() - t0) / 1000 / n;
}

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function stat(values: number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, min: s[0]!, max: s[s.length - 1]! };
}

async function main() {
  const tf = await loadTf();
  const ort = await loadOrt();
  const shapes = [];
  for (const size of SIZES) {
    const layer = makeLayer(size);
    const ops = 2 * size * size * CHANNELS * CHANNELS * KERNEL * KERNEL;
    const { engines, conv } = await int8Engines(layer);
    const notes: string[] = [];
    if (typeof tf === 'string') notes.push(tf);
    else engines.push(tfEngine(tf, layer, size));
    let ortOutput: (() => Promise<Uint8Array>) | undefined;
    if (typeof ort === 'string') notes.push(ort);
    else {
      try {
        const o = await ortEngine(ort, layer, size);
        engines.push(o.engine);
        ortOutput = o.output;
      } catch (error) {
        notes.push(`onnxruntime-web failed: ${(error as Error).message}`);
      }
    }
    // Agreement: the kernel must equal the reference; onnxruntime's fixed-point requantization may differ by 1.
    const ours = conv.run(layer.input) as Uint8Array;
    const agreement: Record<string, unknown> = {};
    if (size === SIZES[0]) {
      const reference = conv2dReference(layer.input, layer.params) as Uint8Array;
      agreement.referenceBitExact = reference.every((v, i) => v === ours[i]);
    }
    if (ortOutput) {
      const theirs = await ortOutput();
      let maxDiff = 0;
      let differ = 0;
      theirs.forEach((v, i) => {
        const d = Math.abs(v - ours[i]!);
        if (d > 0) differ++;
        if (d > maxDiff) maxDiff = d;
      });
      agreement.onnxruntimeMaxDiff = maxDiff;
      agreement.onnxruntimeDiffering = `${differ} of ${ours.length} outputs`;
    }
    // Warm-up: lets V8 tier the kernels up to its optimising compiler.
    const estimates = new Map<Engine, number>();
    for (const engine of engines) {
      for (let i = 0; i < 3; i++) await engine.run();
      const t0 = performance.now();
      await engine.run();
      estimates.set(engine, (performance.now() - t0) / 1000);
    }
    const seconds = new Map<Engine, number[]>(engines.map((e) => [e, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const engine of engines) seconds.get(engine)!.push(await time(engine, estimates.get(engine)!));
    }
    const results = engines.map((engine) => {
      const s = seconds.get(engine)!;
      return { engine: engine.name, gops: stat(s.map((t) => ops / t / 1e9)), ms: stat(s.map((t) => t * 1000)) };
    });
    const ratio = (a: string, b: string) => {
      const x = seconds.get(engines.find((e) => e.name === a)!);
      const y = seconds.get(engines.find((e) => e.name === b)!);
      return x && y ? stat(x.map((t, i) => y[i]! / t)) : undefined;
    };
    const ratios: Record<string, Stat | undefined> = {
      'int8 wasm / fp32 tfjs-wasm': ratio('int8 wasm (in heap)', 'fp32 tfjs-wasm'),
      'int8 wasm / int8 onnxruntime-web': ratio('int8 wasm (copy in/out)', 'int8 onnxruntime-web QLinearConv'),
    };
    for (const key of Object.keys(ratios)) if (!ratios[key]) delete ratios[key];
    for (const engine of engines) engine.dispose();
    shapes.push({ shape: `3x3 conv ${CHANNELS}->${CHANNELS}, ${size}x${size}`, gigaOps: ops / 1e9, results, ratios, agreement, notes });
  }
  const report = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    threads: 1,
    rounds: ROUNDS,
    shapes,
  };
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const f = (s: Stat, digits = 1) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  console.log(`node ${report.node}, ${report.cpu}, one thread, ${ROUNDS} rounds: median (min–max)`);
  for (const s of shapes) {
    console.log(`\n${s.shape} (${s.gigaOps.toFixed(2)} G ops, 2 per MAC)`);
    for (const r of s.results) console.log(`  ${r.engine.padEnd(48)} ${f(r.gops).padStart(20)} G op/s   ${f(r.ms, 2).padStart(22)} ms`);
    for (const [name, r] of Object.entries(s.ratios)) console.log(`  ratio ${name.padEnd(42)} ${f(r!, 2)}`);
    for (const [name, v] of Object.entries(s.agreement)) console.log(`  ${name}: ${typeof v === 'number' ? +v.toFixed(4) : v}`);
    for (const note of s.notes) console.log(`  note: ${note}`);
  }
}

await main();
