import type { LayerOp } from './artifact-header.js';
import { decodeArtifact, type ModelArtifact } from './container.js';
import type { InferenceEvent } from './events.js';
import { adqPhi, inferSizes, validateArtifact, type ModelGraph } from './graph.js';
import { checkImage, type RgbImage } from './image.js';
import { layOutPasses } from './memory-budget.js';
import { planGraph, type Plan, type Rect, type Statistic } from './plan.js';
import { TileExecutor, type Bands, type Piece, type RunContext } from './tile-executor.js';
import type { PassContext, SharedBands, SharedStore, TilePool } from './tile-pool.js';
import { IntegerKernels, loadIntegerKernels, type LoadKernelsOptions } from './wasm-kernels.js';

/** f32(b / 255) for every byte b: the input image's values. */
const BYTE_VALUES = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/**
 * The integer engine: a validated model, planned into passes (plan.ts), run tile by tile on the
 * WASM kernels, on this thread or on a pool of workers. Nothing here depends on Node; the worker
 * pool for Node lives in node-pool.ts and is loaded only when threads > 1.
 */

export interface SessionOptions {
  /** Workers, each with its own kernel instance (Node worker_threads); default 1 (this thread). */
  readonly threads?: number;
  /** Tile edge in input (LR) pixels; default 128. The output does not depend on it. */
  readonly tile?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: InferenceEvent) => void;
  /** A loaded kernel instance (this thread only), or where to load the kernels from (also for workers). */
  readonly kernels?: IntegerKernels | LoadKernelsOptions;
  /** Worker script for threads > 1; default engine-worker.js next to this module. */
  readonly workerUrl?: URL | string;
  /**
   * 'fast' (default): tensors that later passes read are stored whole, so each layer runs once;
   * memory grows with the image. 'bounded': nothing on the image's grids is stored but the input,
   * later passes compute again what they need, tile by tile: peak memory set by the tile, not the
   * image, at the cost of time (1.3× to 5× on the models measured). `quantnas upscale` picks
   * 'bounded' when the fast plan's whole-image buffers would pass its budget.
   */
  readonly memory?: 'fast' | 'bounded';
  /**
   * Time every layer (Session.profile): for finding where an upscale's time goes and for latency
   * tables. The outputs do not change; needs threads 1 (the layers of a pool run in its workers).
   */
  readonly profile?: boolean;
}

/** The time an upscale spent in one layer of the graph. */
export interface LayerTime {
  readonly index: number;
  readonly id: string;
  readonly op: LayerOp;
  readonly ms: number;
}

/** What a profiling session measured since it started or since its last resetProfile(). */
export interface SessionProfile {
  readonly upscales: number;
  /** Wall time of those upscales; what the layers leave (copies between passes, statistics, planning) is the rest. */
  readonly totalMs: number;
  /** Every layer in graph order; a layer fused into another reads 0 and its time is in that one. */
  readonly layers: readonly LayerTime[];
}

export interface UpscaleOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: InferenceEvent) => void;
}

export interface SessionInfo {
  readonly engine: 'wasm-int8';
  readonly scale: number;
  readonly layers: number;
  readonly convs: number;
  /** Sweeps over the image per upscale (cuts at whole-image statistics and strided branches). */
  readonly passes: number;
  /** The plan's trade between memory and time (SessionOptions.memory). */
  readonly memory: 'fast' | 'bounded';
  readonly threads: number;
  readonly tile: number;
  readonly relaxedSimd: boolean;
  readonly macsPerLrPixel?: number;
  readonly bitOpsPerLrPixel?: number;
}

export interface Session {
  readonly info: SessionInfo;
  upscale(image: RgbImage, options?: UpscaleOptions): Promise<RgbImage>;
  /** The time per layer so far (SessionOptions.profile); throws when the session does not profile. */
  profile(): SessionProfile;
  resetProfile(): void;
  /** Frees the kernels' weights and stops the workers. */
  dispose(): Promise<void>;
}

export type { PassContext, SharedBands, SharedStore, TilePool } from './tile-pool.js';

