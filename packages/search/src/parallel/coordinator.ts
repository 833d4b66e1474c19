import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tf, type BackendName } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import type { Adam } from '../adam.js';
import type { ForwardReplay } from '../path-sampling.js';
import { SearchError } from '../config.js';
import type { AlphaStepInfo, AlphaStepOptions } from '../steps.js';
import type { AlphaTerms, CoordinatorMessage, PhaseKind, PhaseReply, PhaseRequest, ReplicaMessage, ReplicaNetwork, VariableLayout } from './protocol.js';
import {
  assignVariables,
  packGradients,
  packVariables,
  sameLayout,
  shardGradients,
  stateIndices,
  variableLayout,
  type ReplicaNet,
  type ShardTerms,
} from './replica.js';

/** A replica thread failed (an exception in its step, or it exited); every replica has been terminated. */
export class SearchWorkerError extends Error {
  override readonly name = 'SearchWorkerError';
}

/**
 * The worker script: `worker.js` beside this module in the built package. Run from the TypeScript
 * sources there is no such file; then `QUANTNAS_SEARCH_WORKER` (a bundled worker) or the package's
 * build output is used.
 */
export function defaultWorkerScript(): URL {
  if (import.meta.url.endsWith('.js')) return new URL('./worker.js', import.meta.url);
  const bundled = process.env.QUANTNAS_SEARCH_WORKER;
  return bundled ? pathToFileURL(bundled) : new URL('../../dist/parallel/worker.js', import.meta.url);
}

/** Batch rows per replica: as equal as possible, the larger shares first. */
export function shardSizes(batch: number, replicas: number): number[] {
  if (!(Number.isInteger(replicas) && replicas >= 1)) throw new RangeError(`replicas must be a positive integer, got ${replicas}`);
  if (batch < replicas) throw new SearchError(`a batch of ${batch} cannot be split over ${replicas} workers (at most one worker per patch)`);
  return Array.from({ length: replicas }, (_, k) => Math.floor(batch / replicas) + (k < batch % replicas ? 1 : 0));
}

export interface DataParallelOptions {
  /** Replicas in all, ≥ 2: the coordinator's network is the first, the others run in worker threads. */
  readonly replicas: number;
  /** The coordinator's network: it holds the authoritative variables. */
  readonly net: ReplicaNet;
  /** The backend each worker initialises (wasm or cpu). */
  readonly backend: BackendName;
  /** How `net` was built: the replicas build the same. */
  readonly network: ReplicaNetwork;
  /** The training forwards `net` has made (a resumed search): the replicas replay them. */
  readonly replay: ForwardReplay | null;
  /** LR patch side of the replayed forwards. */
  readonly lrPatchSize: number;
  /** The worker script; default `defaultWorkerScript()`. */
  readonly script?: URL | string;
}

/**
 * Where a data-parallel run's time went since it started (or since `resetProfile`), in
 * milliseconds summed over phases (two per search step: α, then w).
 */
export interface ParallelProfile {
  readonly phases: number;
  /** This thread: packing the variables and the shards and posting them. */
  readonly sendMs: number;
  /** This thread: its own shard's forward and backward, the gradients and statistics read back. */
  readonly ownMs: number;
  /** This thread: idle, waiting for the workers after its own shard. */
  readonly waitMs: number;
  /** This thread: summing the gradients, averaging the batch-norm statistics. */
  readonly reduceMs: number;
  /** This thread: clipping and Adam (while the workers wait for the next phase). */
  readonly optimizerMs: number;
  /** Workers (mean over them): assigning the variables they received and refreshing the skip set. */
  readonly workerAssignMs: number;
  /** Workers (mean): their shard's forward and backward. */
  readonly workerComputeMs: number;
  /** Workers (mean): reading their gradients and statistics into the reply. */
  readonly workerPackMs: number;
}

export interface SummedGradients {
  /** Σ over replicas of each shard's gradient, by variable name; the caller disposes them. */
  readonly grads: Map<string, tf.Tensor>;
  /** The batch's L1 (shard L1s weighted by shard size). */
  readonly l1: number;
  readonly terms?: ShardTerms;
}

/**
 * Data parallelism for the search and for training: each step's batch is split over replicas of
 * the network, each replica computes the gradient of its shard's L1 weighted by its share of the batch, the
 * coordinator sums them in replica order, applies its Adam once and sends every variable back
 * before the next phase. Batch-norm running statistics are averaged over the replicas (weighted).
 */
export interface DataParallel {
  readonly replicas: number;
  gradients(kind: PhaseKind, batch: PatchBatch, terms?: AlphaTerms): Promise<SummedGradients>;
  alphaStep(batch: PatchBatch, adam: Adam, options: AlphaStepOptions): Promise<AlphaStepInfo>;
  weightStep(batch: PatchBatch, adam: Adam, rate: number, clip: number): Promise<number>;
  /** The caller changed α outside an α step (a sampled path): the replicas refresh their skipped ops at the next phase. */
  alphaAssigned(): void;
  /** Time spent per part since the start or the last `resetProfile()`. */
  profile(): ParallelProfile;
  resetProfile(): void;
  /** Stops the workers; safe to call more than once. */
  close(): Promise<void>;
}

