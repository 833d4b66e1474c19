import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureBackend, tf, type BackendName } from '@quantnas/core-ops';
import { createRng, listTrainingImages, resolveDataRoot } from '@quantnas/data';
import { kendallTau } from '@quantnas/metrics';
import {
  baselineGenotype,
  createSupernet,
  GENOTYPE_SCHEMA_VERSION,
  validateSpec,
  type Genotype,
  type SearchSpaceSpec,
  type Supernet,
} from '@quantnas/search-spaces';
import { loadLatestCheckpoint, previousCheckpointPath } from './checkpoint.js';
import { writeFileAtomicSync } from '@quantnas/data';
import { SearchError, type BitWidth } from './config.js';
import { assignPath, derivePath } from './derive.js';
import type { TrainEvent } from './events.js';
import { searchFiles, searchSamplers, supernetOptionsFor, type SearchSummary } from './search.js';
import type { TrainConfigOverrides } from './train/config.js';
import { restoreVariables } from './train/network.js';
import { runTraining, trainFiles } from './train/train.js';
import type { TrainResult } from './train/train-types.js';
import { validationPsnr } from './train/validation.js';

export interface DiagnoseOptions {
  /** A finished search's directory: summary.json, space.json and its last checkpoint. */
  readonly search: string;
  /** Where the report and the stand-alone trainings go; trainings found there are reused. */
  readonly out: string;
  /** Random genotypes drawn uniformly from the space (default 6). */
  readonly random?: number;
  /** Training steps of each stand-alone genotype (default 300, the quick training preset's batches). */
  readonly steps?: number;
  /** Seed of the random draw and of every stand-alone training (default 1). */
  readonly seed?: number;
  /** Held-out patches for the supernet's path scores and the stand-alone PSNR (default 64). */
  readonly patches?: number;
  /** Settings of the stand-alone trainings over the quick training preset's (batch, patch size, sets…). */
  readonly training?: Omit<TrainConfigOverrides, 'preset' | 'epochs' | 'stepsPerEpoch' | 'seed' | 'validationPatches' | 'workers'>;
  readonly workers?: number;
  readonly dataRoot?: string;
  readonly backend?: BackendName;
}

/** One genotype of the diagnosis with its stand-alone result and the supernet's two opinions of it. */
export interface DiagnosedGenotype {
  readonly name: string;
  /**
   * `baseline`: the space's hand-made ops at uniform bits; `bits`: the high-bit baseline with one
   * block at the lowest bits; `random`; `derived`: read off this search: `searched` (its
   * genotype.json), `alpha` (α's arg-max) and `path` (the path descent of `derive: path`).
   */
  readonly kind: 'baseline' | 'bits' | 'random' | 'derived';
  /** For `bits`: the α group dropped to the lowest bit-width. */
  readonly block?: string;
  readonly genotype: Genotype;
  readonly bitops: number;
  /** Validation PSNR after `steps` steps of stand-alone QAT training. */
  readonly standalonePsnr: number;
  /** Σ over α groups of log softmax(α) of the genotype's pair: how strongly the search prefers it. */
  readonly alphaLogProbability: number;
  /** The supernet's validation PSNR with α fixed to the genotype's path (one-hot), its weights as trained. */
  readonly pathPsnr: number;
}

/** Per α group: how much dropping it to the lowest bits costs, measured and as the supernet sees it. */
export interface BitSensitivity {
  readonly block: string;
  /** Stand-alone PSNR of the high-bit baseline minus that with this block at the lowest bits. */
  readonly standaloneDrop: number;
  /** log P(high bits) − log P(low bits) of the group under α (marginal over ops). */
  readonly alphaPreference: number;
  /** The same drop of the supernet's path PSNR. */
  readonly pathDrop: number;
}

