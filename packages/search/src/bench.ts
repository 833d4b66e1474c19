import { ensureBackend, fusedKernelsAvailable, tf, type BackendName, type Module } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';

import {
  createDiscreteNetwork,
  createSupernet,
  loadSpec,
  type BitWidth,
  type DiscreteNetworkOptions,
  type Genotype,
  type QuantKernels,
  type SearchMode,
  type SearchSpaceSpec,
  type SupernetOptions,
} from '@quantnas/search-spaces';
import { createAdam } from './adam.js';
import { shardSizes, startDataParallel, type DataParallel, type ParallelProfile } from './parallel/index.js';
import type { ReplicaNetwork } from './parallel/protocol.js';
import { discreteReplicaNet } from './parallel/replica.js';
import { PRESETS, type PresetName } from './presets.js';
import { alphaStep, weightStep } from './steps.js';
import { TRAIN_PRESETS } from './train/config.js';
import { trainStep } from './train/network.js';

/** The kernels whose time counts as convolution in `conv_share`. */
const CONV_KERNELS = new Set([
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'FusedConv2D',
  'DepthwiseConv2dNative',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'FusedDepthwiseConv2D',
]);

/** One step's cost on one path (fused or reference kernels). */
export interface StepCost {
  /** Median milliseconds of one step. */
  readonly ms: number;
  /** tfjs kernels one step runs. */
  readonly kernels: number;
  /** Share of a (profiled) step's time spent in convolution kernels. */
  readonly convShare: number;
  /** With `workers` > 1: median milliseconds of the same step on that many replicas. */
  readonly parallelMs?: number;
  /** With `workers` > 1: steps per second on the replicas over steps per second on one thread. */
  readonly workerSpeedup?: number;
  /** With `workers` > 1: where a data-parallel step's time went, milliseconds per step. */
  readonly parallelProfile?: ParallelStepProfile;
  /** With `workers` > 1: median milliseconds of the one-thread step on one replica's shard of the batch. */
  readonly shardMs?: number;
  /**
   * With `workers` > 1: `ms / shardMs`, the speedup the replicas would reach if each ran its shard as
   * fast as one thread alone does, with no communication: what the step's batch-independent cost
   * leaves. The measured speedup falls below it by the cores' contention and the communication.
   */
  readonly workersBound?: number;
}

/** `ParallelProfile` per step (its phases together), plus the step's wall time. */
export type ParallelStepProfile = Omit<ParallelProfile, 'phases'> & { readonly stepMs: number };

/** Per path the step's cost, and the fused path's speedup over the reference path. */
export interface PathComparison {
  readonly fused?: StepCost;
  readonly reference?: StepCost;
  /** Reference ms over fused ms, when both ran. */
  readonly speedupVsReference?: number;
}

interface TimingOptions {
  readonly steps?: number;
  readonly warmup?: number;
  readonly backend?: BackendName;
  readonly seed?: number;
  /** With N > 1, every path is also timed on N data-parallel replicas (worker threads). */
  readonly workers?: number;
  /** The worker script; default: the built package's. */
  readonly workerScript?: URL | string;
  /** Default both, fused first. */
  readonly kernels?: readonly QuantKernels[];
}

export interface SearchStepBenchOptions extends TimingOptions {
  /** The search preset whose space, width, cells, batch and patch size are timed (`rfdn-bicubic` for quick and cpu). */
  readonly preset?: PresetName;
  readonly space?: string;
  readonly channels?: number;
  readonly cells?: number;
  readonly batch?: number;
  /** LR patch side. */
  readonly size?: number;
  readonly modes?: readonly SearchMode[];
}

export interface SearchStepBench {
  readonly backend: string;
  readonly space: string;
  readonly preset: PresetName | null;
  readonly channels: number | null;
  readonly cells: number | null;
  readonly batch: number;
  readonly size: number;
  readonly steps: number;
  readonly workers: number;
  /** Whether the backend has the fused kernels; without them the fused path runs the composed ops. */
  readonly fusedAvailable: boolean;
  /** Per mode, the fused and the reference path. */
  readonly modes: Readonly<Partial<Record<SearchMode, PathComparison>>>;
}

