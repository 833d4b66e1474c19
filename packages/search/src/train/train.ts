import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { currentBackend, hashSeed, initBackend, tf, type BackendName, type Module } from '@quantnas/core-ops';
import { createPatchSampler, listTrainingImages, resolveDataRoot, splitImages, type PatchBatch } from '@quantnas/data';
import { createDiscreteNetwork, genotypeToJson, type DiscreteNetwork, type DiscreteNetworkOptions, type Genotype, type SearchSpaceSpec } from '@quantnas/search-spaces';
import { createAdam, type Adam } from '../adam.js';
import { loadLatestCheckpoint, previousCheckpointPath, writeCheckpointFile, type StoredTensor } from '../checkpoint.js';
import { eventLine, type TrainEvent } from '../events.js';
import { resolveTrainConfig, TrainError, trainLr, type TrainConfig, type TrainConfigOverrides } from './config.js';
import { resolveTrainTarget, type TargetOptions, type TrainTarget } from './genotype-source.js';
import { validationPsnr } from './validation.js';
import { resumeConflict } from '../resume-settings.js';
import { startDataParallel, type DataParallel } from '../parallel/index.js';
import { discreteReplicaNet } from '../parallel/replica.js';
import { trainingCurveSvg, type CurvePoint } from './curve-svg.js';

export interface TrainOptions extends Omit<TrainConfigOverrides, 'preset'>, Partial<TargetOptions> {
  readonly preset?: TrainConfig['preset'];
  /** Output directory (created if missing). */
  readonly out: string;
  /** Continue the run in `out` from its last good checkpoint (or read a finished one back). */
  readonly resume?: boolean;
  /** Data root holding the training sets; default: `resolveDataRoot()`'s search. */
  readonly dataRoot?: string;
  /** Backend to initialise; default: the current one if any, else wasm. */
  readonly backend?: BackendName;
}

export interface TrainHooks {
  readonly onEvent?: (event: TrainEvent) => void;
  /** Stops the run after the step in progress; a checkpoint is written first. */
  readonly signal?: AbortSignal;
  /** The worker script of `workers` > 1; default: the built package's (`defaultWorkerScript`). */
  readonly workerScript?: URL | string;
}

export interface TrainFiles {
  readonly events: string;
  readonly summary: string;
  readonly checkpoint: string;
  readonly best: string;
  readonly genotype: string;
  readonly space: string;
  /** Validation PSNR and training loss per epoch, rewritten at each epoch's end. */
  readonly curve: string;
}

/** The network's cost, from its `costReport()` at 32×32 LR. */
export interface TrainCost {
  readonly params: number;
  /** MACs per LR pixel. */
  readonly macsPerPixel: number;
  readonly bitops32x32: number;
  readonly bitopsPerOutputMegapixel: number;
  readonly macsPerOutputMegapixel: number;
  readonly costInput: { readonly height: number; readonly width: number };
}

export interface TrainSummary {
  readonly schemaVersion: 1;
  readonly space: string;
  readonly genotype: Genotype;
  readonly cells: number;
  readonly adq: boolean;
  readonly config: TrainConfig;
  readonly backend: string;
  readonly steps: number;
  /** Wall time of the training, summed over resumed parts. */
  readonly seconds: number;
  readonly bestEpoch: number;
  readonly bestValidationPsnr: number;
  readonly lastValidationPsnr: number;
  readonly cost: TrainCost;
  readonly files: TrainFiles;
}

export type TrainResult =
  | ({ readonly completed: true } & TrainSummary)
  | { readonly completed: false; readonly step: number; readonly totalSteps: number; readonly checkpoint: string; readonly files: TrainFiles };

/** The network a checkpoint belongs to; stored in every checkpoint so that one file is enough to rebuild it. */
export interface StoredTarget {
  readonly spec: SearchSpaceSpec;
  readonly genotype: Genotype;
  readonly cells: number;
  readonly adq: boolean;
  readonly seed: number;
}

interface EpochRecord {
  readonly epoch: number;
  readonly step: number;
  readonly validationPsnr: number;
}

/** What a checkpoint's header carries besides the tensors. */
export interface TrainState {
  readonly kind: 'quantnas-train';
  config: TrainConfig;
  target: StoredTarget;
  step: number;
  best: EpochRecord | null;
  last: EpochRecord | null;
  /** Every finished epoch, for the curve; absent in checkpoints written before the curve existed. */
  history?: CurvePoint[];
  epochSums: { loss: number; count: number };
  seconds: number;
  logBytes: number;
  adamSteps: number;
}