export function contextFromShared(ctx: PassContext): RunContext {
  const view = (dtype: 'uint8' | 'float32', buffer: ArrayBufferLike, n: number) =>
    dtype === 'uint8' ? new Uint8Array(buffer, 0, n) : new Float32Array(buffer, 0, n);
  const stores = new Map<string, Piece>();
  for (const s of ctx.stores) stores.set(s.name, { y0: 0, x0: 0, h: s.h, w: s.w, c: s.c, data: view(s.dtype, s.buffer, s.h * s.w * s.c) });
  const bands = new Map<string, Bands>();
  for (const b of ctx.bands ?? []) {
    bands.set(b.name, { rows: b.rows, w: b.w, c: b.c, data: b.buffers.map((buffer) => view(b.dtype, buffer, b.rows * b.w * b.c)) });
  }
  return { sizes: new Map(ctx.sizes), stores, bands, factors: new Map(ctx.factors), output: new Uint8Array(ctx.output) };
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The upscale was aborted', 'AbortError');
}

/** Lets timers and abort events run between tiles. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  // Browsers: a message is a macrotask without setTimeout's 4 ms clamp on nested timers.
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(undefined);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export async function createSession(model: Uint8Array | ModelArtifact, options: SessionOptions = {}): Promise<Session> {
  const artifact = model instanceof Uint8Array ? decodeArtifact(model) : model;
  const graph = validateArtifact(artifact);
  const memory = options.memory ?? 'fast';
  if (memory !== 'fast' && memory !== 'bounded') throw new RangeError(`createSession: memory must be 'fast' or 'bounded', got '${String(memory)}'`);
  const plan = planGraph(graph, { memory });
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`createSession: threads must be a positive integer, got ${threads}`);
  if (options.profile && threads !== 1)
    throw new RangeError(`createSession: profile needs threads 1 (the layers of a worker pool run in its workers), got threads ${threads}`);
  const tile = options.tile ?? 128;
  if (!Number.isInteger(tile) || tile < 1) throw new RangeError(`createSession: tile must be a positive integer, got ${tile}`);
  const kernelOptions = options.kernels instanceof IntegerKernels ? undefined : options.kernels;
  const kernels = options.kernels instanceof IntegerKernels ? options.kernels : await loadIntegerKernels(kernelOptions);
  let pool: TilePool | undefined;
  let executor: TileExecutor | undefined;
  if (threads > 1) {
    const { NodeTilePool } = await import('./node-pool.js');
    pool = await NodeTilePool.start(artifact, threads, kernelOptions, options.workerUrl, memory);
  } else {
    executor = new TileExecutor(graph, plan, kernels);
    if (options.profile) executor.layerMs = new Float64Array(graph.layers.length);
  }
  // Measures the tiles' heap before an upscale allocates anything (it needs no kernels).
  const planner = executor ?? new TileExecutor(graph, plan);
  const cost = graph.header.metadata?.cost;
  const info: SessionInfo = {
    engine: 'wasm-int8',
    scale: graph.header.scale,
    layers: graph.layers.length,
    convs: graph.layers.filter((l) => l.layer.op === 'conv').length,
    passes: plan.passes.length,
    memory,
    threads,
    tile,
    relaxedSimd: kernels.relaxedSimd,
    ...(typeof cost?.macsPerLrPixel === 'number' ? { macsPerLrPixel: cost.macsPerLrPixel } : {}),
    ...(typeof cost?.bitOpsPerLrPixel === 'number' ? { bitOpsPerLrPixel: cost.bitOpsPerLrPixel } : {}),
  };
  let busy = false;
  const spare = new SpareBuffers();
  const profiled = { upscales: 0, totalMs: 0 };
  const layerMs = () => {
    if (!executor?.layerMs) throw new Error('profile: this session was created without { profile: true }');
    return executor.layerMs;
  };
  return {
    info,
    profile() {
      const ms = layerMs();
      return {
        ...profiled,
        layers: graph.layers.map(({ index, layer }) => ({ index, id: layer.id, op: layer.op, ms: ms[index]! })),
      };
    },
    resetProfile() {
      layerMs().fill(0);
      profiled.upscales = 0;
      profiled.totalMs = 0;
    },
    async upscale(image, upscaleOptions = {}) {
      if (busy) throw new Error('upscale: this session is already running an upscale');
      busy = true;
      const started = performance.now();
      try {
        const result = await upscale(graph, plan, image, {
          executor,
          planner,
          pool,
          tile,
          threads,
          spare,
          kernels,
          signal: upscaleOptions.signal ?? options.signal,
          onProgress: upscaleOptions.onProgress ?? options.onProgress,
        });
        if (executor?.layerMs) {
          profiled.upscales++;
          profiled.totalMs += performance.now() - started;
        }
        return result;
      } finally {
        busy = false;
      }
    },
    async dispose() {
      executor?.dispose();
      await pool?.close();
    },
  };
}

/**
 * Buffers of freed stores, held weakly, for later passes and later upscales of the session: every
 * store is written in full before it is read, and reused memory spares the page faults that fresh
 * allocations take on first write; the garbage collector may still take them from an idle session.
 */
