import { tf } from '@quantnas/core-ops';
import { writeFileAtomicSync, type PatchBatch, type PatchSampler } from '@quantnas/data';
import {
  baselineGenotype,
  genotypeCost,
  genotypeSvg,
  genotypeToJson,
  type Genotype,
  type SearchSpaceSpec,
  type SpacePlan,
  type Supernet,
} from '@quantnas/search-spaces';
import type { Adam } from './adam.js';
import type { StoredTensor } from './checkpoint.js';
import { COST_INPUT, SearchError, type DeriveMethod, type SearchConfig } from './config.js';
import { derivePath, type PathDerivation } from './derive.js';
import type { GenotypeBlocks, SearchEvent } from './events.js';
import { storedTensors, type JobRun } from './job.js';
import { latencyPairCosts, LatencyTableError, uniformLatency } from './latency/table.js';
import type { DataParallel } from './parallel/index.js';
import { samplePath, samplesPath } from './path-sampling.js';
import { cosineLr, entropyScheduleWeight } from './schedule.js';
import type { GenotypeRecord, LoopState, SearchFiles, SearchSummary } from './search-types.js';
import { alphaStep, weightStep, type AlphaStepInfo, type AlphaStepOptions, type LatencyTerm } from './steps.js';
import { validationPsnr } from './train/validation.js';

/** Everything a running search's steps touch. */
export interface SearchRun {
  readonly job: JobRun<LoopState, SearchEvent>;
  readonly state: LoopState;
  readonly spec: SearchSpaceSpec;
  readonly net: Supernet;
  /** The supernet's weights and α, as the optimisers update them. */
  readonly weights: ReadonlyMap<string, tf.Variable>;
  readonly alphas: ReadonlyMap<string, tf.Variable>;
  readonly wAdam: Adam;
  readonly alphaAdam: Adam;
  readonly samplers: { readonly w: PatchSampler; readonly alpha: PatchSampler };
  readonly validation: PatchBatch;
  readonly parallel: DataParallel | undefined;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** The latency penalty's term, when the search has one (latencyTermOf). */
  readonly latency: LatencyTerm | undefined;
}

/** The latency penalty of a configuration on its supernet's plan; throws SearchError when the table does not fit it. */
export function latencyTermOf(config: SearchConfig, plan: SpacePlan): LatencyTerm | undefined {
  // Checkpoints from before the latency penalty have neither key.
  if (!(config.latencyPenalty > 0) || !config.latencyTable) return undefined;
  try {
    const costs = latencyPairCosts(config.latencyTable, plan);
    return { penalty: config.latencyPenalty, l0: uniformLatency(costs), costs };
  } catch (error) {
    if (error instanceof LatencyTableError) throw new SearchError(error.message);
    throw error;
  }
}

const lrImage = (batch: PatchBatch) => tf.tensor4d(batch.lr, batch.lrShape);
const hrImage = (batch: PatchBatch) => tf.tensor4d(batch.hr, batch.hrShape);

/**
 * One search step (docs/method.md §7): after the α warm-up an α step on a batch of the α split
 * (L1 + entropy term + λ·B(α)/B(α₀)), then a w step on a batch of the w split (L1), on the
 * mixture or on a sampled path.
 */
