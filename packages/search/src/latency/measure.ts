import { availableParallelism, cpus } from 'node:os';
import { tf } from '@quantnas/core-ops';
import { createRng } from '@quantnas/data';
import { kendallTau } from '@quantnas/metrics';
import { createSession, type LoadKernelsOptions, type RgbImage, type Session } from '@quantnas/runtime';
import {
  checkGenotype,
  createDiscreteNetwork,
  genotypeCost,
  isFixedArchitecture,
  isSpaceId,
  resolveSpace,
  type Genotype,
  type SearchSpaceSpec,
  type SpacePlan,
} from '@quantnas/search-spaces';
import { PRESETS } from '../presets.js';
import { loadSpaceDocument } from '../search-setup.js';
import { resolveTrainTarget } from '../train/genotype-source.js';
import { exportModel } from '../export/index.js';
import { LATENCY_TABLE_KIND, LatencyTableError, pairKey, predictLatency, type LatencyEngine, type LatencyEntry, type LatencyTable } from './table.js';

/**
 * Measures latency tables (table.ts) and checks their predictions, on the runtime's integer engine
 * in this process. Every network is exported with its initial weights: the engine's time does not
 * depend on the weights' values (no kernel branches on them), only on the layers and their bits.
 */

export interface LatencyMeasureOptions {
  /** The LR image, in pixels; default 256 × 256. */
  readonly width?: number;
  readonly height?: number;
  /** `simd128` (default): the plain SIMD kernels; `relaxed`: the relaxed-SIMD ones, where this Node has them. */
  readonly engine?: LatencyEngine;
  readonly threads?: number;
  /** Timed rounds after one warm-up; default 5. The table keeps each entry's median and range. */
  readonly rounds?: number;
  /** Where the kernels are (tests); default: the runtime's. */
  readonly kernels?: Omit<LoadKernelsOptions, 'relaxedSimd'>;
  /** Worker script for threads > 1 (tests); default: the runtime's. */
  readonly workerUrl?: URL | string;
  readonly onProgress?: (done: number, total: number, what: string) => void;
}

export interface LatencyTableOptions extends LatencyMeasureOptions {
  readonly channels?: number;
  readonly cells?: number;
  readonly scale?: number;
}

const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const entryOf = (samples: readonly number[]): LatencyEntry => ({
  ms: median(samples),
  min: Math.min(...samples),
  max: Math.max(...samples),
  rounds: samples.length,
});

function testImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return { width, height, channels: 3, data };
}

const settings = (options: LatencyMeasureOptions) => {
  const width = options.width ?? 256;
  const height = options.height ?? 256;
  const threads = options.threads ?? 1;
  const rounds = options.rounds ?? 5;
  for (const [name, v] of Object.entries({ width, height, threads, rounds })) {
    if (!Number.isInteger(v) || v < 1) throw new LatencyTableError(`latency: ${name} must be a positive integer, got ${v}`);
  }
  if (width < 16 || height < 16) throw new LatencyTableError(`latency: the input must be at least 16 × 16 LR pixels (ESA's pooling), got ${width} × ${height}`);
  const engine = options.engine ?? 'simd128';
  if (engine !== 'simd128' && engine !== 'relaxed') throw new LatencyTableError(`latency: engine must be 'simd128' or 'relaxed', got '${String(engine)}'`);
  return { width, height, threads, rounds, engine };
};

/** The genotype's network, exported with its initial weights (one forward sets the quantizers' steps). */
async function exportUntrained(spec: SearchSpaceSpec, plan: SpacePlan, genotype: Genotype): Promise<Uint8Array> {
  const net = createDiscreteNetwork(spec, genotype, { mode: 'qat', adq: true, seed: 1, cells: plan.cells, scale: plan.scale });
  try {
    tf.tidy(() => {
      net.apply(tf.randomUniform([1, 16, 16, plan.imageChannels], 0, 1, 'float32', 1) as tf.Tensor4D, { training: true });
    });
    return await exportModel(net, { spec, genotype });
  } finally {
    net.dispose();
  }
}

