import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { currentBackend, hashSeed, initBackend, tf, type BackendName } from '@quantnas/core-ops';
import { createPatchSampler, listTrainingImages, resolveDataRoot, splitImages, type PatchBatch, type PatchSampler, type TrainingImage } from '@quantnas/data';
import {
  baselineGenotype,
  createSupernet,
  genotypeCost,
  genotypeSvg,
  genotypeToJson,
  isFixedArchitecture,
  isSpaceId,
  loadSpec,
  validateSpec,
  type Genotype,
  type SearchSpaceSpec,
  type Supernet,
  type SupernetOptions,
} from '@quantnas/search-spaces';
import { createAdam, type Adam } from './adam.js';
import { loadLatestCheckpoint, previousCheckpointPath, writeCheckpointFile, type StoredTensor } from './checkpoint.js';
import { resolveSearchConfig, SearchError, type BitWidth, type DeriveMethod, type EntropyKind, type SearchConfig, type SearchOptionsOverrides } from './config.js';
import { eventLine, type GenotypeBlocks, type SearchEvent } from './events.js';
import { startDataParallel, type DataParallel } from './parallel/index.js';
import { cosineLr, entropyScheduleWeight } from './schedule.js';
import { derivePath, type PathDerivation } from './derive.js';
import { replayForwards, samplePath, samplesPath, searchForwards, type ForwardReplay } from './path-sampling.js';
import { resumeConflict } from './resume-settings.js';
import { validationPsnr } from './train/validation.js';

export interface SearchOptions extends Omit<SearchOptionsOverrides, 'space'> {
  /** A space id, the path of a space document, or the document itself. */
  readonly space: string | SearchSpaceSpec;
  /** Output directory (created if missing). */
  readonly out: string;
  /** Continue the run in `out` from its last good checkpoint (or read a finished one back). */
  readonly resume?: boolean;
  /** Data root holding the training sets; default: `resolveDataRoot()`'s search. */
  readonly dataRoot?: string;
  /** Backend to initialise; default: the current one if any, else wasm. */
  readonly backend?: BackendName;
}

export interface SearchHooks {
  readonly onEvent?: (event: SearchEvent) => void;
  /** Stops the run after the step in progress; a checkpoint is written first. */
  readonly signal?: AbortSignal;
  /** The worker script of `workers` > 1; default: the built package's (`defaultWorkerScript`). */
  readonly workerScript?: URL | string;
}

/** A derived genotype with the costs and validation quality of the epoch it came from. */
export interface GenotypeRecord {
  readonly epoch: number;
  readonly genotype: Genotype;
  /** B(α) at the derivation (the penalty's expected cost, searchable blocks only). */
  readonly expectedBitops: number;
  /** BitOps of the genotype's network at 32×32 LR, fixed layers included. */
  readonly exactBitops: number;
  readonly validationPsnr: number;
}

export interface SearchFiles {
  readonly genotype: string;
  readonly genotypeBest: string;
  readonly svg: string;
  readonly events: string;
  readonly summary: string;
  readonly checkpoint: string;
  readonly space: string;
}

export interface SearchSummary {
  readonly schemaVersion: 1;
  readonly space: string;
  readonly config: SearchConfig;
  readonly backend: string;
  readonly steps: number;
  readonly alphaSteps: number;
  /** Wall time of the search itself, summed over resumed parts. */
  readonly seconds: number;
  /** B(α₀): the expected BitOps at the first α step, the penalty's normaliser. */
  readonly initialExpectedBitops: number | null;
  readonly last: GenotypeRecord;
  readonly best: GenotypeRecord;
  /** MACs per LR pixel of the last genotype's network. */
  readonly macsPerPixel: number;
  readonly params: number;
  readonly costInput: { readonly height: number; readonly width: number };
  /** With `derive: path`: where the descent started and how far it improved the objective (L1 + λ·B/B₀). */
  readonly derivation?: { readonly method: Exclude<DeriveMethod, 'alpha'>; readonly start: string; readonly startObjective: number; readonly objective: number; readonly evaluations: number };
  readonly files: SearchFiles;
}

