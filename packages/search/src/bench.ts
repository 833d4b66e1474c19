import { currentBackend, initBackend, tf, type BackendName } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import { createSupernet, loadSpec, type SearchMode, type SupernetOptions } from '@quantnas/search-spaces';
import { createAdam } from './adam.js';
import { startDataParallel, type DataParallel, type ParallelProfile } from './parallel/index.js';
import { alphaStep, weightStep } from './search.js';

export interface SearchStepBenchOptions {
  readonly space?: string;
  readonly channels?: number;
  readonly cells?: number;
  readonly batch?: number;
  /** LR patch side. */
  readonly size?: number;
  readonly steps?: number;
  readonly warmup?: number;
  readonly backend?: BackendName;
  readonly modes?: readonly SearchMode[];
  readonly seed?: number;
  /** With N > 1, each mode is also timed on N data-parallel replicas (worker threads), in the same run. */
  readonly workers?: number;
  /** The worker script; default: the built package's. */
  readonly workerScript?: URL | string;
}

export interface SearchStepBench {
  readonly backend: string;
  readonly space: string;
  readonly channels: number | null;
  readonly cells: number | null;
  readonly batch: number;
  readonly size: number;
  readonly steps: number;
  /** Median milliseconds of one search step (α step + w step) per mode. */
  readonly ms: Readonly<Partial<Record<SearchMode, number>>>;
  readonly workers: number;
  /** With `workers` > 1: median milliseconds of the same step on that many replicas. */
  readonly parallelMs?: Readonly<Partial<Record<SearchMode, number>>>;
  /** With `workers` > 1: steps per second on the replicas over steps per second on one thread. */
  readonly workerSpeedup?: Readonly<Partial<Record<SearchMode, number>>>;
  /** With `workers` > 1: where a data-parallel step's time went, milliseconds per step (means over the timed steps). */
  readonly parallelProfile?: Readonly<Partial<Record<SearchMode, ParallelStepProfile>>>;
}

/** `ParallelProfile` per search step (its two phases together), plus the step's wall time. */
export type ParallelStepProfile = Omit<ParallelProfile, 'phases'> & { readonly stepMs: number };

/**
 * Times the search's step (an α step with the full objective, then a w step with gradient
 * clipping and Adam) of one supernet per mode, on the same batch, in one process. Medians of
 * `steps` timed steps after `warmup` untimed ones. With `workers` > 1 the same supernet also
 * takes the same step data-parallel on that many replicas, the two kinds of step alternating
 * (one-thread, parallel, one-thread, ...) so that a shared machine's changing load affects both
 * alike, and the ratio of the medians' step rates is reported.
 */
export async function benchSearchStep(options: SearchStepBenchOptions = {}): Promise<SearchStepBench> {
  const space = options.space ?? 'rfdn';
  const batch = options.batch ?? 4;
  const size = options.size ?? 16;
  const steps = options.steps ?? 3;
  const warmup = options.warmup ?? 1;
  const seed = options.seed ?? 1;
  const backend = options.backend ? (await initBackend(options.backend)).name : await current();
  const spec = await loadSpec(space);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const scale = spec.scale;
  const y = tf.randomUniform([batch, size * scale, size * scale, 3], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
  const workers = options.workers ?? 1;
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= batch)) throw new RangeError(`workers must be an integer from 1 to the batch (${batch}), got ${workers}`);
  const patches: PatchBatch = { lr: (await x.data()) as Float32Array, lrShape: x.shape, hr: (await y.data()) as Float32Array, hrShape: y.shape } as unknown as PatchBatch;
  const ms: Partial<Record<SearchMode, number>> = {};
  const parallelMs: Partial<Record<SearchMode, number>> = {};
  const profiles: Partial<Record<SearchMode, ParallelStepProfile>> = {};
  const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  // Each kind of step in turn, `warmup` untimed rounds then `steps` timed ones; returns the times per kind.
  const alternate = async (kinds: (() => Promise<void>)[], afterWarmup: () => void) => {
    for (let i = 0; i < warmup; i++) for (const step of kinds) await step();
    afterWarmup();
    const times = kinds.map(() => [] as number[]);
    for (let i = 0; i < steps; i++) {
      for (const [k, step] of kinds.entries()) {
        const t0 = performance.now();
        await step();
        times[k]!.push(performance.now() - t0);
      }
    }
    return times;
  };
  try {
    for (const mode of options.modes ?? ['noise', 'direct']) {
      const supernet: SupernetOptions = {
        mode,
        adq: true,
        seed,
        ...(options.channels !== undefined ? { channels: options.channels } : {}),
        ...(options.cells !== undefined ? { cells: options.cells } : {}),
      };
      const net = createSupernet(spec, supernet);
      const wAdam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: 3e-8 });
      const aAdam = createAdam({ beta1: 0.5, beta2: 0.999 });
      const weights = net.weightVariables();
      const alphas = net.alphaVariables();
      const b0 = (await net.expectedBitops().data())[0]!;
      const step = async () => {
        await alphaStep(net, alphas, aAdam, tf.clone(x), tf.clone(y), { entropy: 'entropy', entropyWeight: 1e-3, penalty: 1e-4, b0, lr: 3e-4 });
        await net.updateSkippedOps();
        await weightStep(net, weights, wAdam, tf.clone(x), tf.clone(y), 1e-3, 5);
      };
      let parallel: DataParallel | undefined;
      try {
        if (workers === 1) {
          ms[mode] = median((await alternate([step], () => undefined))[0]!);
        } else {
          parallel = await startDataParallel({
            replicas: workers,
            net,
            backend: backend as BackendName,
            network: { kind: 'supernet', spec, options: supernet },
            replayForwards: 0,
            lrPatchSize: size,
            ...(options.workerScript !== undefined ? { script: options.workerScript } : {}),
          });
          const p = parallel;
          const parallelStep = async () => {
            await p.alphaStep(patches, aAdam, { entropy: 'entropy', entropyWeight: 1e-3, penalty: 1e-4, b0, lr: 3e-4 });
            await net.updateSkippedOps();
            await p.weightStep(patches, wAdam, 1e-3, 5);
          };
          const [one, many] = await alternate([step, parallelStep], () => p.resetProfile());
          ms[mode] = median(one!);
          parallelMs[mode] = median(many!);
          const { phases: _, ...sums } = p.profile();
          const perStep = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / steps])) as Omit<ParallelProfile, 'phases'>;
          profiles[mode] = { ...perStep, stepMs: many!.reduce((s, t) => s + t, 0) / steps };
        }
      } finally {
        await parallel?.close();
        net.dispose();
        wAdam.dispose();
        aAdam.dispose();
      }
    }
  } finally {
    tf.dispose([x, y]);
  }
  const speedup = Object.fromEntries(Object.entries(parallelMs).map(([mode, t]) => [mode, ms[mode as SearchMode]! / t]));
  return {
    backend,
    space: spec.id,
    channels: options.channels ?? null,
    cells: options.cells ?? null,
    batch,
    size,
    steps,
    ms,
    workers,
    ...(workers > 1 ? { parallelMs, workerSpeedup: speedup, parallelProfile: profiles } : {}),
  };
}

async function current(): Promise<string> {
  try {
    return currentBackend().name;
  } catch {
    return (await initBackend('wasm')).name;
  }
}