class SpareBuffers {
  private readonly bySize = new Map<number, WeakRef<ArrayBufferLike>[]>();

  take(bytes: number): ArrayBufferLike | undefined {
    const list = this.bySize.get(bytes);
    if (!list) return undefined;
    let buffer: ArrayBufferLike | undefined;
    while (!buffer && list.length > 0) buffer = list.pop()!.deref();
    if (list.length === 0) this.bySize.delete(bytes);
    return buffer;
  }

  give(buffer: ArrayBufferLike): void {
    const list = this.bySize.get(buffer.byteLength) ?? [];
    list.push(new WeakRef(buffer));
    this.bySize.set(buffer.byteLength, list);
  }
}

/**
 * Adds values (float32 values, or uint8 codes times step) to `sum` in memory order, as adqFactor
 * (graph.ts) does in the same arithmetic: with mean NaN the values themselves (the first sum), else
 * their squared deviations from mean. The kernels do it, on chunks copied into their heap (JS
 * loops over a whole tensor cost several times more). Chunks and bands continue one sum, so the
 * result does not depend on how the tensor is cut.
 */
function accumulate(kernels: IntegerKernels, values: Float32Array | Uint8Array, step: number, mean: number, sum: number): number {
  const elem = values instanceof Float32Array ? 4 : 1;
  const n = values.length;
  const chunk = Math.min(n, 65536);
  const heap = kernels.heap;
  const at = heap.alloc(chunk * elem);
  try {
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      heap.bytes().set(bytes.subarray(i * elem, (i + m) * elem), at);
      sum = kernels.exports.adqSum(at, m, elem, step, mean, sum);
    }
    return sum;
  } finally {
    heap.release(at);
  }
}

/** The sum of squared deviations from the mean of a whole tensor (both sums, as adqFactor). */
function deviationSums(kernels: IntegerKernels, values: Float32Array | Uint8Array, step: number): number {
  return accumulate(kernels, values, step, accumulate(kernels, values, step, NaN, 0) / values.length, 0);
}

interface RunSetup {
  readonly kernels: IntegerKernels;
  readonly spare: SpareBuffers;
  readonly executor: TileExecutor | undefined;
  readonly planner: TileExecutor;
  readonly pool: TilePool | undefined;
  readonly tile: number;
  readonly threads: number;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((event: InferenceEvent) => void) | undefined;
}

/** What a pass that sums statistics band by band needs of its upscale. */
interface BandContext {
  readonly graph: ModelGraph;
  readonly sizes: ReadonlyMap<string, { h: number; w: number }>;
  readonly kernels: IntegerKernels;
  readonly spare: SpareBuffers;
  bufferOf(bytes: number): ArrayBufferLike;
  readonly output: ArrayBufferLike;
  /** Tiles run on worker threads: two band buffers, so that workers go on while a band is summed. */
  readonly threaded: boolean;
  /** The mean of each tensor whose first sum is done; set here after a `sum` phase. */
  readonly means: Map<string, number>;
  setFactors(name: string, squares: number, n: number): void;
  onTile(): void;
  runPieces(
    p: number,
    pieces: readonly (Rect | undefined)[],
    bands: SharedBands[],
    done: (index: number) => void,
    gate?: (index: number) => Promise<void> | undefined,
  ): Promise<void>;
}