export type SearchResult =
  | ({ readonly completed: true } & SearchSummary)
  | { readonly completed: false; readonly step: number; readonly totalSteps: number; readonly checkpoint: string; readonly files: SearchFiles };

/** What a checkpoint's header carries besides the tensors. */
interface LoopState {
  config: SearchConfig;
  step: number;
  alphaSteps: number;
  /** Training forwards so far: they advance the supernet's noise and Gumbel counters. */
  trainingForwards: number;
  b0: number | null;
  best: GenotypeRecord | null;
  last: GenotypeRecord | null;
  epochSums: { wLoss: number; alphaLoss: number; wCount: number; alphaCount: number };
  seconds: number;
  logBytes: number;
  wAdamSteps: number;
  alphaAdamSteps: number;
}

const CHECKPOINT_FILE = 'checkpoint.qnc';
const COST_INPUT = { height: 32, width: 32 } as const;

export function searchFiles(out: string): SearchFiles {
  const dir = resolve(out);
  return {
    genotype: join(dir, 'genotype.json'),
    genotypeBest: join(dir, 'genotype-best.json'),
    svg: join(dir, 'genotype.svg'),
    events: join(dir, 'search.jsonl'),
    summary: join(dir, 'summary.json'),
    checkpoint: join(dir, CHECKPOINT_FILE),
    space: join(dir, 'space.json'),
  };
}

/**
 * The search of docs/method.md §1 and §7: alternating first-order DARTS over (operation, bit-width)
 * pairs. Each step after the α warm-up takes an α step on a batch of the α split (L1 + entropy
 * term + λ·B(α)/B(α₀)), then a w step on a batch of the w split (L1). Every epoch ends with a
 * validation PSNR on fixed held-out patches and the arg-max genotype. Everything random follows
 * `seed`; checkpoints let a killed run resume to the same result.
 */