/** The preset of `quantnas run`: the space its search uses and the supernet's size. */
export function searchBenchShape(options: SearchStepBenchOptions): { space: string; channels?: number; cells?: number; batch: number; size: number } {
  if (options.preset) {
    const p = PRESETS[options.preset];
    if (!p) throw new RangeError(`unknown preset '${options.preset}' (expected ${Object.keys(PRESETS).join(', ')})`);
    return {
      space: options.space ?? 'rfdn-bicubic',
      ...((options.channels ?? p.channels) != null ? { channels: (options.channels ?? p.channels)! } : {}),
      ...((options.cells ?? p.cells) != null ? { cells: (options.cells ?? p.cells)! } : {}),
      batch: options.batch ?? p.batchSize,
      size: options.size ?? p.lrPatchSize,
    };
  }
  return {
    space: options.space ?? 'rfdn',
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
    batch: options.batch ?? 4,
    size: options.size ?? 16,
  };
}

/**
 * Times the search's step (an α step with the full objective, then a w step with gradient clipping
 * and Adam) per mode on the fused and the reference kernels, on the same batch, in one process:
 * the paths' steps alternate (fused, reference, fused, ...) so that a changing machine load affects
 * both alike; medians of `steps` timed steps after `warmup`. One more step per path runs under
 * tfjs' profiler to count its kernels and the convolutions' share of its time. With `workers` > 1
 * each path's step is also timed data-parallel, alternating with the one-thread step.
 */
export async function benchSearchStep(options: SearchStepBenchOptions = {}): Promise<SearchStepBench> {
  const shape = searchBenchShape(options);
  const { batch, size } = shape;
  const seed = options.seed ?? 1;
  const backend = (await ensureBackend(options.backend)).name;
  const spec = await loadSpec(shape.space);
  const workers = checkWorkers(options.workers ?? 1, batch);
  const data = await randomBatch(batch, size, spec.scale, seed);
  const modes: Partial<Record<SearchMode, PathComparison>> = {};
  try {
    for (const mode of options.modes ?? ['noise', 'direct']) {
      const paths = (options.kernels ?? ['fused', 'reference']).map((kernels) => {
        const supernet: SupernetOptions = {
          mode,
          adq: true,
          seed,
          kernels,
          ...(shape.channels !== undefined ? { channels: shape.channels } : {}),
          ...(shape.cells !== undefined ? { cells: shape.cells } : {}),
        };
        const net = createSupernet(spec, supernet);
        const wAdam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: 3e-8, kernels });
        const aAdam = createAdam({ beta1: 0.5, beta2: 0.999, kernels });
        const weights = net.weightVariables();
        const alphas = net.alphaVariables();
        let b0: number | null = null;
        const objective = () => ({ entropy: 'entropy' as const, entropyWeight: 1e-3, penalty: 1e-4, b0: b0!, lr: 3e-4 });
        return {
          kernels,
          net: net as Module,
          network: { kind: 'supernet', spec, options: supernet } as ReplicaNetwork,
          async prepare() {
            b0 = (await net.expectedBitops().data())[0]!;
          },
          async step() {
            await alphaStep(net, alphas, aAdam, tf.clone(data.x), tf.clone(data.y), objective());
            await net.updateSkippedOps();
            await weightStep(net, weights, wAdam, tf.clone(data.x), tf.clone(data.y), 1e-3, 5);
          },
          async parallelStep(p: DataParallel) {
            await p.alphaStep(data.patches, aAdam, objective());
            await net.updateSkippedOps();
            await p.weightStep(data.patches, wAdam, 1e-3, 5);
          },
          async shardStep(n: number) {
            const [x, y] = [data.x, data.y].map((t) => tf.slice(t, 0, n));
            await alphaStep(net, alphas, aAdam, tf.clone(x!), tf.clone(y!), objective());
            await net.updateSkippedOps();
            await weightStep(net, weights, wAdam, x!, y!, 1e-3, 5);
          },
          dispose() {
            net.dispose();
            wAdam.dispose();
            aAdam.dispose();
          },
        };
      });
      modes[mode] = await comparePaths(paths, { ...options, backend: backend as BackendName, workers, batch, size });
    }
  } finally {
    tf.dispose([data.x, data.y]);
  }
  return {
    backend,
    space: spec.id,
    preset: options.preset ?? null,
    channels: shape.channels ?? null,
    cells: shape.cells ?? null,
    batch,
    size,
    steps: options.steps ?? 3,
    workers,
    fusedAvailable: fusedKernelsAvailable(),
    modes,
  };
}