/** Sessions of one model: one that times its layers (one thread), and one on `threads` workers when threads > 1. */
interface Timed {
  readonly profiled: Session;
  readonly pool?: Session;
}

async function openTimed(model: Uint8Array, s: ReturnType<typeof settings>, options: LatencyMeasureOptions): Promise<Timed> {
  const kernels: LoadKernelsOptions = { ...options.kernels, relaxedSimd: s.engine === 'relaxed' ? 'require' : 'off' };
  let profiled: Session;
  try {
    profiled = await createSession(model, { profile: true, kernels });
  } catch (error) {
    if (s.engine === 'relaxed' && error instanceof Error && /relaxed/i.test(error.message)) {
      throw new LatencyTableError(
        `latency: this Node (${process.version}) has no relaxed SIMD; on Node 20 run it with --experimental-wasm-relaxed-simd, or use --engine simd128`,
      );
    }
    throw error;
  }
  const pool =
    s.threads > 1 ? await createSession(model, { threads: s.threads, kernels, ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}) }) : undefined;
  return { profiled, ...(pool ? { pool } : {}) };
}

const closeTimed = async (t: Timed) => {
  await t.profiled.dispose();
  await t.pool?.dispose();
};

/**
 * One round of a model: the profiled upscale's milliseconds per layer id, scaled to the pool's wall
 * time when it has one (each layer keeps its one-thread share), and the round's wall time.
 */
async function timeRound(t: Timed, image: RgbImage): Promise<{ layers: Map<string, number>; wall: number }> {
  t.profiled.resetProfile();
  await t.profiled.upscale(image);
  const profile = t.profiled.profile();
  let factor = 1;
  let wall = profile.totalMs;
  if (t.pool) {
    const t0 = performance.now();
    await t.pool.upscale(image);
    wall = performance.now() - t0;
    factor = wall / profile.totalMs;
  }
  return { layers: new Map(profile.layers.map((l) => [l.id, l.ms * factor])), wall };
}

/**
 * One timed round of a model on an engine instance of its own, opened for it and closed after, with
 * one untimed upscale first. Rounds go over all the models in turn: the machine's speed drifts by a
 * third over minutes, and interleaving spreads that drift over every model, while one instance
 * alive at a time is how a deployed process runs (with many alive, some ran a third slower).
 */
async function timeAlone(model: Uint8Array, s: ReturnType<typeof settings>, options: LatencyMeasureOptions, image: RgbImage) {
  const t = await openTimed(model, s, options);
  try {
    await timeRound(t, image);
    return await timeRound(t, image);
  } finally {
    await closeTimed(t);
  }
}

const machine = () => ({
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: availableParallelism(),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
});

/**
 * Measures a latency table for a space: one network per pair index (every group at its i-th pair),
 * exported, then `rounds` rounds over all of them, each network timed alone (timeAlone); each round
 * gives every group the time of the layers its blocks made (their convs, with any residual add fused
 * into them) and the rest of the network the remainder of the wall time.
 */