export async function runSearch(options: SearchOptions, hooks: SearchHooks = {}): Promise<SearchResult> {
  const files = searchFiles(options.out);
  const dir = resolve(options.out);
  const { resume = false } = options;

  if (existsSync(files.summary)) {
    if (!resume) throw new SearchError(`${dir} already holds a finished search (summary.json); choose another output directory, or resume to read it back`);
    return { completed: true, ...(JSON.parse(readFileSync(files.summary, 'utf8')) as SearchSummary) };
  }
  const loaded = resume ? loadLatestCheckpoint<LoopState>(files.checkpoint) : undefined;
  if (!resume && (existsSync(files.checkpoint) || existsSync(previousCheckpointPath(files.checkpoint)) || existsSync(files.events))) {
    throw new SearchError(`${dir} holds an unfinished search; resume it, or choose another output directory`);
  }

  // The configuration: the checkpoint's on resume (options may only repeat it), else preset + options.
  const spaceName = typeof options.space === 'string' ? options.space : options.space.id;
  const notes: string[] = [];
  let overrides = pickOverrides(options);
  let config: SearchConfig;
  let spec: SearchSpaceSpec;
  if (loaded) {
    // Checkpoints from before `workers` existed ran on one thread.
    config = { ...loaded.state.config, workers: loaded.state.config.workers ?? 1 };
    const requested = resolveSearchConfig({ ...config, ...overrides, space: spaceName });
    // The worker count belongs to the machine: it may change on resume, at the cost of bit-identity.
    if (requested.workers !== config.workers) {
      notes.push(`resuming with ${requested.workers} worker(s) instead of ${config.workers}: the result will differ from an uninterrupted run`);
      config = { ...config, workers: requested.workers };
    }
    const conflict = resumeConflict(dir, overrides, requested, config, spaceName !== config.space ? ['space'] : []);
    if (conflict) throw new SearchError(conflict);
    spec = validateSpec(JSON.parse(readFileSync(files.space, 'utf8')), files.space);
  } else {
    spec = typeof options.space === 'string' ? await loadSpaceDocument(options.space) : validateSpec(structuredClone(options.space), 'space');
    // A user's document file is searched at the width, scale and cells it states, not the preset's.
    if (typeof options.space === 'string' && !isSpaceId(options.space)) {
      overrides = { channels: spec.channels, scale: spec.scale, ...(spec.cells !== undefined ? { cells: spec.cells } : {}), ...overrides };
    }
    config = fixedArchitectureShape(resolveSearchConfig({ ...overrides, space: spaceName }), overrides, spec);
  }

  const backend = options.backend ? (await initBackend(options.backend)).name : await ensureBackend();
  if (config.workers > 1 && backend !== 'wasm' && backend !== 'cpu') {
    throw new SearchError(`workers > 1 needs the wasm or cpu backend (each worker thread starts its own), not ${backend}`);
  }
  const root = resolveDataRoot({ explicit: options.dataRoot });
  const images = await listTrainingImages(root, config.trainSets);
  const { w: wSampler, alpha: alphaSampler, validation: validationSampler } = searchSamplers(config, images, (m) => notes.push(m));
  const validation = await validationSampler.next();

  const stepsPerEpoch = config.stepsPerEpoch === 'pass' ? wSampler.batchesPerEpoch : config.stepsPerEpoch;
  const totalSteps = config.epochs * stepsPerEpoch;

  mkdirSync(dir, { recursive: true });
  if (!loaded) writeFileSync(files.space, JSON.stringify(spec, null, 2) + '\n');

  const supernetOptions = supernetOptionsFor(config);
  const net = createSupernet(spec, supernetOptions);
  const kernels = config.kernels ?? 'fused';
  const wAdam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: config.wWeightDecay, kernels });
  const alphaAdam = createAdam({ beta1: config.alphaBeta1, beta2: config.alphaBeta2, weightDecay: config.alphaWeightDecay, kernels });
  const weights = net.weightVariables();
  const alphas = net.alphaVariables();

  let log: number | undefined;
  let parallel: DataParallel | undefined;
  try {
    let state: LoopState;
    if (loaded) {
      state = { ...loaded.state, config };
      if (loaded.fellBackFrom) {
        // Set the bad file aside: the next checkpoint must not turn it into the `.prev` one.
        renameSync(loaded.fellBackFrom.path, `${loaded.fellBackFrom.path}.corrupt`);
        notes.push(`${loaded.fellBackFrom.reason}; resuming from the previous checkpoint ${loaded.path} (step ${state.step})`);
      }
      await restore(net, wAdam, alphaAdam, loaded.tensors, state, replayOf(config, state, stepsPerEpoch), config.lrPatchSize);
      for (let i = 0; i < state.step; i++) await wSampler.next();
      for (let i = 0; i < state.alphaSteps; i++) await alphaSampler.next();
      log = openSync(files.events, existsSync(files.events) ? 'r+' : 'w');
      ftruncateSync(log, Math.min(state.logBytes, statSync(files.events).size));
    } else {
      state = {
        config,
        step: 0,
        alphaSteps: 0,
        trainingForwards: 0,
        b0: null,
        best: null,
        last: null,
        epochSums: { wLoss: 0, alphaLoss: 0, wCount: 0, alphaCount: 0 },
        seconds: 0,
        logBytes: 0,
        wAdamSteps: 0,
        alphaAdamSteps: 0,
      };
      log = openSync(files.events, 'w');
    }
    if (config.workers > 1) {
      parallel = await startDataParallel({
        replicas: config.workers,
        net,
        backend: backend as BackendName,
        network: { kind: 'supernet', spec, options: supernetOptions },
        replay: replayOf(config, state, stepsPerEpoch),
        lrPatchSize: config.lrPatchSize,
        ...(hooks.workerScript !== undefined ? { script: hooks.workerScript } : {}),
      });
    }
    const logFd = log;
    let logBytes = state.logBytes;
    const emit = (event: SearchEvent) => {
      const line = Buffer.from(eventLine(event), 'utf8');
      writeSync(logFd, line, 0, line.length, logBytes);
      logBytes += line.length;
      hooks.onEvent?.(event);
    };
    const flushNotes = () => {
      for (const message of notes.splice(0)) emit({ status: 'note', message });
    };

    emit({
      status: 'start',
      space: spec.id,
      backend,
      epochs: config.epochs,
      stepsPerEpoch,
      seed: config.seed,
      mode: config.mode,
      totalSteps,
      ...(loaded ? { resumedFromStep: state.step, checkpoint: loaded.path } : {}),
    });
    flushNotes();

    const saveCheckpoint = async () => {
      state.logBytes = logBytes;
      state.wAdamSteps = wAdam.steps;
      state.alphaAdamSteps = alphaAdam.steps;
      const tensors = new Map<string, StoredTensor>();
      const put = async (name: string, t: tf.Tensor) => tensors.set(name, { shape: t.shape, data: Float32Array.from(await t.data()) });
      for (const [name, v] of net.variables()) await put(`var/${name}`, v);
      for (const [name, t] of wAdam.stateTensors()) await put(`adam.w/${name}`, t);
      for (const [name, t] of alphaAdam.stateTensors()) await put(`adam.alpha/${name}`, t);
      writeCheckpointFile(files.checkpoint, { state, tensors });
      emit({ status: 'checkpoint', epoch: Math.floor(state.step / stepsPerEpoch), step: state.step, path: files.checkpoint });
    };

    const lrImage = (batch: PatchBatch) => tf.tensor4d(batch.lr, batch.lrShape);
    const hrImage = (batch: PatchBatch) => tf.tensor4d(batch.hr, batch.hrShape);
    let started = performance.now();

    while (state.step < totalSteps) {
      const epoch = Math.floor(state.step / stepsPerEpoch);
      let alphaInfo: AlphaStepInfo | undefined;
      if (epoch >= config.warmupEpochs) {
        const batch = await alphaSampler.next();
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
          lr: config.alphaLr,
        };
        alphaInfo = parallel
          ? await parallel.alphaStep(batch, alphaAdam, alphaOptions)
          : await alphaStep(net, alphas, alphaAdam, lrImage(batch), hrImage(batch), alphaOptions);
        state.trainingForwards++;
        state.alphaSteps++;
        await net.updateSkippedOps();
      }
      const lr = cosineLr(state.step, totalSteps, config.wLr, config.wLrMin);
      const batch = await wSampler.next();
      const trained = samplesPath(config.pathSampling ?? 'none', epoch, config.warmupEpochs) ? await samplePath(net, config.seed, state.step) : undefined;
      if (trained) parallel?.alphaAssigned();
      let wLoss: number;
      try {
        wLoss = parallel
          ? await parallel.weightStep(batch, wAdam, lr, config.wGradClip)
          : await weightStep(net, weights, wAdam, lrImage(batch), hrImage(batch), lr, config.wGradClip);
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
        throw new SearchError(`the search diverged at step ${state.step} (w loss ${wLoss}${alphaInfo ? `, α loss ${alphaInfo.loss}` : ''}); try a lower learning rate`);
      }
      emit({
        status: 'step',
        epoch,
        step: state.step,
        totalSteps,
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
            }
          : {}),
      });

      const epochEnd = state.step % stepsPerEpoch === 0;
      if (epochEnd) {
        const record = await derive(net, epoch, await validationPsnr(net, validation, config.scale, config.batchSize));
        state.last = record;
        // Before α has trained every epoch derives pair 0 everywhere: not a search result.
        const eligible = epoch >= config.warmupEpochs;
        const isBest = eligible && (state.best === null || record.validationPsnr > state.best.validationPsnr);
        if (isBest) state.best = record;
        const entropy = net.entropy();
        const topProbability = await lowestTopProbability(net);
        const sums = state.epochSums;
        emit({
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
          seconds: state.seconds + (performance.now() - started) / 1000,
          genotype: record.genotype.blocks as GenotypeBlocks,
        });
        entropy.dispose();
        state.epochSums = { wLoss: 0, alphaLoss: 0, wCount: 0, alphaCount: 0 };
      }
      const now = performance.now();
      state.seconds += (now - started) / 1000;
      started = now;
      const stopping = hooks.signal?.aborted === true && state.step < totalSteps;
      if (epochEnd || state.step % config.checkpointEvery === 0 || stopping) await saveCheckpoint();
      if (stopping) {
        return { completed: false, step: state.step, totalSteps, checkpoint: files.checkpoint, files };
      }
    }

    // Outputs of the finished run.
    let last = state.last!;
    let derivation: PathDerivation | undefined;
    const deriveMethod = config.derive ?? 'alpha';
    if (deriveMethod !== 'alpha') {
      const bits = [...new Set(net.plan.groups.flatMap((g) => g.bits))].sort((a, b) => b - a);
      const shape = { channels: net.plan.channels, cells: net.plan.cells, scale: net.plan.scale };
      derivation = await derivePath(net, {
        validation,
        chunk: config.batchSize,
        scale: config.scale,
        penalty: config.penalty,
        b0: state.b0,
        starts: [
          { name: 'alpha', genotype: last.genotype },
          ...bits.map((b) => ({ name: `baseline@${b}`, genotype: baselineGenotype(spec, { bits: b, ...shape }).genotype })),
        ],
        // `checked` only picks the best start; `path` descends from it.
        ...(deriveMethod === 'checked' ? { sweeps: 0 } : {}),
      });
      last = { ...last, genotype: derivation.genotype, exactBitops: net.exactBitops(derivation.genotype), validationPsnr: derivation.validationPsnr };
      emit({
        status: 'note',
        message: `derived by ${deriveMethod}: started from ${derivation.start} (objective ${derivation.startObjective.toFixed(5)}), ${derivation.evaluations} paths scored, objective ${derivation.objective.toFixed(5)}, validation ${derivation.validationPsnr.toFixed(2)} dB`,
      });
    }
    const best = state.best ?? last;
    const lastGenotype = { ...last.genotype, derivedFrom: { epoch: last.epoch, selection: 'last' as const } };
    const bestGenotype = { ...best.genotype, derivedFrom: { epoch: best.epoch, selection: 'best-validation' as const } };
    writeGenotype(files.genotype, lastGenotype, last);
    writeGenotype(files.genotypeBest, bestGenotype, best);
    atomicWrite(files.svg, genotypeSvg(spec, lastGenotype, config.cells !== null ? { cells: config.cells } : {}));
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
      ...(derivation ? { derivation: { method: deriveMethod as Exclude<DeriveMethod, 'alpha'>, start: derivation.start, startObjective: derivation.startObjective, objective: derivation.objective, evaluations: derivation.evaluations } } : {}),
      files,
    };
    emit({ status: 'done', genotypePath: files.genotype, bestGenotypePath: files.genotypeBest, seconds: state.seconds });
    // summary.json last: its presence marks the run finished.
    atomicWrite(files.summary, JSON.stringify(summary, null, 2) + '\n');
    return { completed: true, ...summary };
  } finally {
    await parallel?.close();
    if (log !== undefined) closeSync(log);
    net.dispose();
    wAdam.dispose();
    alphaAdam.dispose();
  }
}