interface Pending {
  resolve(message: ReplicaMessage): void;
  reject(error: Error): void;
}

/** The replicas' worker threads: one request in flight per worker; a failure of any one rejects every pending request and stops them all. */
class WorkerGroup {
  readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;
  private closed = false;

  constructor(scriptPath: string, count: number) {
    for (let k = 0; k < count; k++) {
      const worker = new Worker(scriptPath);
      worker.on('message', (message: ReplicaMessage) => {
        if (message.type === 'error') return this.fail(k, message.stack ?? message.message);
        const p = this.pending.get(k);
        this.pending.delete(k);
        p?.resolve(message);
      });
      worker.on('error', (error) => this.fail(k, error.stack ?? error.message));
      worker.on('exit', (code) => this.fail(k, `exited with code ${code}`));
      this.workers.push(worker);
    }
  }

  request(k: number, message: CoordinatorMessage, transfer: ArrayBuffer[] = []): Promise<ReplicaMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.set(k, { resolve, reject });
      this.workers[k]!.postMessage(message, transfer);
    });
  }

  /** Stops the workers; safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) w.postMessage({ type: 'shutdown' } satisfies CoordinatorMessage);
    await this.terminateAll();
  }

  private fail(index: number, message: string): void {
    if (this.failure || this.closed) return;
    this.failure = new SearchWorkerError(`worker ${index + 1} of ${this.workers.length} failed: ${message}`);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    void this.terminateAll();
  }

  private terminateAll(): Promise<unknown> {
    return Promise.all(this.workers.map((w) => w.terminate().catch(() => 0)));
  }
}

/** Packed gradients summed per variable in replica order, in float32: the same inputs give the same bits. */
function sumInReplicaOrder(
  layout: VariableLayout,
  parts: readonly { readonly indices: readonly number[]; readonly data: Float32Array }[],
): Map<string, tf.Tensor> {
  const sums = new Map<number, Float32Array>();
  for (const { indices, data } of parts) {
    let offset = 0;
    for (const i of indices) {
      const part = data.subarray(offset, offset + layout.sizes[i]!);
      offset += part.length;
      const sum = sums.get(i);
      if (!sum) sums.set(i, Float32Array.from(part));
      else for (let j = 0; j < part.length; j++) sum[j] += part[j]!;
    }
  }
  const grads = new Map<string, tf.Tensor>();
  for (const i of [...sums.keys()].sort((a, b) => a - b)) grads.set(layout.names[i]!, tf.tensor(sums.get(i)!, [...layout.shapes[i]!]));
  return grads;
}

/** The replicas' forward state (BN running statistics) averaged with their shares of the batch, in float64. */
function weightedMean(weights: readonly number[], states: readonly Float32Array[]): Float32Array {
  const mean = new Float64Array(states[0]!.length);
  states.forEach((s, k) => {
    for (let j = 0; j < mean.length; j++) mean[j] += weights[k]! * s[j]!;
  });
  return Float32Array.from(mean);
}

type MutableProfile = { -readonly [K in keyof ParallelProfile]: number };

const emptyProfile = (): MutableProfile => ({
  phases: 0,
  sendMs: 0,
  ownMs: 0,
  waitMs: 0,
  reduceMs: 0,
  optimizerMs: 0,
  workerAssignMs: 0,
  workerComputeMs: 0,
  workerPackMs: 0,
});

/** Adds one phase to the profile: its times at send, own shard done, replies in, reduced (`t`), and the workers' own timings. */
function recordPhase(profile: MutableProfile, t: readonly number[], others: readonly PhaseReply[]): void {
  profile.phases++;
  profile.sendMs += t[1]! - t[0]!;
  profile.ownMs += t[2]! - t[1]!;
  profile.waitMs += t[3]! - t[2]!;
  profile.reduceMs += t[4]! - t[3]!;
  for (const r of others) {
    profile.workerAssignMs += r.timing.assign / others.length;
    profile.workerComputeMs += r.timing.compute / others.length;
    profile.workerPackMs += r.timing.pack / others.length;
  }
}

/** Posts each worker its rows of the batch (the coordinator keeps the first `sizes[0]`) with the variables to assign. */
function sendShards(
  group: WorkerGroup,
  batch: PatchBatch,
  sizes: readonly number[],
  phase: Pick<PhaseRequest, 'kind' | 'update' | 'refreshSkipped'>,
): Promise<ReplicaMessage[]> {
  const [n, h, w, c] = batch.lrShape;
  const [, hh, hw] = batch.hrShape;
  const lrRow = h * w * c;
  const hrRow = hh * hw * c;
  let start = sizes[0]!;
  const replies = Promise.all(
    group.workers.map((_, k) => {
      const rows = sizes[k + 1]!;
      const lr = batch.lr.slice(start * lrRow, (start + rows) * lrRow);
      const hr = batch.hr.slice(start * hrRow, (start + rows) * hrRow);
      start += rows;
      return group.request(k, { type: 'phase', ...phase, lr, lrShape: [rows, h, w, c], hr, hrShape: [rows, hh, hw, c], weight: rows / n }, [
        lr.buffer,
        hr.buffer,
      ]);
    }),
  );
  // A failing worker rejects `replies` while the coordinator computes its own shard: awaited later.
  replies.catch(() => undefined);
  return replies;
}

