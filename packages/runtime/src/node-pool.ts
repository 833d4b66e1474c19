import { Worker } from 'node:worker_threads';
import type { ModelArtifact } from './container.js';
import type { PassContext, TilePool } from './tile-pool.js';
import type { Rect } from './plan.js';
import type { LoadKernelsOptions, WasmSource } from './wasm-kernels.js';

/**
 * Node worker_threads pool: each worker validates the model, loads its own kernel instance and
 * runs whole tiles, reading and writing the pass's tensors in SharedArrayBuffers (no copies).
 * Tiles go to whichever worker is free, so uneven tiles balance themselves.
 */
export type WorkerRequest =
  | { readonly type: 'init'; readonly artifact: ModelArtifact; readonly kernels: SerializableKernelOptions; readonly memory: 'fast' | 'bounded' }
  | { readonly type: 'pass'; readonly pass: number; readonly ctx: PassContext }
  | { readonly type: 'tile'; readonly tile: Rect | undefined };

export type WorkerReply = { readonly type: 'ready' } | { readonly type: 'done' } | { readonly type: 'error'; readonly message: string };

export interface SerializableKernelOptions {
  readonly source?: string | Uint8Array;
  readonly relaxedSource?: string | Uint8Array;
  readonly relaxedSimd?: LoadKernelsOptions['relaxedSimd'];
}

function serializable(source: WasmSource | undefined): string | Uint8Array | undefined {
  if (source === undefined) return undefined;
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  throw new TypeError('threads: workers need the kernels as a path, URL or bytes');
}

export class NodeTilePool implements TilePool {
  private constructor(private readonly workers: Worker[]) {}

  get size(): number {
    return this.workers.length;
  }

  static async start(
    artifact: ModelArtifact,
    threads: number,
    kernels: LoadKernelsOptions | undefined,
    workerUrl?: URL | string,
    memory: 'fast' | 'bounded' = 'fast',
  ): Promise<NodeTilePool> {
    const url = workerUrl ?? new URL('./engine-worker.js', import.meta.url);
    const init: WorkerRequest = {
      type: 'init',
      artifact,
      kernels: { source: serializable(kernels?.source), relaxedSource: serializable(kernels?.relaxedSource), relaxedSimd: kernels?.relaxedSimd },
      memory,
    };
    const workers = Array.from({ length: threads }, () => new Worker(url));
    try {
      await Promise.all(workers.map((w) => request(w, init)));
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new NodeTilePool(workers);
  }

  async runPass(
    pass: number,
    tiles: readonly (Rect | undefined)[],
    ctx: PassContext,
    onTile: (index: number) => void,
    signal?: AbortSignal,
    gate?: (index: number) => Promise<void> | undefined,
  ): Promise<void> {
    const message: WorkerRequest = { type: 'pass', pass, ctx };
    await Promise.all(this.workers.map((w) => request(w, message)));
    let next = 0;
    let failure: unknown;
    // Wakes the workers waiting at the gate when a tile fails or the upscale is aborted.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onAbort = () => stop();
    signal?.addEventListener('abort', onAbort);
    const drain = async (worker: Worker) => {
      while (next < tiles.length && failure === undefined) {
        if (signal?.aborted) return;
        const index = next++;
        const wait = gate?.(index);
        if (wait) {
          await Promise.race([wait, stopped]);
          if (failure !== undefined || signal?.aborted) return;
        }
        try {
          await request(worker, { type: 'tile', tile: tiles[index] });
          onTile(index);
        } catch (error) {
          failure ??= error;
          stop();
        }
      }
    };
    try {
      await Promise.all(this.workers.map(drain));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure !== undefined) throw failure;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** One request, one reply: each worker handles a single request at a time. */
function request(worker: Worker, message: WorkerRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
    };
    const onMessage = (reply: WorkerReply) => {
      cleanup();
      if (reply.type === 'error') reject(new Error(`worker: ${reply.message}`));
      else resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.postMessage(message);
  });
}
