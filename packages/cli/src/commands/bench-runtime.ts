import { Command } from 'commander';
import type { RgbImage, Session } from '@quantnas/runtime';
import { UsageError, type CliIo } from '../io.js';
import { loadModelFile } from '../model-file.js';
import { parseInteger } from '../options.js';
import { runtimeFiles } from '../runtime-files.js';
import { renderTable } from '../table.js';

interface RuntimeBenchOptions {
  model: string;
  size: string;
  threads: string;
  tile: string;
  rounds: string;
  profile?: boolean;
  json?: boolean;
}

/** What `--json` prints. */
export interface RuntimeBenchResult {
  readonly model: string;
  readonly scale: number;
  readonly size: readonly [number, number];
  readonly output: readonly [number, number];
  readonly rounds: number;
  readonly macs: number;
  /** int8 engine, 1 thread, median ms per upscale. */
  readonly int8_ms: number;
  /** fp32 tfjs-wasm engine, median ms per upscale. */
  readonly fp32_ms: number;
  /** fp32_ms / int8_ms (1 thread). */
  readonly speedup: number;
  /** 2·MACs per second of the int8 engine on 1 thread, in G op/s. */
  readonly gops: number;
  readonly fp32_gops: number;
  readonly threads: number;
  /** With threads > 1: the int8 engine on that many worker threads. */
  readonly int8_threads_ms?: number;
  readonly threads_gops?: number;
  /** fp32_ms / int8_threads_ms. */
  readonly speedup_threads?: number;
  /** int8_ms / int8_threads_ms. */
  readonly thread_scaling?: number;
  readonly tile: number;
  readonly relaxed_simd: boolean;
  /** PSNR (RGB, dB) of the int8 output against the fp32 output: how much the quantization changes the image. */
  readonly int8_vs_fp32_psnr: number | null;
  readonly per_round_ms: Readonly<Record<string, number[]>>;
  /** With --profile: where one thread's upscale spends its time, per layer type and the slowest layers (ms per upscale). */
  readonly profile?: {
    readonly total_ms: number;
    /** Outside every layer: copies between passes, whole-image statistics, planning. */
    readonly rest_ms: number;
    readonly by_op: Readonly<Record<string, number>>;
    readonly layers: readonly { readonly id: string; readonly op: string; readonly ms: number }[];
  };
}

export function runtimeBenchCommand(io: CliIo): Command {
  return new Command('runtime')
    .summary('an exported model on the int8 engine against the same network in fp32 on tfjs-wasm')
    .description(
      'Times one upscale of a SIZE×SIZE image (a fixed pseudo-random pattern) with an exported model ' +
        "(.qnas) on the runtime's integer WASM engine (1 thread, and --threads worker threads when more " +
        'than 1) and with the same network in float32 on tfjs-wasm (XNNPACK, one thread; weights ' +
        'dequantized, quantizers as their ReLU/clip, untiled), in the same run: rounds interleave the ' +
        'engines after one untimed warm-up each, and medians are reported. Each time is bytes in to bytes ' +
        "out. G op/s counts 2 ops per MAC (the model's MACs per LR pixel × pixels). Compare ratios within " +
        'one run: on a shared machine absolute times vary.',
    )
    .requiredOption('--model <file>', 'exported model (.qnas)')
    .option('--size <n>', 'LR image side in pixels', '128')
    .option('--threads <n>', 'also time the int8 engine on n worker threads (n > 1)', '1')
    .option('--tile <n>', 'tile edge of the int8 engine in LR pixels', '128')
    .option('--rounds <n>', 'timed rounds per engine', '3')
    .option('--profile', "then time every layer of the int8 engine's one-thread upscale (--rounds upscales): time per layer type and the slowest layers")
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: RuntimeBenchOptions) => {
      const size = parseInteger(options.size, '--size', 1);
      const threads = parseInteger(options.threads, '--threads', 1, 64);
      const tile = parseInteger(options.tile, '--tile', 1);
      const rounds = parseInteger(options.rounds, '--rounds', 1);
      const result = await benchRuntime(io, { model: options.model, size, threads, tile, rounds, profile: options.profile === true });
      if (options.json) io.stdout(JSON.stringify(result) + '\n');
      else io.stdout(formatRuntimeBench(result));
    })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