export async function startDataParallel(options: DataParallelOptions): Promise<DataParallel> {
  const { net, replicas } = options;
  if (!(Number.isInteger(replicas) && replicas >= 2)) throw new RangeError(`data parallelism needs at least 2 replicas, got ${replicas}`);
  const script = options.script ?? defaultWorkerScript();
  const scriptPath = script instanceof URL || script.startsWith('file:') ? fileURLToPath(script) : script;
  if (!existsSync(scriptPath)) throw new SearchError(`the worker script ${scriptPath} is missing: build @quantnas/search first (npm run build)`);

  const layout = variableLayout(net);
  const state = stateIndices(net, layout);
  const all = layout.names.map((_, i) => i);

  const group = new WorkerGroup(scriptPath, replicas - 1);
  const close = () => group.close();

  try {
    const ready = await Promise.all(
      group.workers.map((_, k) =>
        group.request(k, { type: 'init', backend: options.backend, network: options.network, replay: options.replay, lrPatchSize: options.lrPatchSize }),
      ),
    );
    for (const r of ready) {
      if (r.type !== 'ready' || !sameLayout(r.layout as VariableLayout, layout))
        throw new SearchWorkerError('a worker built a different network than the coordinator');
    }
  } catch (error) {
    await close();
    throw error;
  }

  // Everything is sent before the first phase (a resumed coordinator differs from fresh replicas).
  let alphaChanged = true;

  let profile = emptyProfile();

  const gradients = async (kind: PhaseKind, batch: PatchBatch, terms?: AlphaTerms): Promise<SummedGradients> => {
    const [n, h, w, c] = batch.lrShape;
    const [, hh, hw] = batch.hrShape;
    const t0 = performance.now();
    const sizes = shardSizes(n, replicas);
    const lrRow = h * w * c;
    const hrRow = hh * hw * c;
    const update = { indices: all, data: await packVariables(net, layout, all, true) };
    const refreshSkipped = alphaChanged;
    const replies = sendShards(group, batch, sizes, { kind, update, refreshSkipped });
    alphaChanged = kind === 'alpha';
    const t1 = performance.now();

    const own = await shardGradients(
      net,
      kind,
      tf.tensor4d(batch.lr.subarray(0, sizes[0]! * lrRow), [sizes[0]!, h, w, c]),
      tf.tensor4d(batch.hr.subarray(0, sizes[0]! * hrRow), [sizes[0]!, hh, hw, c]),
      sizes[0]! / n,
      terms,
    );
    const ownGrads = await packGradients(layout, own.grads);
    const ownState = await packVariables(net, layout, state);
    const t2 = performance.now();
    const others = (await replies) as PhaseReply[];
    const t3 = performance.now();

    const grads = sumInReplicaOrder(layout, [ownGrads, ...others.map((r) => ({ indices: r.gradIndices, data: r.grads }))]);
    if (state.length > 0) {
      const data = weightedMean(
        sizes.map((s) => s / n),
        [ownState, ...others.map((r) => r.state)],
      );
      assignVariables(net, layout, { indices: state, data });
    }
    const l1 = sizes.reduce((s, rows, k) => s + (rows / n) * (k === 0 ? own.l1 : others[k - 1]!.l1), 0);
    recordPhase(profile, [t0, t1, t2, t3, performance.now()], others);
    return { grads, l1, ...(own.terms ? { terms: own.terms } : {}) };
  };

  return {
    replicas,
    gradients,
    async alphaStep(batch, adam, o) {
      const alphas = net.alphaVariables();
      const g = await gradients('alpha', batch, o);
      const t0 = performance.now();
      adam.apply(alphas, g.grads, o.lr);
      tf.dispose([...g.grads.values()]);
      profile.optimizerMs += performance.now() - t0;
      const t = g.terms!;
      return {
        loss: g.l1 + t.entropyTerm + t.penaltyTerm + t.latencyTerm,
        l1: g.l1,
        entropy: t.regulariser,
        entropyTerm: t.entropyTerm,
        penaltyTerm: t.penaltyTerm,
        expectedBitops: t.bitops,
        latencyTerm: t.latencyTerm,
        expectedLatency: t.latency,
      };
    },
    alphaAssigned() {
      alphaChanged = true;
    },
    async weightStep(batch, adam, rate, clip) {
      const weights = net.weightVariables();
      const g = await gradients('w', batch);
      const t0 = performance.now();
      const norm = adam.applyClipped(weights, g.grads, rate, clip);
      tf.dispose([norm, ...g.grads.values()]);
      profile.optimizerMs += performance.now() - t0;
      return g.l1;
    },
    profile: () => ({ ...profile }),
    resetProfile() {
      profile = emptyProfile();
    },
    close,
  };
}
