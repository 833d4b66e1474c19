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
import { validateArtifact, type ModelGraph } from './graph.js';
import type { RgbImage } from './image.js';
import { syntheticRfdn } from './synthetic-model.js';

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

/**
 * The graph in float32 on tfjs: dequantized weights, quantize layers as their ReLU/clip (no
 * rounding), σ with tf.moments. What a float deployment of the same network computes.
 */
function tfModel(tf: Tf, graph: ModelGraph) {
  const weights = new Map<number, { filter: import('@tensorflow/tfjs').Tensor4D; bias: import('@tensorflow/tfjs').Tensor1D }>();
  for (const gl of graph.layers) {
    const layer = gl.layer;
    if (layer.op !== 'conv' || !gl.conv) continue;
    const cin = graph.tensors.get(layer.inputs[0]!)!.info.channels;
    const cout = gl.conv.multipliers.length;
    const [kh, kw] = layer.kernel;
    const inG = cin / layer.groups;
    // A grouped conv as one dense conv with a block-diagonal filter (tfjs has no groups).
    const hwio = new Float32Array(kh * kw * cin * cout);
    const outInfo = graph.tensors.get(layer.output)!.info;
    const sy = outInfo.dtype === 'uint8' ? outInfo.step : 1;
    const inStep = (graph.tensors.get(layer.inputs[0]!)!.info as { step: number }).step;
    for (let o = 0; o < cout; o++) {
      const g = Math.floor(o / (cout / layer.groups));
      const scale = (gl.conv.multipliers[o]! * sy) / inStep;
      for (let t = 0; t < kh * kw; t++) {
        for (let i = 0; i < inG; i++) hwio[(t * cin + g * inG + i) * cout + o] = gl.conv.weights[(o * kh * kw + t) * inG + i]! * scale;
      }
    }
    weights.set(gl.index, {
      filter: tf.tensor4d(hwio, [kh, kw, cin, cout]),
      bias: tf.tensor1d(Float32Array.from(gl.conv.offsets, (b) => b * sy)),
    });
  }
  const affine = new Map(graph.layers.filter((l) => l.affine).map((l) => [l.index, { scale: tf.tensor1d(l.affine!.scale), shift: tf.tensor1d(l.affine!.shift) }]));
  return (input: import('@tensorflow/tfjs').Tensor4D) =>
    tf.tidy(() => {
      const values = new Map<string, import('@tensorflow/tfjs').Tensor4D>([[graph.header.input, input]]);
      for (const gl of graph.layers) {
        const l = gl.layer;
        const x = values.get(l.inputs[0]!)!;
        let y: import('@tensorflow/tfjs').Tensor4D;
        switch (l.op) {
          case 'conv': {
            const w = weights.get(gl.index)!;
            y = tf.add(tf.conv2d(x, w.filter, l.stride, l.padding), w.bias);
            const info = graph.tensors.get(l.output)!.info;
            if (info.dtype === 'uint8') y = tf.clipByValue(y, 0, info.step * (2 ** info.bits - 1));
            break;
          }
          case 'add': y = tf.add(x, values.get(l.inputs[1]!)!); break;
          case 'mul': y = tf.mul(x, values.get(l.inputs[1]!)!); break;
          case 'concat': y = tf.concat(l.inputs.map((n) => values.get(n)!), 3); break;
          case 'pixel_shuffle': {
            const [, h, w, c] = x.shape;
            const r = l.factor;
            y = tf.reshape(tf.transpose(tf.reshape(x, [1, h, w, c / (r * r), r, r]), [0, 1, 4, 2, 5, 3]), [1, h * r, w * r, c / (r * r)]);
            break;
          }
          case 'repeat_channels': y = tf.tile(x, [1, 1, 1, l.times]); break;
          case 'max_pool': y = tf.maxPool(x, l.kernel, l.stride, 'valid'); break;
          case 'bilinear_resize': {
            const like = values.get(l.sizeOf)!;
            y = tf.image.resizeBilinear(x, [like.shape[1], like.shape[2]], false, true);
            break;
          }
          case 'sigmoid': y = tf.sigmoid(x); break;
          case 'clamp': y = tf.clipByValue(x, l.min, l.max); break;
          case 'adq_scale': {
            const sigma = tf.sqrt(tf.moments(values.get(l.statisticsOf)!).variance);
            y = tf.mul(x, tf.add(tf.mul(sigma, l.slope), l.offset));
            break;
          }
          case 'affine': {
            const a = affine.get(gl.index)!;
            y = tf.add(tf.mul(x, a.scale), a.shift);
            break;
          }
          case 'quantize': {
            const info = graph.tensors.get(l.output)!.info as { step: number; bits: number };
            y = tf.clipByValue(x, 0, info.step * (2 ** info.bits - 1));
            break;
          }
        }
        values.set(l.output, y);
      }
      return values.get(graph.header.output)!;
    });
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
  const run = tfModel(tf, graph);
  const x = tf.tensor4d(Float32Array.from(lr.data, (v) => v / 255), [1, SIZE, SIZE, 3]);
  const one = await createSession(model, { threads: 1 });
  const two = await createSession(model, { threads: 2 });
  const engines: [string, () => Promise<unknown>][] = [
    ['int8 1 thread', () => one.upscale(lr)],
    ['fp32 tfjs-wasm', async () => {
      const y = run(x);
      await y.data();
      y.dispose();
    }],
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
    node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), rounds: ROUNDS,
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
    image: `960×540 → ${out.width}×${out.height}`, tile: session.info.tile, ms,
    rssBeforeMiB: before / 2 ** 20, peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  console.log(json ? JSON.stringify(report, null, 2) : report);
  await session.dispose();
}

await (args.includes('--memory') ? memory() : speed());
