/**
 * Whole-model benchmark: a synthetic rfdn-shaped int8 model (C = 48, 4 cells, ESA, ADQ, x4) on the
 * integer engine against the same graph in float32 on tfjs-wasm (XNNPACK), in the same run; then
 * the engine on 1 and 2 worker threads. Rounds interleave the engines; medians are reported.
 * Usage: node dist/bench-engine.js [--json] [--quick] [--size N]
 *        node dist/bench-engine.js --memory   (peak RSS of a 960×540 → 3840×2160 upscale)
 */
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createSession } from './engine.js';
import { validateArtifact } from './graph.js';
import type { RgbImage } from './image.js';
import { syntheticRfdn } from './synthetic-model.js';
import { createTfjsEngine, type Tf as TfNamespace } from './tfjs-engine.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const sizeArg = args.indexOf('--size');
const SIZE = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 128;
const ROUNDS = quick ? 2 : 5;
const log = (...a: unknown[]) => console.error(...a);

function image(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return { width, height, channels: 3, data };
}

type Tf = typeof import('@tensorflow/tfjs');

async function loadTf(): Promise<Tf> {
  const quiet = console.log;
  console.log = log;
  try {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dir.endsWith('/dist') ? `${dir}/` : join(dir, 'dist') + '/');
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend did not initialise');
    await tf.ready();
    return tf;
  } finally {
    console.log = quiet;
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function speed() {
  const model = syntheticRfdn({ channels: 48, cells: 4, scale: 4, bits: 'int8', seed: 1 });
  const graph = validateArtifact(model);
  const macs = graph.header.metadata!.cost!.macsPerLrPixel! * SIZE * SIZE;
  const lr = image(SIZE, SIZE);
  const tf = await loadTf();
  // The same graph in float32 on tfjs (dequantized weights, quantize layers as their ReLU/clip): what a float deployment computes.
  const floatEngine = await createTfjsEngine(tf as unknown as TfNamespace, graph, 'fp32');
  const x = tf.tensor4d(
    Float32Array.from(lr.data, (v) => v / 255),
    [1, SIZE, SIZE, 3],
  );
  const one = await createSession(model, { threads: 1 });
  const two = await createSession(model, { threads: 2 });
  const engines: [string, () => Promise<unknown>][] = [
    ['int8 1 thread', () => one.upscale(lr)],
    [
      'fp32 tfjs-wasm',
      async () => {
        const y = await floatEngine.forward(x as unknown as Parameters<typeof floatEngine.forward>[0]);
        await y.data();
        y.dispose();
      },
    ],
    ['int8 2 threads', () => two.upscale(lr)],
  ];
  for (const [, f] of engines) await f();
  const times = new Map<string, number[]>(engines.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, f] of engines) {
      const t0 = performance.now();
      await f();
      times.get(name)!.push(performance.now() - t0);
    }
  }
  await one.dispose();
  await two.dispose();
  const int8 = median(times.get('int8 1 thread')!);
  const fp32 = median(times.get('fp32 tfjs-wasm')!);
  const int8x2 = median(times.get('int8 2 threads')!);
  const report = {
    model: `synthetic rfdn C=48, 4 cells, ESA + ADQ, int8, x4; ${SIZE}×${SIZE} → ${SIZE * 4}×${SIZE * 4}`,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    rounds: ROUNDS,
    gmacs: macs / 1e9,
    results: [
      { int8_ms: int8, fp32_ms: fp32, speedup: fp32 / int8, gops: (2 * macs) / int8 / 1e6, threads: 1 },
      { int8_ms: int8x2, fp32_ms: fp32, speedup: fp32 / int8x2, gops: (2 * macs) / int8x2 / 1e6, threads: 2 },
    ],
    threadSpeedup: int8 / int8x2,
    perRoundMs: Object.fromEntries(times),
  };
  console.log(json ? JSON.stringify(report, null, 2) : report);
}

/** Peak RSS of one 960×540 x4 upscale with a small model, in a fresh process. */
async function memory() {
  const model = syntheticRfdn({ channels: 24, cells: 2, scale: 4, bits: 'int8', seed: 1 });
  const session = await createSession(model, { threads: 1 });
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const out = await session.upscale(image(960, 540));
  const ms = performance.now() - t0;
  const report = {
    model: 'synthetic rfdn C=24, 2 cells, ESA + ADQ, int8, x4',
    image: `960×540 → ${out.width}×${out.height}`,
    tile: session.info.tile,
    ms,
    rssBeforeMiB: before / 2 ** 20,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  console.log(json ? JSON.stringify(report, null, 2) : report);
  await session.dispose();
}

await (args.includes('--memory') ? memory() : speed());