/** The supernet a search configuration builds (its checkpoints hold this supernet's variables). */
export function supernetOptionsFor(config: SearchConfig): SupernetOptions {
  return {
    mode: config.mode,
    adq: config.adq,
    seed: config.seed,
    ...(config.bits ? { bits: config.bits as BitWidth[] } : {}),
    selector: config.selector,
    temperature: config.temperature,
    noise: config.noise,
    noiseGradient: config.noiseGradient,
    ...(config.channels !== null ? { channels: config.channels } : {}),
    ...(config.cells !== null ? { cells: config.cells } : {}),
    scale: config.scale,
    costInput: COST_INPUT,
    penaltyBits: config.penaltyBits,
    kernels: config.kernels ?? 'fused',
  };
}

/**
 * The search's three disjoint image splits as patch samplers: w and α batches (augmented), and
 * the fixed validation patches (one batch of `validationPatches`). Seeded by the search's seed.
 */
export function searchSamplers(config: SearchConfig, images: readonly TrainingImage[], onNote: (message: string) => void = () => {}): { w: PatchSampler; alpha: PatchSampler; validation: PatchSampler } {
  const [wImages, alphaImages, validationImages] = splitImages(images, config.splits, hashSeed(config.seed, 'splits'));
  const sampler = (list: readonly TrainingImage[], label: string, batchSize: number, patch: number, augment: boolean): PatchSampler =>
    createPatchSampler({
      images: list,
      scale: config.scale,
      lrPatchSize: patch,
      batchSize,
      seed: hashSeed(config.seed, label),
      augment: augment ? config.augment : { flip: false, rot90: false },
      patchesPerImage: label === 'validation' ? 1 : config.patchesPerImage,
      onNote: (m) => onNote(`${label} split: ${m}`),
    });
  return {
    w: sampler(wImages!, 'w', config.batchSize, config.lrPatchSize, true),
    alpha: sampler(alphaImages!, 'alpha', config.batchSize, config.lrPatchSize, true),
    validation: sampler(validationImages!, 'validation', config.validationPatches, config.validationPatchSize, false),
  };
}