export interface Diagnosis {
  readonly schemaVersion: 1;
  readonly search: string;
  readonly space: string;
  readonly steps: number;
  readonly seed: number;
  readonly bits: { readonly high: number; readonly low: number };
  readonly genotypes: readonly DiagnosedGenotype[];
  readonly sensitivities: readonly BitSensitivity[];
  /**
   * Kendall τ-b against the stand-alone PSNR over every genotype but the derived ones (a set that
   * does not depend on the search, so two searches' τ compare), and over the blocks' bit drops.
   */
  readonly tau: {
    readonly alpha: number;
    readonly path: number;
    readonly bitsAlpha: number;
    readonly bitsPath: number;
  };
  /** Per derived genotype (searched, alpha, path): where its stand-alone PSNR ranks among the fixed set and it (1 = best). */
  readonly ranks: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export type DiagnoseEvent =
  | { readonly status: 'genotype'; readonly index: number; readonly total: number; readonly name: string; readonly reused: boolean }
  | { readonly status: 'train'; readonly name: string; readonly event: TrainEvent }
  | { readonly status: 'scored'; readonly name: string; readonly standalonePsnr: number; readonly pathPsnr: number; readonly alphaLogProbability: number };

export interface DiagnoseHooks {
  readonly onEvent?: (event: DiagnoseEvent) => void;
  readonly workerScript?: URL | string;
}

/**
 * Is the search's signal informative? Trains a fixed set of genotypes of the searched space
 * stand-alone at a small budget (the space's baseline ops at each uniform bit-width, the high-bit
 * baseline with one block at a time at the lowest bits, random genotypes) and the search's own
 * result, then ranks them by what the finished supernet says: its α, and its validation PSNR with
 * the path fixed to each genotype. Kendall τ between those and the stand-alone PSNR says how well
 * the search ranks; per block, the same for the bit choice. Stand-alone runs are cached in `out`
 * by genotype and budget, so diagnosing a second search of the same space trains only its result.
 */
export async function diagnoseSearch(options: DiagnoseOptions, hooks: DiagnoseHooks = {}): Promise<Diagnosis> {
  const started = performance.now();
  const searchDir = resolve(options.search);
  const files = searchFiles(searchDir);
  if (!existsSync(files.summary)) throw new SearchError(`${searchDir} holds no finished search (summary.json); run or resume the search first`);
  const summary = JSON.parse(readFileSync(files.summary, 'utf8')) as SearchSummary;
  const spec = validateSpec(JSON.parse(readFileSync(files.space, 'utf8')), files.space);
  const checkpoint = loadLatestCheckpoint<unknown>(files.checkpoint);
  if (!checkpoint) throw new SearchError(`${searchDir} has no checkpoint with the supernet's weights (checkpoint.qnc)`);
  const steps = options.steps ?? 300;
  const seed = options.seed ?? 1;
  const randomCount = options.random ?? 6;
  const patches = options.patches ?? 64;
  for (const [name, value, min] of [
    ['steps', steps, 1],
    ['random', randomCount, 0],
    ['patches', patches, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) throw new SearchError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
  if (!Number.isSafeInteger(seed)) throw new SearchError(`seed must be an integer, got ${seed}`);

  await ensureBackend(options.backend);
  const config = summary.config;
  const net = createSupernet(spec, supernetOptionsFor(config));
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  try {
    await restoreVariables(net, checkpoint.tensors, checkpoint.path, config.lrPatchSize);
    const plan = net.plan;
    const bitsOf = plan.groups[0]!.bits;
    const high = Math.max(...bitsOf) as BitWidth;
    const low = Math.min(...bitsOf) as BitWidth;

    const candidates = fixedCandidates(spec, net, seed, randomCount);
    const searched = JSON.parse(readFileSync(files.genotype, 'utf8')) as Genotype;
    candidates.push({ name: 'searched', kind: 'derived', genotype: withBlocks(plan, searched.blocks) });
    candidates.push({ name: 'alpha', kind: 'derived', genotype: withBlocks(plan, (await net.argmaxGenotype()).blocks) });

    // The supernet's opinions: α as trained, then each path on the search's held-out patches.
    const images = await listTrainingImages(resolveDataRoot({ explicit: options.dataRoot }), config.trainSets);
    const validation = await searchSamplers({ ...config, validationPatches: patches }, images).validation.next();
    const logProbabilities = await groupLogProbabilities(net);
    const alphaLogProbability = (g: Genotype) => genotypeLogProbability(plan, logProbabilities, g);
    const derivation = await derivePath(net, {
      validation,
      chunk: config.batchSize,
      scale: plan.scale,
      penalty: config.penalty,
      b0: summary.initialExpectedBitops,
      starts: [{ name: 'alpha', genotype: candidates.find((c) => c.name === 'alpha')!.genotype }, ...candidates.filter((c) => c.kind === 'baseline')],
    });
    candidates.push({ name: 'path', kind: 'derived', genotype: withBlocks(plan, derivation.genotype.blocks) });
    const trained = new Map(net.alphas().map((a) => [a.id, a.variable.clone()]));
    const pathPsnr = (g: Genotype) => roundedPathPsnr(net, g, validation, config.batchSize);

    const results: DiagnosedGenotype[] = [];
    try {
      for (const [index, candidate] of candidates.entries()) {
        const result = await trainStandalone(candidate, index, candidates.length, {
          spec,
          cells: plan.cells,
          adq: config.adq,
          steps,
          seed,
          patches,
          out,
          options,
          hooks,
        });
        const scored: DiagnosedGenotype = {
          name: candidate.name,
          kind: candidate.kind,
          ...(candidate.block !== undefined ? { block: candidate.block } : {}),
          genotype: candidate.genotype,
          bitops: net.exactBitops(candidate.genotype),
          standalonePsnr: result.lastValidationPsnr,
          alphaLogProbability: alphaLogProbability(candidate.genotype),
          pathPsnr: await pathPsnr(candidate.genotype),
        };
        hooks.onEvent?.({
          status: 'scored',
          name: scored.name,
          standalonePsnr: scored.standalonePsnr,
          pathPsnr: scored.pathPsnr,
          alphaLogProbability: scored.alphaLogProbability,
        });
        results.push(scored);
      }
    } finally {
      for (const alpha of net.alphas()) alpha.variable.assign(trained.get(alpha.id)!);
      tf.dispose([...trained.values()]);
    }

    const diagnosis = summarise(results, {
      search: searchDir,
      space: spec.id,
      steps,
      seed,
      high,
      low,
      plan,
      logProbabilities,
      seconds: (performance.now() - started) / 1000,
    });
    const path = join(out, 'diagnosis.json');
    writeFileAtomicSync(path, JSON.stringify(diagnosis, null, 2) + '\n');
    return diagnosis;
  } finally {
    net.dispose();
  }
}

type Candidate = { name: string; kind: DiagnosedGenotype['kind']; block?: string; genotype: Genotype };

const withBlocks = (plan: Supernet['plan'], blocks: Genotype['blocks']): Genotype => ({
  schemaVersion: GENOTYPE_SCHEMA_VERSION,
  space: plan.id,
  scale: plan.scale,
  channels: plan.channels,
  blocks,
});

/** The fixed set: the baseline ops at each bit-width, the high-bit baseline with each block at the lowest bits, random genotypes. */
function fixedCandidates(spec: SearchSpaceSpec, net: Supernet, seed: number, randomCount: number): Candidate[] {
  const plan = net.plan;
  const bitsOf = plan.groups[0]!.bits;
  const low = Math.min(...bitsOf) as BitWidth;
  const shape = { channels: plan.channels, cells: plan.cells, scale: plan.scale };
  const candidates: Candidate[] = [];
  for (const bits of [...new Set(bitsOf)].sort((a, b) => b - a)) {
    candidates.push({ name: `baseline@${bits}`, kind: 'baseline', genotype: baselineGenotype(spec, { bits, ...shape }).genotype });
  }
  const top = candidates[0]!.genotype;
  if (low !== Math.max(...bitsOf)) {
    for (const group of plan.groups) {
      const blocks = { ...top.blocks, [group.id]: { op: top.blocks[group.id]!.op, bits: low } };
      candidates.push({ name: `${group.id}@${low}`, kind: 'bits', block: group.id, genotype: withBlocks(plan, blocks) });
    }
  }
  const rng = createRng(seed).fork('diagnose.random');
  for (let i = 0; i < randomCount; i++) {
    const blocks = Object.fromEntries(plan.groups.map((g) => [g.id, g.pairs[rng.int(g.pairs.length)]!]));
    candidates.push({ name: `random${i + 1}`, kind: 'random', genotype: withBlocks(plan, blocks) });
  }
  return candidates;
}

/** A candidate trained stand-alone at the diagnosis budget, or read back from the cache in `out`. */
async function trainStandalone(
  candidate: Candidate,
  index: number,
  total: number,
  c: {
    spec: SearchSpaceSpec;
    cells: number;
    adq: boolean;
    steps: number;
    seed: number;
    patches: number;
    out: string;
    options: DiagnoseOptions;
    hooks: DiagnoseHooks;
  },
): Promise<Extract<TrainResult, { completed: true }>> {
  const dir = join(
    c.out,
    'standalone',
    standaloneKey(candidate.genotype, {
      space: c.spec.id,
      cells: c.cells,
      adq: c.adq,
      steps: c.steps,
      seed: c.seed,
      patches: c.patches,
      training: c.options.training ?? {},
    }),
  );
  const train = trainFiles(dir);
  const reused = existsSync(train.summary);
  c.hooks.onEvent?.({ status: 'genotype', index, total, name: candidate.name, reused });
  const resume = reused || existsSync(train.checkpoint) || existsSync(previousCheckpointPath(train.checkpoint));
  const result = await runTraining(
    {
      genotype: candidate.genotype,
      space: c.spec,
      cells: c.cells,
      adq: c.adq,
      out: dir,
      resume,
      preset: 'quick',
      checkpointEvery: 100,
      ...c.options.training,
      epochs: 1,
      stepsPerEpoch: c.steps,
      validationPatches: c.patches,
      seed: c.seed,
      ...(c.options.workers !== undefined ? { workers: c.options.workers } : {}),
      ...(c.options.dataRoot !== undefined ? { dataRoot: c.options.dataRoot } : {}),
    },
    {
      onEvent: (event) => c.hooks.onEvent?.({ status: 'train', name: candidate.name, event }),
      ...(c.hooks.workerScript !== undefined ? { workerScript: c.hooks.workerScript } : {}),
    },
  );
  if (!result.completed) throw new SearchError(`the stand-alone training of ${candidate.name} stopped early`);
  return result;
}

/** The rank correlations, the per-block bit sensitivities and the derived genotypes' ranks. */
function summarise(
  results: readonly DiagnosedGenotype[],
  c: {
    search: string;
    space: string;
    steps: number;
    seed: number;
    high: BitWidth;
    low: BitWidth;
    plan: Supernet['plan'];
    logProbabilities: Map<string, Float32Array>;
    seconds: number;
  },
): Diagnosis {
  const { high, low } = c;
  const fixed = results.filter((r) => r.kind !== 'derived');
  const reference = results.find((r) => r.name === `baseline@${high}`)!;
  const sensitivities: BitSensitivity[] = results
    .filter((r) => r.kind === 'bits')
    .map((r) => {
      const group = c.plan.groups.find((g) => g.id === r.block)!;
      const logP = c.logProbabilities.get(group.id)!;
      const marginal = (bits: number) => Math.log(group.pairs.reduce((sum, p, i) => sum + (p.bits === bits ? Math.exp(logP[i]!) : 0), 0));
      return {
        block: r.block!,
        standaloneDrop: reference.standalonePsnr - r.standalonePsnr,
        alphaPreference: marginal(high) - marginal(low),
        pathDrop: reference.pathPsnr - r.pathPsnr,
      };
    });
  const tau = (x: readonly number[], y: readonly number[]) => (x.length >= 2 ? kendallTau(x, y) : Number.NaN);
  const standalone = fixed.map((r) => r.standalonePsnr);
  const drops = sensitivities.map((s) => s.standaloneDrop);
  return {
    schemaVersion: 1,
    search: c.search,
    space: c.space,
    steps: c.steps,
    seed: c.seed,
    bits: { high, low },
    genotypes: [...results],
    sensitivities,
    tau: {
      alpha: tau(
        fixed.map((r) => r.alphaLogProbability),
        standalone,
      ),
      path: tau(
        fixed.map((r) => r.pathPsnr),
        standalone,
      ),
      bitsAlpha: tau(
        sensitivities.map((s) => s.alphaPreference),
        drops,
      ),
      bitsPath: tau(
        sensitivities.map((s) => s.pathDrop),
        drops,
      ),
    },
    ranks: Object.fromEntries(
      results.filter((r) => r.kind === 'derived').map((r) => [r.name, 1 + fixed.filter((f) => f.standalonePsnr > r.standalonePsnr).length]),
    ),
    seconds: c.seconds,
  };
}

/** log P(genotype) under α: the sum over blocks of its pair's log probability. */
function genotypeLogProbability(plan: Supernet['plan'], logProbabilities: ReadonlyMap<string, Float32Array>, g: Genotype): number {
  return plan.groups.reduce((sum, group) => {
    const choice = g.blocks[group.id]!;
    const index = group.pairs.findIndex((p) => p.op === choice.op && p.bits === choice.bits);
    return sum + logProbabilities.get(group.id)![index]!;
  }, 0);
}

/** The supernet's validation PSNR with its path fixed to a genotype, bit-widths rounded as the path derivation scores them. */
async function roundedPathPsnr(net: Supernet, g: Genotype, validation: Parameters<typeof validationPsnr>[1], chunk: number): Promise<number> {
  await assignPath(net, g);
  const evaluation = net.evaluation;
  net.evaluation = 'rounded';
  try {
    return await validationPsnr(net, validation, net.plan.scale, chunk);
  } finally {
    net.evaluation = evaluation;
  }
}

/** log softmax(α) per group, read once. */
async function groupLogProbabilities(net: Supernet): Promise<Map<string, Float32Array>> {
  const result = new Map<string, Float32Array>();
  for (const alpha of net.alphas()) {
    const logP = tf.logSoftmax(alpha.variable);
    result.set(alpha.id, (await logP.data()) as Float32Array);
    logP.dispose();
  }
  return result;
}

/** A stand-alone run's folder name: everything that determines its result. */
function standaloneKey(genotype: Genotype, settings: Record<string, unknown>): string {
  const what = JSON.stringify({ ...settings, channels: genotype.channels, scale: genotype.scale, blocks: genotype.blocks });
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}