const COST_INPUT = { height: 32, width: 32 } as const;

export function trainFiles(out: string): TrainFiles {
  const dir = resolve(out);
  return {
    events: join(dir, 'train.jsonl'),
    summary: join(dir, 'summary.json'),
    checkpoint: join(dir, 'checkpoint.qnc'),
    best: join(dir, 'best.qnc'),
    genotype: join(dir, 'genotype.json'),
    space: join(dir, 'space.json'),
    curve: join(dir, 'curve.svg'),
  };
}

/**
 * QAT from scratch of a genotype (docs/method.md §8): the discrete network with LSQ weights and HWGQ
 * activations at the genotype's bits, L1 on random aligned crops (flips, optional 90° rotations)
 * of a training split of T91 + BSD200, Adam with a clipped global gradient norm and a schedule that
 * holds the rate and anneals it by a cosine at the end. Every epoch ends with the validation PSNR
 * on fixed patches of a held-out split; the best epoch's weights are kept in `best.qnc`, the newest
 * in `checkpoint.qnc`. Everything random follows `seed`; a resumed run reaches the same weights.
 */
export async function runTraining(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const files = trainFiles(options.out);
  const dir = resolve(options.out);
  const { resume = false } = options;

  if (existsSync(files.summary)) {
    if (!resume) throw new TrainError(`${dir} already holds a finished training run (summary.json); choose another output directory, or resume to read it back`);
    const summary = JSON.parse(readFileSync(files.summary, 'utf8')) as TrainSummary;
    if (options.genotype !== undefined) checkSameTarget(dir, await resolveRequested(options), summary);
    return { completed: true, ...summary };
  }
  if (!resume && [files.checkpoint, previousCheckpointPath(files.checkpoint), files.events, files.best].some((p) => existsSync(p))) {
    throw new TrainError(`${dir} holds an unfinished training run; resume it, or choose another output directory`);
  }
  const loaded = resume ? loadLatestCheckpoint<TrainState>(files.checkpoint) : undefined;
  if (resume && !loaded) throw new TrainError(`${dir} has no training checkpoint to resume`);
  if (loaded && loaded.state.kind !== 'quantnas-train') throw new TrainError(`${loaded.path} is not a training checkpoint`);

  const overrides = pickOverrides(options);
  let config: TrainConfig;
  let target: StoredTarget;
  const notes: string[] = [];
  if (loaded) {
    // Checkpoints from before `workers` existed ran on one thread.
    config = { ...loaded.state.config, workers: loaded.state.config.workers ?? 1 };
    target = loaded.state.target;
    const requested = resolveTrainConfig({ ...config, ...overrides });
    // The worker count belongs to the machine: it may change on resume, at the cost of bit-identity.
    if (requested.workers !== config.workers) {
      notes.push(`resuming with ${requested.workers} worker(s) instead of ${config.workers}: the result will differ from an uninterrupted run`);
      config = { ...config, workers: requested.workers };
    }
    const conflict = resumeConflict(dir, overrides, requested, config);
    if (conflict) throw new TrainError(conflict);
    if (options.genotype !== undefined) checkSameTarget(dir, await resolveRequested(options), target);
  } else {
    if (options.genotype === undefined) throw new TrainError('a genotype is needed to start a training run');
    config = resolveTrainConfig(overrides);
    const t = await resolveRequested(options);
    target = { spec: t.spec, genotype: t.genotype, cells: t.cells, adq: t.adq, seed: config.seed };
  }

  const backend = options.backend ? (await initBackend(options.backend)).name : await ensureBackend();
  if (config.workers > 1 && backend !== 'wasm' && backend !== 'cpu') {
    throw new TrainError(`workers > 1 needs the wasm or cpu backend (each worker thread starts its own), not ${backend}`);
  }
  const root = resolveDataRoot({ explicit: options.dataRoot });
  const images = await listTrainingImages(root, config.trainSets);
  const [trainImages, validationImages] = splitImages(images, [1 - config.validationFraction, config.validationFraction], hashSeed(config.seed, 'train-splits'));
  const sampler = createPatchSampler({
    images: trainImages!,
    scale: target.genotype.scale,
    lrPatchSize: config.lrPatchSize,
    batchSize: config.batchSize,
    seed: hashSeed(config.seed, 'train'),
    augment: config.augment,
    patchesPerImage: config.patchesPerImage,
    onNote: (m) => notes.push(`training split: ${m}`),
  });
  const validation = await createPatchSampler({
    images: validationImages!,
    scale: target.genotype.scale,
    lrPatchSize: config.validationPatchSize,
    batchSize: config.validationPatches,
    seed: hashSeed(config.seed, 'validation'),
    augment: { flip: false, rot90: false },
    onNote: (m) => notes.push(`validation split: ${m}`),
  }).next();

  const stepsPerEpoch = config.stepsPerEpoch === 'pass' ? sampler.batchesPerEpoch : config.stepsPerEpoch;
  const totalSteps = config.epochs * stepsPerEpoch;

  mkdirSync(dir, { recursive: true });
  if (!loaded) {
    atomicWrite(files.space, JSON.stringify(target.spec, null, 2) + '\n');
    atomicWrite(files.genotype, genotypeToJson(target.genotype));
  }

  const kernels = config.kernels ?? 'fused';
  const net = buildNetwork(target, kernels);
  const adam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: config.weightDecay, kernels });
  const replica = discreteReplicaNet(net);
  const weights = replica.weightVariables();

  let log: number | undefined;
  let parallel: DataParallel | undefined;
  try {
    let state: TrainState;
    if (loaded) {
      state = loaded.state;
      if (loaded.fellBackFrom) {
        // Set the bad file aside: the next checkpoint must not turn it into the `.prev` one.
        renameSync(loaded.fellBackFrom.path, `${loaded.fellBackFrom.path}.corrupt`);
        notes.push(`${loaded.fellBackFrom.reason}; resuming from the previous checkpoint ${loaded.path} (step ${state.step})`);
      }
      await restoreVariables(net, loaded.tensors, loaded.path, config.lrPatchSize);
      const adamState = new Map<string, tf.Tensor>();
      for (const [key, stored] of loaded.tensors) if (key.startsWith('adam/')) adamState.set(key.slice(5), tf.tensor(stored.data, [...stored.shape]));
      adam.load(state.adamSteps, adamState);
      tf.dispose([...adamState.values()]);
      for (let i = 0; i < state.step; i++) await sampler.next();
      log = openSync(files.events, existsSync(files.events) ? 'r+' : 'w');
      ftruncateSync(log, Math.min(state.logBytes, statSync(files.events).size));
    } else {
      state = {
        kind: 'quantnas-train',
        config,
        target,
        step: 0,
        best: null,
        last: null,
        history: [],
        epochSums: { loss: 0, count: 0 },
        seconds: 0,
        logBytes: 0,
        adamSteps: 0,
      };
      log = openSync(files.events, 'w');
    }
    // LSQ steps start from the weights at the first forward; take it outside the gradient tape.
    // A resumed network had its first forward in restoreVariables, so this changes nothing then.
    if (!loaded) await initialiseQuantizers(net, config.lrPatchSize);
    if (config.workers > 1) {
      parallel = await startDataParallel({
        replicas: config.workers,
        net: replica,
        backend: backend as BackendName,
        network: { kind: 'discrete', spec: target.spec, genotype: target.genotype, options: networkOptions(target, kernels) },
        replay: null,
        lrPatchSize: config.lrPatchSize,
        ...(hooks.workerScript !== undefined ? { script: hooks.workerScript } : {}),
      });
    }

    const logFd = log;
    let logBytes = state.logBytes;
    const emit = (event: TrainEvent) => {
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
      backend,
      space: target.spec.id,
      epochs: config.epochs,
      stepsPerEpoch,
      totalSteps,
      seed: config.seed,
      ...(loaded ? { resumedFromStep: state.step, checkpoint: loaded.path } : {}),
    });
    flushNotes();

    const snapshot = async (withOptimizer: boolean) => {
      const tensors = new Map<string, StoredTensor>();
      const put = async (name: string, t: tf.Tensor) => tensors.set(name, { shape: t.shape, data: Float32Array.from(await t.data()) });
      for (const [name, v] of net.variables()) await put(`var/${name}`, v);
      if (withOptimizer) for (const [name, t] of adam.stateTensors()) await put(`adam/${name}`, t);
      return tensors;
    };
    const saveCheckpoint = async () => {
      state.logBytes = logBytes;
      state.adamSteps = adam.steps;
      writeCheckpointFile(files.checkpoint, { state, tensors: await snapshot(true) });
      emit({ status: 'checkpoint', epoch: Math.floor(state.step / stepsPerEpoch), step: state.step, path: files.checkpoint });
    };

    let started = performance.now();
    while (state.step < totalSteps) {
      const epoch = Math.floor(state.step / stepsPerEpoch);
      const lr = trainLr(state.step, totalSteps, config);
      const batch = await sampler.next();
      const loss = parallel ? await parallel.weightStep(batch, adam, lr, config.gradClip) : await trainStep(net, weights, adam, batch, lr, config.gradClip);
      state.step++;
      if (!Number.isFinite(loss)) throw new TrainError(`the training diverged at step ${state.step} (loss ${loss}); try a lower learning rate`);
      state.epochSums.loss += loss;
      state.epochSums.count++;
      emit({ status: 'step', epoch, step: state.step, totalSteps, loss, lr });

      const epochEnd = state.step % stepsPerEpoch === 0;
      if (epochEnd) {
        const psnr = await validationPsnr(net, validation, target.genotype.scale, config.batchSize);
        const record: EpochRecord = { epoch, step: state.step, validationPsnr: psnr };
        const isBest = state.best === null || psnr > state.best.validationPsnr;
        state.last = record;
        const loss = state.epochSums.loss / state.epochSums.count;
        state.history = [...(state.history ?? []), { epoch, loss, validationPsnr: psnr }];
        atomicWrite(files.curve, trainingCurveSvg(state.history, `training ${target.spec.id} (preset ${config.preset}): ${state.step} of ${totalSteps} steps`));
        if (isBest) {
          state.best = record;
          // Written before the checkpoint that records it: a crash in between replays the epoch and rewrites the same file.
          writeCheckpointFile(files.best, { state: { ...state, logBytes }, tensors: await snapshot(false) });
        }
        emit({
          status: 'epoch',
          epoch,
          loss,
          validationPsnr: psnr,
          best: isBest,
          bestValidationPsnr: state.best!.validationPsnr,
          seconds: state.seconds + (performance.now() - started) / 1000,
        });
        state.epochSums = { loss: 0, count: 0 };
      }
      const now = performance.now();
      state.seconds += (now - started) / 1000;
      started = now;
      const stopping = hooks.signal?.aborted === true && state.step < totalSteps;
      if (epochEnd || state.step % config.checkpointEvery === 0 || stopping) await saveCheckpoint();
      if (stopping) return { completed: false, step: state.step, totalSteps, checkpoint: files.checkpoint, files };
    }

    const best = state.best!;
    const summary: TrainSummary = {
      schemaVersion: 1,
      space: target.spec.id,
      genotype: target.genotype,
      cells: target.cells,
      adq: target.adq,
      config,
      backend,
      steps: state.step,
      seconds: state.seconds,
      bestEpoch: best.epoch,
      bestValidationPsnr: best.validationPsnr,
      lastValidationPsnr: state.last!.validationPsnr,
      cost: networkCost(net),
      files,
    };
    emit({ status: 'done', checkpointPath: files.checkpoint, bestCheckpointPath: files.best, bestEpoch: best.epoch, bestValidationPsnr: best.validationPsnr, seconds: state.seconds });
    // summary.json last: its presence marks the run finished.
    atomicWrite(files.summary, JSON.stringify(summary, null, 2) + '\n');
    return { completed: true, ...summary };
  } finally {
    await parallel?.close();
    if (log !== undefined) closeSync(log);
    net.dispose();
    adam.dispose();
  }
}