export async function measureLatencyTable(spec: SearchSpaceSpec, options: LatencyTableOptions = {}): Promise<LatencyTable> {
  const s = settings(options);
  const plan = resolveSpace(spec, { channels: options.channels, cells: options.cells, scale: options.scale });
  const count = Math.max(...plan.groups.map((g) => g.pairs.length));
  const genotypes = Array.from({ length: count }, (_, i) => genotypeOf(plan, (g) => g.pairs[i % g.pairs.length]!));
  // Layer ids of a block's ops start with the block's name (export names them `block.op.convN`).
  const groupOfLayer = (id: string): string | undefined => plan.blocks.find((b) => id.startsWith(`${b.name}.`))?.group;
  const image = testImage(s.width, s.height);
  const total = count * (s.rounds + 1);
  let done = 0;
  const progress = (what: string) => options.onProgress?.(++done, total, what);
  const models: Uint8Array[] = [];
  for (const genotype of genotypes) {
    models.push(await exportUntrained(spec, plan, genotype));
    progress('export');
  }
  const samples = new Map<string, number[]>();
  const fixed: number[] = [];
  for (let round = 0; round < s.rounds; round++) {
    for (let i = 0; i < count; i++) {
      const { layers, wall } = await timeAlone(models[i]!, s, options, image);
      const byGroup = new Map<string, number>();
      for (const [id, ms] of layers) {
        const group = groupOfLayer(id);
        if (group !== undefined) byGroup.set(group, (byGroup.get(group) ?? 0) + ms);
      }
      let blocks = 0;
      for (const g of plan.groups) {
        // A group with fewer pairs repeats one here: measured by the first network that has it, and not part of the rest.
        blocks += byGroup.get(g.id) ?? 0;
        if (i >= g.pairs.length) continue;
        const key = `${g.id}\u0000${pairKey(genotypes[i]!.blocks[g.id]!)}`;
        samples.set(key, [...(samples.get(key) ?? []), byGroup.get(g.id) ?? 0]);
      }
      fixed.push(wall - blocks);
      progress(`round ${round + 1}`);
    }
  }
  const groups: Record<string, Record<string, LatencyEntry>> = {};
  for (const g of plan.groups) {
    groups[g.id] = Object.fromEntries(g.pairs.map((p) => [pairKey(p), entryOf(samples.get(`${g.id}\u0000${pairKey(p)}`)!)]));
  }
  return {
    schemaVersion: 1,
    kind: LATENCY_TABLE_KIND,
    space: plan.id,
    channels: plan.channels,
    cells: plan.cells,
    scale: plan.scale,
    input: { width: s.width, height: s.height },
    engine: s.engine,
    threads: s.threads,
    machine: machine(),
    measuredAt: new Date().toISOString(),
    fixed: entryOf(fixed),
    groups,
  };
}

/**
 * The space a latency table is measured for, from a space id or document: at the search preset's
 * width and cells unless given; a document, or a fixed architecture (espcn, fsrcnn), at its own.
 */
export async function latencySpace(
  space: string,
  options: { readonly preset?: 'quick' | 'cpu'; readonly channels?: number | undefined; readonly cells?: number | undefined } = {},
): Promise<{ spec: SearchSpaceSpec; channels?: number; cells?: number }> {
  const spec = await loadSpaceDocument(space);
  const own = !isSpaceId(space) || isFixedArchitecture(spec);
  const preset = PRESETS[options.preset ?? 'quick'];
  const channels = options.channels ?? (own ? spec.channels : (preset.channels ?? undefined));
  const cells = options.cells ?? (own ? spec.cells : (preset.cells ?? undefined));
  return { spec, ...(channels !== undefined ? { channels } : {}), ...(cells !== undefined ? { cells } : {}) };
}

/**
 * The genotypes a table is checked on: each file (a search's genotype.json, a run's
 * train/genotype.json), checked against the table's plan, then `random` drawn ones.
 */
export async function latencyCheckGenotypes(
  spec: SearchSpaceSpec,
  table: LatencyTable,
  files: readonly string[],
  random: number,
  seed: number,
): Promise<{ name: string; genotype: Genotype }[]> {
  const plan = resolveSpace(spec, { channels: table.channels, cells: table.cells, scale: table.scale });
  const given: { name: string; genotype: Genotype }[] = [];
  for (const file of files) {
    const target = await resolveTrainTarget({ genotype: file, space: spec });
    checkGenotype(plan, target.genotype, file);
    given.push({ name: file, genotype: target.genotype });
  }
  return [...given, ...randomGenotypes(plan, random, seed).map((genotype, i) => ({ name: `random ${i + 1}`, genotype }))];
}

export interface LatencyCheckRow {
  readonly name: string;
  readonly genotype: Genotype;
  readonly predictedMs: number;
  /** Median wall time of the exported network on the table's engine, threads and input. */
  readonly measuredMs: number;
  readonly bitops: number;
}