/** A fixed pseudo-random RGB image (the runtime benchmark's pattern). */
export function benchImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return { width, height, channels: 3, data };
}

export const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function rgbPsnr(a: Uint8Array, b: Uint8Array): number | null {
  if (a.length !== b.length || a.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum === 0 ? null : 10 * Math.log10((255 * 255 * a.length) / sum);
}

async function benchRuntime(
  io: CliIo,
  o: { model: string; size: number; threads: number; tile: number; rounds: number; profile: boolean },
): Promise<RuntimeBenchResult> {
  const { artifact, graph } = await loadModelFile(o.model);
  const runtime = await import('@quantnas/runtime');
  const { createTfjsEngine, graphMacs } = await import('../tfjs-engine.js');
  const image = benchImage(o.size, o.size);
  const scale = graph.header.scale;
  let macs: number;
  try {
    macs = graphMacs(graph, o.size, o.size);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`--size ${o.size}: ${error.message}`);
    throw error;
  }

  const sessions: Session[] = [];
  const fp32 = await createTfjsEngine(graph, 'fp32');
  try {
    const one = await runtime.createSession(artifact, { threads: 1, tile: o.tile, ...runtimeFiles() });
    sessions.push(one);
    const many = o.threads > 1 ? await runtime.createSession(artifact, { threads: o.threads, tile: o.tile, ...runtimeFiles() }) : undefined;
    if (many) sessions.push(many);
    const stated = one.info.macsPerLrPixel;
    if (stated !== undefined) macs = stated * o.size * o.size;
    const engines: [string, () => Promise<RgbImage>][] = [
      ['int8 1 thread', () => one.upscale(image)],
      ['fp32 tfjs-wasm', () => fp32.upscale(image)],
      ...(many ? ([[`int8 ${o.threads} threads`, () => many.upscale(image)]] as [string, () => Promise<RgbImage>][]) : []),
    ];
    if (io.interactive) io.stderr(`warming up, then ${o.rounds} rounds of ${engines.length} engines at ${o.size}×${o.size}...\n`);
    const last = new Map<string, RgbImage>();
    for (const [name, run] of engines) last.set(name, await run());
    const times = new Map<string, number[]>(engines.map(([name]) => [name, []]));
    for (let round = 0; round < o.rounds; round++) {
      for (const [name, run] of engines) {
        const t0 = performance.now();
        await run();
        times.get(name)!.push(performance.now() - t0);
      }
    }
    let profile: RuntimeBenchResult['profile'];
    if (o.profile) {
      const profiled = await runtime.createSession(artifact, { tile: o.tile, profile: true, ...runtimeFiles() });
      sessions.push(profiled);
      await profiled.upscale(image);
      profiled.resetProfile();
      for (let round = 0; round < o.rounds; round++) await profiled.upscale(image);
      const p = profiled.profile();
      const per = (ms: number) => Math.round((ms / p.upscales) * 100) / 100;
      const byOp = new Map<string, number>();
      for (const l of p.layers) byOp.set(l.op, (byOp.get(l.op) ?? 0) + l.ms);
      const inLayers = p.layers.reduce((a, l) => a + l.ms, 0);
      profile = {
        total_ms: per(p.totalMs),
        rest_ms: per(p.totalMs - inLayers),
        by_op: Object.fromEntries([...byOp].sort((a, b) => b[1] - a[1]).map(([op, ms]) => [op, per(ms)])),
        layers: [...p.layers]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 10)
          .map((l) => ({ id: l.id, op: l.op, ms: per(l.ms) })),
      };
    }
    const int8 = median(times.get('int8 1 thread')!);
    const float = median(times.get('fp32 tfjs-wasm')!);
    const multi = many ? median(times.get(`int8 ${o.threads} threads`)!) : undefined;
    const gops = (ms: number) => (2 * macs) / ms / 1e6;
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    return {
      model: o.model,
      scale,
      size: [o.size, o.size],
      output: [o.size * scale, o.size * scale],
      rounds: o.rounds,
      macs,
      int8_ms: r3(int8),
      fp32_ms: r3(float),
      speedup: r3(float / int8),
      gops: r3(gops(int8)),
      fp32_gops: r3(gops(float)),
      threads: o.threads,
      ...(multi !== undefined
        ? { int8_threads_ms: r3(multi), threads_gops: r3(gops(multi)), speedup_threads: r3(float / multi), thread_scaling: r3(int8 / multi) }
        : {}),
      tile: o.tile,
      relaxed_simd: one.info.relaxedSimd,
      int8_vs_fp32_psnr: (() => {
        const p = rgbPsnr(last.get('int8 1 thread')!.data, last.get('fp32 tfjs-wasm')!.data);
        return p === null ? null : Math.round(p * 100) / 100;
      })(),
      per_round_ms: Object.fromEntries([...times].map(([name, v]) => [name, v.map((t) => Math.round(t * 10) / 10)])),
      ...(profile ? { profile } : {}),
    };
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`--size ${o.size}: ${error.message}`);
    throw error;
  } finally {
    fp32.dispose();
    for (const s of sessions) await s.dispose();
  }
}