export async function searchStep(run: SearchRun): Promise<void> {
  const { state, net, parallel } = run;
  const config = state.config;
  const epoch = Math.floor(state.step / run.stepsPerEpoch);
  let alphaInfo: AlphaStepInfo | undefined;
  if (epoch >= config.warmupEpochs) {
    const batch = await run.samplers.alpha.next();
    if (state.b0 === null) {
      const b = net.expectedBitops();
      state.b0 = (await b.data())[0]!;
      b.dispose();
    }
    const alphaOptions: AlphaStepOptions = {
      entropy: config.entropy,
      entropyWeight: config.entropyWeight * entropyScheduleWeight(epoch, config.epochs, config.warmupEpochs),
      penalty: config.penalty,
      b0: state.b0,
      ...(run.latency ? { latency: run.latency } : {}),
      lr: config.alphaLr,
    };
    alphaInfo = parallel
      ? await parallel.alphaStep(batch, run.alphaAdam, alphaOptions)
      : await alphaStep(net, run.alphas, run.alphaAdam, lrImage(batch), hrImage(batch), alphaOptions);
    state.trainingForwards++;
    state.alphaSteps++;
    await net.updateSkippedOps();
  }
  const lr = cosineLr(state.step, run.totalSteps, config.wLr, config.wLrMin);
  const batch = await run.samplers.w.next();
  const trained = samplesPath(config.pathSampling ?? 'none', epoch, config.warmupEpochs) ? await samplePath(net, config.seed, state.step) : undefined;
  if (trained) parallel?.alphaAssigned();
  let wLoss: number;
  try {
    wLoss = parallel
      ? await parallel.weightStep(batch, run.wAdam, lr, config.wGradClip)
      : await weightStep(net, run.weights, run.wAdam, lrImage(batch), hrImage(batch), lr, config.wGradClip);
  } finally {
    if (trained) {
      await trained.restore();
      parallel?.alphaAssigned();
    }
  }
  state.trainingForwards++;
  state.step++;
  state.epochSums.wLoss += wLoss;
  state.epochSums.wCount++;
  if (alphaInfo) {
    state.epochSums.alphaLoss += alphaInfo.loss;
    state.epochSums.alphaCount++;
  }
  if (!Number.isFinite(wLoss) || (alphaInfo && !Number.isFinite(alphaInfo.loss))) {
    throw new SearchError(
      `the search diverged at step ${state.step} (w loss ${wLoss}${alphaInfo ? `, α loss ${alphaInfo.loss}` : ''}); try a lower learning rate`,
    );
  }
  run.job.emit({
    status: 'step',
    epoch,
    step: state.step,
    totalSteps: run.totalSteps,
    wLoss,
    lr,
    ...(alphaInfo
      ? {
          alphaLoss: alphaInfo.loss,
          alphaL1: alphaInfo.l1,
          entropy: alphaInfo.entropy,
          entropyTerm: alphaInfo.entropyTerm,
          penaltyTerm: alphaInfo.penaltyTerm,
          expectedBitops: alphaInfo.expectedBitops,
          ...(run.latency ? { latencyTerm: alphaInfo.latencyTerm, expectedLatencyMs: alphaInfo.expectedLatency } : {}),
        }
      : {}),
  });
}

/** An epoch's end: validation PSNR, the arg-max genotype, the best one so far, the epoch event. */
export async function endSearchEpoch(run: SearchRun, epoch: number): Promise<void> {
  const { state, net } = run;
  const config = state.config;
  const record = await deriveRecord(net, epoch, await validationPsnr(net, run.validation, config.scale, config.batchSize));
  state.last = record;
  // Before α has trained every epoch derives pair 0 everywhere: not a search result.
  const eligible = epoch >= config.warmupEpochs;
  const isBest = eligible && (state.best === null || record.validationPsnr > state.best.validationPsnr);
  if (isBest) state.best = record;
  const entropy = net.entropy();
  const topProbability = await lowestTopProbability(net);
  const sums = state.epochSums;
  run.job.emit({
    status: 'epoch',
    epoch,
    wLoss: sums.wLoss / sums.wCount,
    ...(sums.alphaCount > 0 ? { alphaLoss: sums.alphaLoss / sums.alphaCount } : {}),
    entropy: (await entropy.data())[0]!,
    topProbability,
    expectedBitops: record.expectedBitops,
    exactBitops: record.exactBitops,
    validationPsnr: record.validationPsnr,
    best: isBest,
    seconds: run.job.seconds,
    genotype: record.genotype.blocks as GenotypeBlocks,
  });
  entropy.dispose();
  state.epochSums = { wLoss: 0, alphaLoss: 0, wCount: 0, alphaCount: 0 };
}

/** The tensors of a search checkpoint: the supernet's variables and both optimisers' moments. */
export async function searchSnapshot(run: SearchRun): Promise<Map<string, StoredTensor>> {
  run.state.wAdamSteps = run.wAdam.steps;
  run.state.alphaAdamSteps = run.alphaAdam.steps;
  return storedTensors([
    ['var', run.net.variables()],
    ['adam.w', run.wAdam.stateTensors()],
    ['adam.alpha', run.alphaAdam.stateTensors()],
  ]);
}

/**
 * The outputs of a finished search: the last and best genotypes (the last one re-derived by the
 * path descent or the baseline check when asked), the drawing, the summary written last.
 */