/**
 * A pass whose targets include tensors summed for ADQ's σ: the tiles go band by band (a row of
 * tiles); once a band's tiles are done, its rows are summed in memory order and its buffer is free
 * for a later band.
 */
async function sumInBands(c: BandContext, p: number, pieces: readonly (Rect | undefined)[], summed: readonly Statistic[], bandRows: number): Promise<void> {
  const { graph, sizes, spare, bufferOf, output, means, setFactors, onTile } = c;
  // The tiles go band by band (a row of tiles); once a band's tiles are done, its rows are summed
  // in memory order and its buffer is free for a later band. Workers go on with the next band
  // meanwhile (two buffers); on this thread one is enough.
  const bandOf = new Int32Array(pieces.length);
  const left: number[] = [];
  pieces.forEach((piece, i) => {
    const j = i > 0 && piece!.y0 === pieces[i - 1]!.y0 ? bandOf[i - 1]! : left.length;
    if (j === left.length) left.push(0);
    bandOf[i] = j;
    left[j]!++;
  });
  const ring = c.threaded ? 2 : 1;
  const bands: SharedBands[] = summed.map((s) => {
    const t = graph.tensors.get(s.name)!;
    const { w } = sizes.get(s.name)!;
    const rows = bandRows * t.factor!;
    const bytes = rows * w * t.info.channels * (t.info.dtype === 'uint8' ? 1 : 4);
    const buffers = Array.from({ length: ring }, () => spare.take(bytes) ?? bufferOf(bytes));
    return { name: s.name, rows, w, c: t.info.channels, dtype: t.info.dtype, buffers };
  });
  const views = contextFromShared({ sizes: [], stores: [], bands, factors: [], output }).bands!;
  const sums = summed.map(() => 0);
  let summedBands = 0;
  const waiting: { band: number; resolve: () => void }[] = [];
  const done = (i: number) => {
    left[bandOf[i]!]!--;
    onTile();
    while (summedBands < left.length && left[summedBands] === 0) {
      const j = summedBands;
      summed.forEach((s, k) => {
        const t = graph.tensors.get(s.name)!;
        const band = views.get(s.name)!;
        const rows = Math.min(band.rows, sizes.get(s.name)!.h - j * band.rows);
        const values = band.data[j % ring]!.subarray(0, rows * band.w * band.c);
        const mean = s.phase === 'sum' ? NaN : means.get(s.name)!;
        sums[k] = accumulate(c.kernels, values, t.info.dtype === 'uint8' ? t.info.step : 1, mean, sums[k]!);
      });
      summedBands++;
    }
    for (let w = waiting.length - 1; w >= 0; w--) {
      if (waiting[w]!.band - ring < summedBands) waiting.splice(w, 1)[0]!.resolve();
    }
  };
  // A tile of band j writes into the buffer of band j − ring: it waits until that band is summed.
  const gate = (i: number): Promise<void> | undefined => {
    const band = bandOf[i]!;
    if (band - ring < summedBands) return undefined;
    return new Promise((resolve) => waiting.push({ band, resolve }));
  };
  await c.runPieces(p, pieces, bands, done, gate);
  summed.forEach((s, k) => {
    const size = sizes.get(s.name)!;
    const n = size.h * size.w * graph.tensors.get(s.name)!.info.channels;
    if (s.phase === 'sum') means.set(s.name, sums[k]! / n);
    else setFactors(s.name, sums[k]!, n);
  });
  for (const band of bands) for (const buffer of band.buffers) spare.give(buffer);
}