export interface TrainStepBenchOptions extends TimingOptions {
  /** The genotype whose QAT network is timed. */
  readonly genotype: Genotype;
  /** Its space (default: the registered space the genotype names). */
  readonly spec?: SearchSpaceSpec;
  /** Default: the space's. */
  readonly cells?: number;
  readonly adq?: boolean;
  /** The training preset whose batch and patch size are timed; default quick. */
  readonly preset?: 'quick' | 'cpu';
  readonly batch?: number;
  readonly size?: number;
  /**
   * Also time a plain baseline (its fixed-architecture space and uniform bits, default the ESPCN-like
   * network at 8 bits) on the fused path, to compare time per MAC.
   */
  readonly baseline?: { readonly space: string; readonly bits: number } | null;
}

export interface NetworkStepCost extends PathComparison {
  /** MACs per LR pixel of the network. */
  readonly macsPerPixel: number;
}

export interface TrainStepBench {
  readonly backend: string;
  readonly space: string;
  readonly batch: number;
  readonly size: number;
  readonly steps: number;
  readonly workers: number;
  /** Whether the backend has the fused kernels; without them the fused path runs the composed ops. */
  readonly fusedAvailable: boolean;
  readonly genotype: NetworkStepCost;
  readonly baseline?: NetworkStepCost & { readonly space: string; readonly bits: number };
  /** The genotype's fused ms per MAC over the baseline's (1 = as fast per MAC). */
  readonly perMacVsBaseline?: number;
}

/**
 * Times one QAT training step (Adam on L1, gradient clipping) of a genotype's network on the fused
 * and the reference kernels, alternating, as `benchSearchStep` does; and a plain baseline network
 * on the fused kernels, to compare the time per MAC.
 */