async function loadSpaceDocument(space: string): Promise<SearchSpaceSpec> {
  try {
    return await loadSpec(space);
  } catch (error) {
    // A missing or unreadable file is the user's to fix, like a spec error.
    if (error instanceof Error && error.name === 'Error') throw new SearchError(error.message);
    throw error;
  }
}

export async function ensureBackend(): Promise<string> {
  try {
    return currentBackend().name;
  } catch {
    return (await initBackend('wasm')).name;
  }
}

/**
 * A fixed architecture (one op per block), searched for its bits only, keeps its own width and cell
 * count unless the options name them: the preset's smaller ones would make it another network.
 */
export function fixedArchitectureShape(config: SearchConfig, overrides: SearchOptionsOverrides, spec: SearchSpaceSpec): SearchConfig {
  if (!isFixedArchitecture(spec)) return config;
  return { ...config, channels: overrides.channels ?? null, cells: overrides.cells ?? null };
}

function pickOverrides(options: SearchOptions): SearchOptionsOverrides {
  const { space: _space, out: _out, resume: _resume, dataRoot: _dataRoot, backend: _backend, ...rest } = options;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as SearchOptionsOverrides;
}

export interface AlphaStepOptions {
  readonly entropy: EntropyKind;
  /** λ_H·w1(e)·w2(e): the scheduled weight of the entropy term this epoch. */
  readonly entropyWeight: number;
  /** λ. */
  readonly penalty: number;
  /** B(α₀). */
  readonly b0: number;
  readonly lr: number;
}

