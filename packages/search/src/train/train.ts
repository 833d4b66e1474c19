import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashSeed, tf, type BackendName } from '@quantnas/core-ops';
import { createPatchSampler, listTrainingImages, resolveDataRoot, splitImages, writeFileAtomicSync, type PatchBatch, type PatchSampler } from '@quantnas/data';
import { genotypeToJson, type DiscreteNetwork } from '@quantnas/search-spaces';
import { createAdam, type Adam } from '../adam.js';
import { writeCheckpointFile, type StoredTensor } from '../checkpoint.js';
import type { TrainEvent } from '../events.js';
import { jobBackend, JobRun, openJobFolder, storedTensors, type JobKind } from '../job.js';
import { startDataParallel, type DataParallel } from '../parallel/index.js';
import { discreteReplicaNet } from '../parallel/replica.js';
import { TrainError, trainLr } from './config.js';
import { trainingCurveSvg } from './curve-svg.js';
import { buildNetwork, initialiseQuantizers, networkCost, networkOptions, restoreVariables, trainStep } from './network.js';
import { checkSameTarget, resolveRequested, resolveTrainSetup } from './train-setup.js';
import type { EpochRecord, StoredTarget, TrainFiles, TrainHooks, TrainOptions, TrainResult, TrainState, TrainSummary } from './train-types.js';
import { validationPsnr } from './validation.js';

const TRAIN_JOB: JobKind = { noun: 'training run', error: TrainError };

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

/** Everything a running training's steps touch. */
interface TrainRun {
  readonly job: JobRun<TrainState, TrainEvent>;
  readonly state: TrainState;
  readonly files: TrainFiles;
  readonly net: DiscreteNetwork;
  readonly adam: Adam;
  readonly validation: PatchBatch;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
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
  const folder = openJobFolder<TrainState, TrainSummary>(dir, files, TRAIN_JOB, {
    resume: options.resume ?? false,
    otherFiles: [files.best],
    requireCheckpoint: true,
  });
  if (folder.finished) {
    if (options.genotype !== undefined) checkSameTarget(dir, await resolveRequested(options), folder.finished);
    return { completed: true, ...folder.finished };
  }
  const loaded = folder.loaded;
  if (loaded && loaded.state.kind !== 'quantnas-train') throw new TrainError(`${loaded.path} is not a training checkpoint`);
  const { config, target, notes } = await resolveTrainSetup(options, dir, loaded);

  const backend = await jobBackend(options.backend, config.workers, TRAIN_JOB);
  const { sampler, validation } = await trainingSamplers(options, config, target, notes);
  const stepsPerEpoch = config.stepsPerEpoch === 'pass' ? sampler.batchesPerEpoch : config.stepsPerEpoch;
  const totalSteps = config.epochs * stepsPerEpoch;

  mkdirSync(dir, { recursive: true });
  if (!loaded) {
    writeFileAtomicSync(files.space, JSON.stringify(target.spec, null, 2) + '\n');
    writeFileAtomicSync(files.genotype, genotypeToJson(target.genotype));
  }

  const kernels = config.kernels ?? 'fused';
  const net = buildNetwork(target, kernels);
  const adam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: config.weightDecay, kernels });
  const replica = discreteReplicaNet(net);
  const weights = replica.weightVariables();

  let job: JobRun<TrainState, TrainEvent> | undefined;
  let parallel: DataParallel | undefined;
  try {
    const state: TrainState = loaded ? { ...loaded.state, config } : initialTrainState(config, target);
    if (loaded) {
      await restoreVariables(net, loaded.tensors, loaded.path, config.lrPatchSize);
      const adamState = new Map(
        [...loaded.tensors]
          .filter(([key]) => key.startsWith('adam/'))
          .map(([key, stored]) => [key.slice(5), tf.tensor(stored.data, [...stored.shape])] as const),
      );
      adam.load(state.adamSteps, adamState);
      tf.dispose([...adamState.values()]);
      for (let i = 0; i < state.step; i++) await sampler.next();
    } else {
      // LSQ steps start from the weights at the first forward; take it outside the gradient tape.
      await initialiseQuantizers(net, config.lrPatchSize);
    }
    job = new JobRun<TrainState, TrainEvent>(files, state, loaded, notes, hooks.onEvent);
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
    job.emit({
      status: 'start',
      backend,
      space: target.spec.id,
      epochs: config.epochs,
      stepsPerEpoch,
      totalSteps,
      seed: config.seed,
      ...(loaded ? { resumedFromStep: state.step, checkpoint: loaded.path } : {}),
    });
    job.flushNotes();

    const run: TrainRun = { job, state, files, net, adam, validation, stepsPerEpoch, totalSteps };
    const finished = await job.runSteps({
      totalSteps,
      stepsPerEpoch,
      every: config.checkpointEvery,
      signal: hooks.signal,
      step: async (epoch) => {
        const lr = trainLr(state.step, totalSteps, config);
        const batch = await sampler.next();
        const loss = parallel ? await parallel.weightStep(batch, adam, lr, config.gradClip) : await trainStep(net, weights, adam, batch, lr, config.gradClip);
        state.step++;
        if (!Number.isFinite(loss)) throw new TrainError(`the training diverged at step ${state.step} (loss ${loss}); try a lower learning rate`);
        state.epochSums.loss += loss;
        state.epochSums.count++;
        run.job.emit({ status: 'step', epoch, step: state.step, totalSteps, loss, lr });
      },
      endEpoch: (epoch) => endTrainingEpoch(run, epoch),
      snapshot: () => trainingSnapshot(run, true),
    });
    if (!finished) return { completed: false, step: state.step, totalSteps, checkpoint: files.checkpoint, files };
    return { completed: true, ...finishTraining(run, backend) };
  } finally {
    await parallel?.close();
    job?.close();
    net.dispose();
    adam.dispose();
  }
}