export async function benchTrainStep(options: TrainStepBenchOptions): Promise<TrainStepBench> {
  const preset = TRAIN_PRESETS[options.preset ?? 'quick'];
  const batch = options.batch ?? preset.batchSize;
  const size = options.size ?? preset.lrPatchSize;
  const seed = options.seed ?? 1;
  const backend = (await ensureBackend(options.backend)).name;
  const spec = options.spec ?? (await loadSpec(options.genotype.space));
  const workers = checkWorkers(options.workers ?? 1, batch);
  const data = await randomBatch(batch, size, options.genotype.scale, seed);
  const timing = { ...options, backend: backend as BackendName, workers, batch, size };
  const networkPaths = (s: SearchSpaceSpec, genotype: Genotype, kernelsList: readonly QuantKernels[], cells: number | undefined) =>
    kernelsList.map((kernels) => {
      const netOptions: DiscreteNetworkOptions = { mode: 'qat', adq: options.adq ?? true, seed, kernels, ...(cells !== undefined ? { cells } : {}) };
      const net = createDiscreteNetwork(s, genotype, netOptions);
      const adam = createAdam({ beta1: 0.9, beta2: 0.999, kernels });
      const weights = new Map([...net.variables()].filter(([, v]) => v.trainable));
      return {
        kernels,
        // The data-parallel replicas see its trainable variables as the weights.
        net: discreteReplicaNet(net),
        network: { kind: 'discrete', spec: s, genotype, options: netOptions } as ReplicaNetwork,
        macsPerPixel: net.costReport({ height: 1, width: 1 }).total.macs,
        async prepare() {
          const x = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
          const y = net.apply(x, { training: false });
          await y.data();
          tf.dispose([x, y]);
        },
        async step() {
          await trainStep(net, weights, adam, data.patches, 1e-3, 5);
        },
        async parallelStep(p: DataParallel) {
          await p.weightStep(data.patches, adam, 1e-3, 5);
        },
        async shardStep(n: number) {
          await trainStep(net, weights, adam, firstPatches(data.patches, n), 1e-3, 5);
        },
        dispose() {
          net.dispose();
          adam.dispose();
        },
      };
    });
  try {
    const genotypePaths = networkPaths(spec, options.genotype, options.kernels ?? ['fused', 'reference'], options.cells);
    const macsPerPixel = genotypePaths[0]!.macsPerPixel;
    const genotype: NetworkStepCost = { ...(await comparePaths(genotypePaths, timing)), macsPerPixel };
    const wanted = options.baseline === undefined ? { space: 'espcn', bits: 8 } : options.baseline;
    const fusedAvailable = fusedKernelsAvailable();
    if (!wanted) return { backend, space: spec.id, batch, size, steps: options.steps ?? 3, workers, fusedAvailable, genotype };
    const baselineSpec = await loadSpec(wanted.space);
    const baselineGenotype = uniformGenotype(baselineSpec, wanted.bits, options.genotype.scale);
    const baselinePaths = networkPaths(baselineSpec, baselineGenotype, ['fused'], undefined);
    const baselineMacs = baselinePaths[0]!.macsPerPixel;
    const baseline = { ...(await comparePaths(baselinePaths, timing)), macsPerPixel: baselineMacs, ...wanted };
    const perMac = (c: NetworkStepCost) => c.fused!.ms / c.macsPerPixel;
    return {
      backend,
      space: spec.id,
      batch,
      size,
      steps: options.steps ?? 3,
      workers,
      fusedAvailable,
      genotype,
      baseline,
      ...(genotype.fused ? { perMacVsBaseline: perMac(genotype) / perMac(baseline) } : {}),
    };
  } finally {
    tf.dispose([data.x, data.y]);
  }
}

/** A fixed architecture's genotype: every block's only op at `bits`. */
function uniformGenotype(spec: SearchSpaceSpec, bits: number, scale: number): Genotype {
  const net = createSupernet(spec, { mode: 'noise', adq: true, seed: 1, scale, bits: [bits as BitWidth] });
  try {
    const blocks = Object.fromEntries(
      net.alphas().map((g) => {
        const pair = g.pairs.find((p) => p.bits === bits);
        if (!pair) throw new RangeError(`space '${spec.id}' has no ${bits}-bit choice for block '${g.id}'`);
        return [g.id, pair];
      }),
    );
    return { schemaVersion: 1, space: spec.id, scale: net.plan.scale, channels: net.plan.channels, blocks };
  } finally {
    net.dispose();
  }
}

interface BenchPath {
  readonly kernels: QuantKernels;
  readonly net: Module;
  readonly network: ReplicaNetwork;
  prepare(): Promise<void>;
  step(): Promise<void>;
  parallelStep(p: DataParallel): Promise<void>;
  /** One step on the first `n` patches of the batch. */
  shardStep(n: number): Promise<void>;
  dispose(): void;
}