function formatRuntimeBench(r: RuntimeBenchResult): string {
  const row = (name: string, ms: number, gops: number, vs: number) => [name, ms.toFixed(1), gops.toFixed(2), `${vs.toFixed(2)}×`];
  const rows = [row('int8 WASM engine, 1 thread', r.int8_ms, r.gops, r.speedup)];
  if (r.int8_threads_ms !== undefined) rows.push(row(`int8 WASM engine, ${r.threads} threads`, r.int8_threads_ms, r.threads_gops!, r.speedup_threads!));
  rows.push(row('fp32 tfjs-wasm, same network', r.fp32_ms, r.fp32_gops, 1));
  let text =
    `${r.model}: x${r.scale}, ${r.size[0]}×${r.size[1]} → ${r.output[0]}×${r.output[1]}, ${(r.macs / 1e9).toFixed(3)} G MACs; ` +
    `medians of ${r.rounds} interleaved round${r.rounds === 1 ? '' : 's'} (tile ${r.tile}${r.relaxed_simd ? ', relaxed SIMD' : ''})\n` +
    renderTable(['engine', 'ms', 'G op/s', 'vs fp32'], rows);
  text += `int8 is ${r.speedup.toFixed(2)}× as fast as fp32 tfjs-wasm on 1 thread`;
  if (r.thread_scaling !== undefined) text += `; ${r.threads} threads: ${r.speedup_threads!.toFixed(2)}× (${r.thread_scaling.toFixed(2)}× the 1-thread rate)`;
  text += '\n';
  if (r.int8_vs_fp32_psnr !== null) text += `int8 output vs fp32 output: ${r.int8_vs_fp32_psnr.toFixed(2)} dB PSNR (RGB)\n`;
  if (r.profile) {
    const p = r.profile;
    const share = (ms: number) => `${((ms / p.total_ms) * 100).toFixed(0)} %`;
    text +=
      `\nwhere one thread's upscale goes (profiled, ${p.total_ms.toFixed(1)} ms per upscale):\n` +
      renderTable(
        ['layer type', 'ms', 'share'],
        [...Object.entries(p.by_op).map(([op, ms]) => [op, ms.toFixed(2), share(ms)]), ['(between layers)', p.rest_ms.toFixed(2), share(p.rest_ms)]],
      ) +
      'slowest layers:\n' +
      renderTable(
        ['layer', 'type', 'ms', 'share'],
        p.layers.map((l) => [l.id, l.op, l.ms.toFixed(2), share(l.ms)]),
      );
  }
  return text;
}