function initialTrainState(config: TrainState['config'], target: StoredTarget): TrainState {
  return {
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
}

/** The training split's patch sampler and the fixed validation patches of the held-out split, seeded by the run's seed. */
async function trainingSamplers(
  options: TrainOptions,
  config: TrainState['config'],
  target: StoredTarget,
  notes: string[],
): Promise<{ sampler: PatchSampler; validation: PatchBatch }> {
  const images = await listTrainingImages(resolveDataRoot({ explicit: options.dataRoot }), config.trainSets);
  const [trainImages, validationImages] = splitImages(
    images,
    [1 - config.validationFraction, config.validationFraction],
    hashSeed(config.seed, 'train-splits'),
  );
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
  return { sampler, validation };
}

/** The tensors of a training checkpoint: the network's variables, and Adam's moments unless it is the best-epoch file. */
function trainingSnapshot(run: TrainRun, withOptimizer: boolean): Promise<Map<string, StoredTensor>> {
  if (withOptimizer) run.state.adamSteps = run.adam.steps;
  return storedTensors([['var', run.net.variables()], ...(withOptimizer ? [['adam', run.adam.stateTensors()] as const] : [])]);
}

/** An epoch's end: validation PSNR, the curve, the best epoch's weights, the epoch event. */
async function endTrainingEpoch(run: TrainRun, epoch: number): Promise<void> {
  const { state, files } = run;
  const psnr = await validationPsnr(run.net, run.validation, state.target.genotype.scale, state.config.batchSize);
  const record: EpochRecord = { epoch, step: state.step, validationPsnr: psnr };
  const isBest = state.best === null || psnr > state.best.validationPsnr;
  state.last = record;
  const loss = state.epochSums.loss / state.epochSums.count;
  state.history = [...(state.history ?? []), { epoch, loss, validationPsnr: psnr }];
  writeFileAtomicSync(
    files.curve,
    trainingCurveSvg(state.history, `training ${state.target.spec.id} (preset ${state.config.preset}): ${state.step} of ${run.totalSteps} steps`),
  );
  if (isBest) {
    state.best = record;
    // Written before the checkpoint that records it: a crash in between replays the epoch and rewrites the same file.
    const tensors = await trainingSnapshot(run, false);
    writeCheckpointFile(files.best, { state: { ...state, logBytes: run.job.logLength }, tensors });
  }
  run.job.emit({ status: 'epoch', epoch, loss, validationPsnr: psnr, best: isBest, bestValidationPsnr: state.best!.validationPsnr, seconds: run.job.seconds });
  state.epochSums = { loss: 0, count: 0 };
}

/** The summary of a finished run, written last. */
function finishTraining(run: TrainRun, backend: string): TrainSummary {
  const { state, files } = run;
  const best = state.best!;
  const summary: TrainSummary = {
    schemaVersion: 1,
    space: state.target.spec.id,
    genotype: state.target.genotype,
    cells: state.target.cells,
    adq: state.target.adq,
    config: state.config,
    backend,
    steps: state.step,
    seconds: state.seconds,
    bestEpoch: best.epoch,
    bestValidationPsnr: best.validationPsnr,
    lastValidationPsnr: state.last!.validationPsnr,
    cost: networkCost(run.net),
    files,
  };
  run.job.emit({
    status: 'done',
    checkpointPath: files.checkpoint,
    bestCheckpointPath: files.best,
    bestEpoch: best.epoch,
    bestValidationPsnr: best.validationPsnr,
    seconds: state.seconds,
  });
  run.job.finish(summary);
  return summary;
}