export interface AlphaStepInfo {
  readonly loss: number;
  readonly l1: number;
  /** H (or the L1 alternative) before the weight. */
  readonly entropy: number;
  readonly entropyTerm: number;
  /** λ·B(α)/B(α₀). */
  readonly penaltyTerm: number;
  /** B(α) before the step. */
  readonly expectedBitops: number;
}

/** The α objective's terms for a reconstruction loss `l1` (docs/method.md §7); all scalars, the caller disposes them. */
export function alphaObjective(
  net: Supernet,
  l1: tf.Scalar,
  options: Pick<AlphaStepOptions, 'entropy' | 'entropyWeight' | 'penalty' | 'b0'>,
): { total: tf.Scalar; regulariser: tf.Scalar; entropyTerm: tf.Scalar; bitops: tf.Scalar; penaltyTerm: tf.Scalar } {
  return tf.tidy(() => {
    const regulariser = regulariserOf(net, options.entropy);
    const entropyTerm = tf.mul(regulariser, options.entropyWeight) as tf.Scalar;
    const bitops = net.expectedBitops();
    const penaltyTerm = tf.mul(tf.div(bitops, options.b0), options.penalty) as tf.Scalar;
    const total = tf.addN([l1, entropyTerm, penaltyTerm]) as tf.Scalar;
    return { total, regulariser, entropyTerm, bitops, penaltyTerm };
  });
}