export interface LatencyCheck {
  readonly rows: readonly LatencyCheckRow[];
  /** Kendall τ between the table's prediction and the measured time. */
  readonly tauTable: number;
  /** Kendall τ between BitOps (32 × 32 LR) and the measured time. */
  readonly tauBitops: number;
  /** Mean |predicted − measured| / measured of the table. */
  readonly tableError: number;
  /** The same for BitOps made milliseconds by the least-squares factor through 0 over these rows. */
  readonly bitopsError: number;
  readonly machine: LatencyTable['machine'];
}

/** `count` genotypes of the plan, each group's pair drawn uniformly (seeded). */
export function randomGenotypes(plan: SpacePlan, count: number, seed: number): Genotype[] {
  const rng = createRng(seed).fork('latency.random');
  return Array.from({ length: count }, () => genotypeOf(plan, (g) => g.pairs[rng.int(g.pairs.length)]!));
}

/** A genotype of the plan with each α group's pair picked by `pick`. */
function genotypeOf(plan: SpacePlan, pick: (group: SpacePlan['groups'][number]) => Genotype['blocks'][string]): Genotype {
  return { schemaVersion: 1, space: plan.id, scale: plan.scale, channels: plan.channels, blocks: Object.fromEntries(plan.groups.map((g) => [g.id, pick(g)])) };
}

/**
 * Checks a table against real models: each genotype exported and timed whole as the table's
 * networks are (timeAlone; wall time on the table's engine, threads and input, median of `rounds`),
 * against the table's prediction and against BitOps, as rank correlations and mean relative errors.
 */
export async function checkLatencyTable(
  spec: SearchSpaceSpec,
  table: LatencyTable,
  genotypes: readonly { readonly name: string; readonly genotype: Genotype }[],
  options: Omit<LatencyMeasureOptions, 'width' | 'height' | 'engine' | 'threads'> = {},
): Promise<LatencyCheck> {
  if (genotypes.length < 2) throw new LatencyTableError('latency check: needs at least 2 genotypes to rank');
  const s = settings({ ...options, width: table.input.width, height: table.input.height, engine: table.engine, threads: table.threads });
  const plan = resolveSpace(spec, { channels: table.channels, cells: table.cells, scale: table.scale });
  const image = testImage(s.width, s.height);
  const total = genotypes.length * (s.rounds + 1);
  let done = 0;
  const progress = (what: string) => options.onProgress?.(++done, total, what);
  const models: Uint8Array[] = [];
  for (const { genotype } of genotypes) {
    models.push(await exportUntrained(spec, plan, genotype));
    progress('export');
  }
  const walls: number[][] = genotypes.map(() => []);
  for (let round = 0; round < s.rounds; round++) {
    for (let i = 0; i < models.length; i++) {
      walls[i]!.push((await timeAlone(models[i]!, s, options, image)).wall);
      progress(`round ${round + 1}`);
    }
  }
  const rows = genotypes.map(({ name, genotype }, i) => ({
    name,
    genotype,
    predictedMs: predictLatency(table, genotype),
    measuredMs: median(walls[i]!),
    bitops: genotypeCost(plan, genotype, { input: { height: 32, width: 32 } }).total.bitops,
  }));
  const measured = rows.map((r) => r.measuredMs);
  const k = rows.reduce((a, r) => a + r.bitops * r.measuredMs, 0) / rows.reduce((a, r) => a + r.bitops * r.bitops, 0);
  const meanError = (predicted: readonly number[]) => predicted.reduce((a, p, i) => a + Math.abs(p - measured[i]!) / measured[i]!, 0) / rows.length;
  return {
    rows,
    tauTable: kendallTau(
      rows.map((r) => r.predictedMs),
      measured,
    ),
    tauBitops: kendallTau(
      rows.map((r) => r.bitops),
      measured,
    ),
    tableError: meanError(rows.map((r) => r.predictedMs)),
    bitopsError: meanError(rows.map((r) => r.bitops * k)),
    machine: machine(),
  };
}