/** Times the paths' steps alternately, profiles one step each, and with workers the parallel step. */
async function comparePaths(
  paths: BenchPath[],
  options: TimingOptions & { backend: BackendName; workers: number; batch: number; size: number },
): Promise<PathComparison> {
  const steps = options.steps ?? 3;
  const warmup = options.warmup ?? 1;
  const parallels: (DataParallel | undefined)[] = [];
  try {
    for (const path of paths) await path.prepare();
    if (options.workers > 1) {
      for (const path of paths) {
        parallels.push(
          await startDataParallel({
            replicas: options.workers,
            net: path.net as Parameters<typeof startDataParallel>[0]['net'],
            backend: options.backend,
            network: path.network,
            replay: null,
            lrPatchSize: options.size,
            ...(options.workerScript !== undefined ? { script: options.workerScript } : {}),
          }),
        );
      }
    }
    const shard = Math.max(...shardSizes(options.batch, options.workers));
    const kinds = paths.flatMap((path, i) => [
      () => path.step(),
      ...(parallels[i] ? [() => path.parallelStep(parallels[i]!), () => path.shardStep(shard)] : []),
    ]);
    for (let i = 0; i < warmup; i++) for (const step of kinds) await step();
    for (const p of parallels) p?.resetProfile();
    const times = kinds.map(() => [] as number[]);
    for (let i = 0; i < steps; i++) {
      for (const [k, step] of kinds.entries()) {
        const t0 = performance.now();
        await step();
        times[k]!.push(performance.now() - t0);
      }
    }
    const result: { fused?: StepCost; reference?: StepCost } = {};
    let k = 0;
    for (const [i, path] of paths.entries()) {
      const ms = median(times[k++]!);
      const profile = await profileStep(() => path.step());
      let parallel: Pick<StepCost, 'parallelMs' | 'workerSpeedup' | 'parallelProfile' | 'shardMs' | 'workersBound'> = {};
      const p = parallels[i];
      if (p) {
        const many = times[k++]!;
        const shardMs = median(times[k++]!);
        const { phases: _, ...sums } = p.profile();
        const perStep = Object.fromEntries(Object.entries(sums).map(([key, v]) => [key, v / steps])) as Omit<ParallelProfile, 'phases'>;
        parallel = {
          parallelMs: median(many),
          workerSpeedup: ms / median(many),
          parallelProfile: { ...perStep, stepMs: many.reduce((s, t) => s + t, 0) / steps },
          shardMs,
          workersBound: ms / shardMs,
        };
      }
      result[path.kernels] = { ms, ...profile, ...parallel };
    }
    return { ...result, ...(result.fused && result.reference ? { speedupVsReference: result.reference.ms / result.fused.ms } : {}) };
  } finally {
    for (const p of parallels) await p?.close();
    for (const path of paths) path.dispose();
  }
}

/** Kernels of one step and the share of its profiled time spent in convolutions. */
async function profileStep(step: () => Promise<void>): Promise<{ kernels: number; convShare: number }> {
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - t0;
  let conv = 0;
  for (const k of info.kernels) if (CONV_KERNELS.has(k.name)) conv += k.kernelTimeMs as number;
  return { kernels: info.kernels.length, convShare: Math.min(1, conv / wall) };
}

async function randomBatch(batch: number, size: number, scale: number, seed: number) {
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.randomUniform([batch, size * scale, size * scale, 3], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
  const patches = {
    lr: (await x.data()) as Float32Array,
    lrShape: x.shape,
    hr: (await y.data()) as Float32Array,
    hrShape: y.shape,
    epoch: 0,
  } as PatchBatch;
  return { x, y, patches };
}

/** The first `n` patches of a batch, sharing its buffers. */
function firstPatches(b: PatchBatch, n: number): PatchBatch {
  const lrPer = b.lr.length / b.lrShape[0];
  const hrPer = b.hr.length / b.hrShape[0];
  return {
    lr: b.lr.subarray(0, n * lrPer),
    hr: b.hr.subarray(0, n * hrPer),
    lrShape: [n, b.lrShape[1], b.lrShape[2], 3],
    hrShape: [n, b.hrShape[1], b.hrShape[2], 3],
    epoch: b.epoch,
  };
}

function checkWorkers(workers: number, batch: number): number {
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= batch))
    throw new RangeError(`workers must be an integer from 1 to the batch (${batch}), got ${workers}`);
  return workers;
}

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