async function upscale(graph: ModelGraph, plan: Plan, image: RgbImage, setup: RunSetup): Promise<RgbImage> {
  checkImage(image);
  const { signal, onProgress, pool, executor } = setup;
  if (signal?.aborted) throw abortError(signal);
  const started = performance.now();
  const sizes = inferSizes(graph, image.height, image.width);
  // Before any store or tile is allocated: what the model claims must fit the budget.
  const layout = layOutPasses(graph, plan, sizes, setup.tile, setup.threads, setup.planner);
  const shared = pool !== undefined;
  const bufferOf = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const { spare } = setup;
  const stores = new Map<string, SharedStore>();
  const addStore = (name: string): SharedStore => {
    const { h, w } = sizes.get(name)!;
    const info = graph.tensors.get(name)!.info;
    const bytes = h * w * info.channels * (info.dtype === 'uint8' ? 1 : 4);
    const store = { name, h, w, c: info.channels, dtype: info.dtype, buffer: spare.take(bytes) ?? bufferOf(bytes) };
    stores.set(name, store);
    return store;
  };
  const input = addStore(graph.header.input);
  const inputValues = new Float32Array(input.buffer);
  const data = image.data;
  for (let i = 0; i < data.length; i++) inputValues[i] = BYTE_VALUES[data[i]!]!;
  const out = sizes.get(graph.header.output)!;
  const output = bufferOf(out.h * out.w * 3);
  const factors = new Map<number, number>();
  /** The mean of each tensor whose first sum is done. */
  const means = new Map<string, number>();
  const total = layout.pieces.reduce((n, p) => n + p.length, 0);
  onProgress?.({ status: 'start', tiles: total, engine: 'wasm-int8', threads: setup.threads });
  let index = 0;
  const onTile = () => onProgress?.({ status: 'tile', index: index++, tiles: total });
  const runPieces = async (
    p: number,
    pieces: readonly (Rect | undefined)[],
    bands: SharedBands[],
    done: (index: number) => void,
    gate?: (index: number) => Promise<void> | undefined,
  ) => {
    const ctx: PassContext = { sizes: [...sizes], stores: [...stores.values()], bands, factors: [...factors], output };
    if (pool) {
      await pool.runPass(p, pieces, ctx, done, signal, gate);
    } else {
      const local = contextFromShared(ctx);
      for (let i = 0; i < pieces.length; i++) {
        if (signal?.aborted) throw abortError(signal);
        executor!.run(p, pieces[i], local);
        done(i);
        await yieldToEventLoop();
      }
    }
    if (signal?.aborted) throw abortError(signal);
  };
  const setFactors = (name: string, squares: number, n: number) => {
    for (const i of graph.tensors.get(name)!.statisticOf) {
      const layer = graph.layers[i]!.layer;
      if (layer.op !== 'adq_scale') continue;
      factors.set(i, adqPhi(squares, n, layer.deviation, layer.slope, layer.offset));
    }
  };
  for (let p = 0; p < plan.passes.length; p++) {
    const pass = plan.passes[p]!;
    const summed = pass.statistics.filter((s) => s.phase !== 'stored');
    for (const t of pass.targets) if (t !== graph.header.output && !summed.some((s) => s.name === t)) addStore(t);
    const pieces = layout.pieces[p]!;
    const bandRows = layout.bandRows[p];
    if (bandRows === undefined) {
      await runPieces(p, pieces, [], onTile);
    } else {
      await sumInBands(
        { graph, sizes, kernels: setup.kernels, spare, bufferOf, output, threaded: pool !== undefined, means, setFactors, onTile, runPieces },
        p,
        pieces,
        summed,
        bandRows,
      );
    }
    for (const s of pass.statistics) {
      if (s.phase !== 'stored') continue;
      const store = contextFromShared({ sizes: [], stores: [stores.get(s.name)!], factors: [], output }).stores.get(s.name)!;
      const info = graph.tensors.get(s.name)!.info;
      setFactors(s.name, deviationSums(setup.kernels, store.data, info.dtype === 'uint8' ? info.step : 1), store.data.length);
    }
    for (const name of plan.freeAfter[p]!) {
      const store = stores.get(name);
      if (!store) continue;
      stores.delete(name);
      spare.give(store.buffer);
    }
  }
  onProgress?.({ status: 'done', milliseconds: performance.now() - started });
  // A plain buffer for the caller, not the workers' shared one.
  return { width: out.w, height: out.h, channels: 3, data: shared ? new Uint8Array(output).slice() : new Uint8Array(output) };
}