export async function finishSearch(run: SearchRun, files: SearchFiles, backend: string): Promise<SearchSummary> {
  const { state, net, spec } = run;
  const config = state.config;
  let last = state.last!;
  const deriveMethod = config.derive ?? 'alpha';
  let derivation: PathDerivation | undefined;
  if (deriveMethod !== 'alpha') {
    derivation = await deriveByPaths(run, last.genotype, deriveMethod);
    last = { ...last, genotype: derivation.genotype, exactBitops: net.exactBitops(derivation.genotype), validationPsnr: derivation.validationPsnr };
    run.job.emit({
      status: 'note',
      message: `derived by ${deriveMethod}: started from ${derivation.start} (objective ${derivation.startObjective.toFixed(5)}), ${derivation.evaluations} paths scored, objective ${derivation.objective.toFixed(5)}, validation ${derivation.validationPsnr.toFixed(2)} dB`,
    });
  }
  const best = state.best ?? last;
  const lastGenotype = { ...last.genotype, derivedFrom: { epoch: last.epoch, selection: 'last' as const } };
  const bestGenotype = { ...best.genotype, derivedFrom: { epoch: best.epoch, selection: 'best-validation' as const } };
  writeGenotype(files.genotype, lastGenotype, last);
  writeGenotype(files.genotypeBest, bestGenotype, best);
  writeFileAtomicSync(files.svg, genotypeSvg(spec, lastGenotype, config.cells !== null ? { cells: config.cells } : {}));
  const cost = genotypeCost(net.plan, lastGenotype, { input: COST_INPUT });
  const summary: SearchSummary = {
    schemaVersion: 1,
    space: spec.id,
    config,
    backend,
    steps: state.step,
    alphaSteps: state.alphaSteps,
    seconds: state.seconds,
    initialExpectedBitops: state.b0,
    last: { ...last, genotype: lastGenotype },
    best: { ...best, genotype: bestGenotype },
    macsPerPixel: cost.total.macs / (COST_INPUT.height * COST_INPUT.width),
    params: cost.total.params,
    costInput: COST_INPUT,
    ...(derivation
      ? {
          derivation: {
            method: deriveMethod as Exclude<DeriveMethod, 'alpha'>,
            start: derivation.start,
            startObjective: derivation.startObjective,
            objective: derivation.objective,
            evaluations: derivation.evaluations,
          },
        }
      : {}),
    files,
  };
  run.job.emit({ status: 'done', genotypePath: files.genotype, bestGenotypePath: files.genotypeBest, seconds: state.seconds });
  run.job.finish(summary);
  return summary;
}

/** `path` and `checked` derivation: α's arg-max and the space's uniform-bit baselines scored on the supernet. */
function deriveByPaths(run: SearchRun, alphaGenotype: Genotype, method: Exclude<DeriveMethod, 'alpha'>): Promise<PathDerivation> {
  const { net, state, spec } = run;
  const config = state.config;
  const bits = [...new Set(net.plan.groups.flatMap((g) => g.bits))].sort((a, b) => b - a);
  const shape = { channels: net.plan.channels, cells: net.plan.cells, scale: net.plan.scale };
  return derivePath(net, {
    validation: run.validation,
    chunk: config.batchSize,
    scale: config.scale,
    penalty: config.penalty,
    b0: state.b0,
    ...(run.latency ? { latency: run.latency } : {}),
    starts: [
      { name: 'alpha', genotype: alphaGenotype },
      ...bits.map((b) => ({ name: `baseline@${b}`, genotype: baselineGenotype(spec, { bits: b, ...shape }).genotype })),
    ],
    // `checked` only picks the best start; `path` descends from it.
    ...(method === 'checked' ? { sweeps: 0 } : {}),
  });
}

async function deriveRecord(net: Supernet, epoch: number, validation: number): Promise<GenotypeRecord> {
  const genotype = await net.argmaxGenotype();
  const b = net.expectedBitops();
  const expectedBitops = (await b.data())[0]!;
  b.dispose();
  return { epoch, genotype, expectedBitops, exactBitops: net.exactBitops(genotype), validationPsnr: validation };
}

function writeGenotype(path: string, genotype: Genotype, record: GenotypeRecord): void {
  const doc = {
    ...JSON.parse(genotypeToJson(genotype)),
    validationPsnr: record.validationPsnr,
    expectedBitops: record.expectedBitops,
    exactBitops: record.exactBitops,
    costInput: COST_INPUT,
  };
  writeFileAtomicSync(path, JSON.stringify(doc, null, 2) + '\n');
}

/** How decided the least decided block is: min over α groups of the largest pair probability. */
async function lowestTopProbability(net: Supernet): Promise<number> {
  let lowest = 1;
  for (const p of net.probabilities().values()) {
    const values = await p.data();
    p.dispose();
    lowest = Math.min(lowest, Math.max(...values));
  }
  return lowest;
}