function regulariserOf(net: Supernet, kind: EntropyKind): tf.Scalar {
  switch (kind) {
    case 'entropy':
      return net.entropy();
    case 'none':
      return tf.scalar(0);
    case 'l1-alpha':
      return tf.addN(net.alphas().map((g) => tf.sum(tf.abs(g.variable)))) as tf.Scalar;
    case 'l1-softmax':
      // Σ|p| is 1 per group: a constant with zero gradient, kept for comparison with the reference.
      return tf.addN(net.alphas().map((g) => tf.sum(tf.abs(tf.softmax(g.variable))))) as tf.Scalar;
  }
}

/** One Adam step on α with the full α objective; reads the terms back. */
export async function alphaStep(
  net: Supernet,
  alphas: ReadonlyMap<string, tf.Variable>,
  adam: Adam,
  lr: tf.Tensor4D,
  hr: tf.Tensor4D,
  options: AlphaStepOptions,
): Promise<AlphaStepInfo> {
  let parts: ReturnType<typeof alphaObjective> | undefined;
  let l1: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    l1 = tf.keep(tf.mean(tf.abs(tf.sub(net.apply(lr, { training: true }), hr))) as tf.Scalar);
    const p = alphaObjective(net, l1, options);
    parts = { ...p, total: p.total };
    for (const t of [p.regulariser, p.entropyTerm, p.bitops, p.penaltyTerm]) tf.keep(t);
    return p.total;
  }, [...alphas.values()]);
  tf.dispose([lr, hr]);
  const named = new Map([...alphas].map(([name, v]) => [name, grads[v.name]!]));
  adam.apply(alphas, named, options.lr);
  const read = async (t: tf.Tensor) => (await t.data())[0]!;
  const p = parts!;
  const info: AlphaStepInfo = {
    loss: await read(value),
    l1: await read(l1!),
    entropy: await read(p.regulariser),
    entropyTerm: await read(p.entropyTerm),
    penaltyTerm: await read(p.penaltyTerm),
    expectedBitops: await read(p.bitops),
  };
  tf.dispose([value, l1!, p.regulariser, p.entropyTerm, p.bitops, p.penaltyTerm, grads as unknown as tf.Tensor[]]);
  return info;
}

/** One Adam step on w with plain L1, gradients clipped to a global norm; returns the loss. Disposes `lr` and `hr`. */
export async function weightStep(
  net: Supernet,
  weights: ReadonlyMap<string, tf.Variable>,
  adam: Adam,
  lr: tf.Tensor4D,
  hr: tf.Tensor4D,
  rate: number,
  clip: number,
): Promise<number> {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(lr, { training: true }), hr))) as tf.Scalar, [...weights.values()]);
  tf.dispose([lr, hr]);
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of weights) {
    const g = grads[v.name];
    // A variable unused by this forward (a skipped op) gets no gradient and no update.
    if (g) named.set(name, g);
  }
  const norm = adam.applyClipped(weights, named, rate, clip);
  const loss = (await value.data())[0]!;
  tf.dispose([value, norm, ...Object.values(grads)]);
  return loss;
}