/** The QAT network of a stored target, untrained. */
export function buildNetwork(target: StoredTarget, kernels: 'fused' | 'reference' = 'fused'): DiscreteNetwork {
  return createDiscreteNetwork(target.spec, target.genotype, networkOptions(target, kernels));
}

function networkOptions(target: StoredTarget, kernels: 'fused' | 'reference'): DiscreteNetworkOptions {
  return { mode: 'qat', adq: target.adq, seed: target.seed, cells: target.cells, kernels };
}

/** Cost figures of a network at 32×32 LR (the literature's size) and per output megapixel. */
export function networkCost(net: DiscreteNetwork): TrainCost {
  const report = net.costReport(COST_INPUT);
  return {
    params: report.total.params,
    macsPerPixel: report.total.macs / (COST_INPUT.height * COST_INPUT.width),
    bitops32x32: report.total.bitops,
    bitopsPerOutputMegapixel: report.perOutputMegapixel.bitops,
    macsPerOutputMegapixel: report.perOutputMegapixel.macs,
    costInput: COST_INPUT,
  };
}

/** Writes a checkpoint's `var/…` tensors into the network's variables; every variable must be there, with its shape. */
export function loadVariables(net: Module, tensors: ReadonlyMap<string, StoredTensor>, source: string): void {
  const variables = net.variables();
  const seen = new Set<string>();
  for (const [key, stored] of tensors) {
    if (!key.startsWith('var/')) continue;
    const name = key.slice(4);
    const v = variables.get(name);
    if (!v) throw new TrainError(`${source} has a variable '${name}' that this network lacks: it belongs to another genotype or space`);
    if (v.shape.join('x') !== stored.shape.join('x')) throw new TrainError(`${source}: '${name}' has shape [${stored.shape.join(', ')}], the network's [${v.shape.join(', ')}]`);
    const value = tf.tensor(stored.data, [...stored.shape]);
    v.assign(value);
    value.dispose();
    seen.add(name);
  }
  const missing = [...variables.keys()].filter((k) => !seen.has(k));
  if (missing.length > 0) throw new TrainError(`${source} lacks variables of this network (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
}

/**
 * Puts a checkpoint's variables into a freshly built network so that it computes exactly what the
 * network that wrote them computed. The quantizers' first forward runs before the values are
 * loaded: it initialises every LSQ step that is not positive from the weights, and a trained step
 * may have crossed zero (LSQ does not constrain its sign), so loading first would let that forward
 * replace trained steps and the resumed or exported network would differ.
 */
export async function restoreVariables(net: Module, tensors: ReadonlyMap<string, StoredTensor>, source: string, size: number): Promise<void> {
  await initialiseQuantizers(net, size);
  loadVariables(net, tensors, source);
}

/** One inference forward on a blank patch: sets LSQ steps that are not yet positive from the weights. */
export async function initialiseQuantizers(net: Module, size: number): Promise<void> {
  const x = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
  const y = net.apply(x, { training: false });
  await y.data();
  tf.dispose([x, y]);
}

/** One Adam step on plain L1 with the gradients clipped to a global norm; returns the loss. */
export async function trainStep(net: Module, weights: ReadonlyMap<string, tf.Variable>, adam: Adam, batch: PatchBatch, rate: number, clip: number): Promise<number> {
  const lr = tf.tensor4d(batch.lr, batch.lrShape);
  const hr = tf.tensor4d(batch.hr, batch.hrShape);
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(lr, { training: true }), hr))) as tf.Scalar, [...weights.values()]);
  tf.dispose([lr, hr]);
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of weights) {
    const g = grads[v.name];
    if (g) named.set(name, g);
  }
  const norm = adam.applyClipped(weights, named, rate, clip);
  const loss = (await value.data())[0]!;
  tf.dispose([value, norm, ...Object.values(grads)]);
  return loss;
}

async function resolveRequested(options: TrainOptions): Promise<TrainTarget> {
  return resolveTrainTarget({
    genotype: options.genotype!,
    ...(options.space !== undefined ? { space: options.space } : {}),
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
    ...(options.adq !== undefined ? { adq: options.adq } : {}),
  });
}

/** A resumed run must train the genotype it started with. */
function checkSameTarget(dir: string, requested: TrainTarget, stored: Pick<StoredTarget, 'genotype' | 'cells' | 'adq'> & { readonly spec?: SearchSpaceSpec; readonly space?: string }): void {
  const key = (g: Genotype) =>
    JSON.stringify([g.space, g.scale, g.channels, Object.entries(g.blocks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  const storedSpace = stored.spec?.id ?? stored.space;
  if (requested.spec.id !== storedSpace || key(requested.genotype) !== key(stored.genotype)) {
    throw new TrainError(`${dir} was trained from another genotype (space '${stored.genotype.space}', ${Object.keys(stored.genotype.blocks).length} blocks); use the genotype it started with, or another output directory`);
  }
  if (requested.cells !== stored.cells) throw new TrainError(`${dir} was trained with ${stored.cells} cell(s), not ${requested.cells}`);
  if (requested.adq !== stored.adq) throw new TrainError(`${dir} was trained with ADQ ${stored.adq ? 'on' : 'off'}`);
}

async function ensureBackend(): Promise<string> {
  try {
    return currentBackend().name;
  } catch {
    return (await initBackend('wasm')).name;
  }
}

const CONFIG_KEYS: readonly (keyof TrainConfig)[] = [
  'preset', 'epochs', 'stepsPerEpoch', 'batchSize', 'lrPatchSize', 'patchesPerImage', 'augment', 'lr', 'lrMin', 'decayFraction',
  'weightDecay', 'gradClip', 'trainSets', 'validationFraction', 'validationPatches', 'validationPatchSize', 'checkpointEvery', 'seed', 'workers',
];

function pickOverrides(options: TrainOptions): TrainConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) if (options[key] !== undefined) out[key] = options[key];
  return out as TrainConfigOverrides;
}

function atomicWrite(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}