async function derive(net: Supernet, epoch: number, validation: number): Promise<GenotypeRecord> {
  const genotype = await net.argmaxGenotype();
  const b = net.expectedBitops();
  const expectedBitops = (await b.data())[0]!;
  b.dispose();
  return { epoch, genotype, expectedBitops, exactBitops: net.exactBitops(genotype), validationPsnr: validation };
}

/**
 * The training forwards a resumed search replays (path-sampling.ts) so that the supernet's noise
 * and Gumbel draws continue where they stopped; null when its forwards draw nothing.
 */
function replayOf(config: SearchConfig, state: LoopState, stepsPerEpoch: number): ForwardReplay | null {
  if (config.mode !== 'noise' && config.selector !== 'gumbel') return null;
  const replay = searchForwards({ seed: config.seed, steps: state.step, stepsPerEpoch, warmupEpochs: config.warmupEpochs, pathSampling: config.pathSampling ?? 'none' });
  if (replay.forwards.length !== state.trainingForwards) {
    throw new SearchError(`the checkpoint counts ${state.trainingForwards} training forwards where its ${state.step} steps make ${replay.forwards.length}: it was written with other settings`);
  }
  return replay;
}

/**
 * Brings a fresh supernet and the optimisers to a checkpoint's state: replays the training
 * forwards first, then writes the variables, which undo what the replay changed (BN running
 * statistics).
 */
async function restore(net: Supernet, wAdam: Adam, alphaAdam: Adam, tensors: ReadonlyMap<string, StoredTensor>, state: LoopState, replay: ForwardReplay | null, lrPatchSize: number) {
  if (replay) await replayForwards(net, replay, lrPatchSize);
  const variables = net.variables();
  const seen = new Set<string>();
  const wState = new Map<string, tf.Tensor>();
  const alphaState = new Map<string, tf.Tensor>();
  try {
    for (const [key, stored] of tensors) {
      const slash = key.indexOf('/');
      const kind = key.slice(0, slash);
      const name = key.slice(slash + 1);
      if (kind === 'var') {
        const v = variables.get(name);
        if (!v) throw new SearchError(`the checkpoint has a variable '${name}' that this supernet lacks: it was written by a different version or space`);
        if (v.shape.join('x') !== stored.shape.join('x')) throw new SearchError(`the checkpoint's '${name}' has shape [${stored.shape.join(', ')}], the supernet's [${v.shape.join(', ')}]`);
        const value = tf.tensor(stored.data, [...stored.shape]);
        v.assign(value);
        value.dispose();
        seen.add(name);
      } else if (kind === 'adam.w' || kind === 'adam.alpha') {
        (kind === 'adam.w' ? wState : alphaState).set(name, tf.tensor(stored.data, [...stored.shape]));
      }
    }
    const missing = [...variables.keys()].filter((k) => !seen.has(k));
    if (missing.length > 0) throw new SearchError(`the checkpoint lacks variables of this supernet (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
    wAdam.load(state.wAdamSteps, wState);
    alphaAdam.load(state.alphaAdamSteps, alphaState);
  } finally {
    tf.dispose([...wState.values(), ...alphaState.values()]);
  }
  await net.updateSkippedOps();
}

function writeGenotype(path: string, genotype: Genotype, record: GenotypeRecord): void {
  const doc = {
    ...JSON.parse(genotypeToJson(genotype)),
    validationPsnr: record.validationPsnr,
    expectedBitops: record.expectedBitops,
    exactBitops: record.exactBitops,
    costInput: COST_INPUT,
  };
  atomicWrite(path, JSON.stringify(doc, null, 2) + '\n');
}

function atomicWrite(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
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
