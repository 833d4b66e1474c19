import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BackendName } from '@quantnas/core-ops';
import { listTrainingImages, resolveDataRoot, writeFileAtomicSync } from '@quantnas/data';
import { createSupernet } from '@quantnas/search-spaces';
import { createAdam } from './adam.js';
import { SearchError } from './config.js';
import type { SearchEvent } from './events.js';
import { jobBackend, JobRun, openJobFolder, type JobKind } from './job.js';
import { startDataParallel, type DataParallel } from './parallel/index.js';
import { initialLoopState, replayOf, restoreSearch } from './search-resume.js';
import { endSearchEpoch, finishSearch, latencyTermOf, searchSnapshot, searchStep, type SearchRun } from './search-loop.js';
import { resolveSearchSetup, searchSamplers, supernetOptionsFor } from './search-setup.js';
import type { LoopState, SearchFiles, SearchHooks, SearchOptions, SearchResult, SearchSummary } from './search-types.js';

export type { GenotypeRecord, SearchFiles, SearchHooks, SearchOptions, SearchResult, SearchSummary } from './search-types.js';
export { fixedArchitectureShape, searchSamplers, supernetOptionsFor } from './search-setup.js';

const SEARCH_JOB: JobKind = { noun: 'search', error: SearchError };

export function searchFiles(out: string): SearchFiles {
  const dir = resolve(out);
  return {
    genotype: join(dir, 'genotype.json'),
    genotypeBest: join(dir, 'genotype-best.json'),
    svg: join(dir, 'genotype.svg'),
    events: join(dir, 'search.jsonl'),
    summary: join(dir, 'summary.json'),
    checkpoint: join(dir, 'checkpoint.qnc'),
    space: join(dir, 'space.json'),
  };
}

/**
 * The search of docs/method.md §1 and §7: alternating first-order DARTS over (operation, bit-width)
 * pairs (search-loop.ts has the step). Every epoch ends with a validation PSNR on fixed held-out
 * patches and the arg-max genotype. Everything random follows `seed`; checkpoints let a killed run
 * resume to the same result.
 */
export async function runSearch(options: SearchOptions, hooks: SearchHooks = {}): Promise<SearchResult> {
  const files = searchFiles(options.out);
  const dir = resolve(options.out);
  const folder = openJobFolder<LoopState, SearchSummary>(dir, files, SEARCH_JOB, { resume: options.resume ?? false });
  if (folder.finished) return { completed: true, ...folder.finished };
  const loaded = folder.loaded;
  const { config, spec, notes } = await resolveSearchSetup(options, dir, files.space, loaded);

  const backend = await jobBackend(options.backend, config.workers, SEARCH_JOB);
  const images = await listTrainingImages(resolveDataRoot({ explicit: options.dataRoot }), config.trainSets);
  const samplers = searchSamplers(config, images, (m) => notes.push(m));
  const validation = await samplers.validation.next();
  const stepsPerEpoch = config.stepsPerEpoch === 'pass' ? samplers.w.batchesPerEpoch : config.stepsPerEpoch;
  const totalSteps = config.epochs * stepsPerEpoch;

  mkdirSync(dir, { recursive: true });
  if (!loaded) writeFileAtomicSync(files.space, JSON.stringify(spec, null, 2) + '\n');

  const supernetOptions = supernetOptionsFor(config);
  const net = createSupernet(spec, supernetOptions);
  const kernels = config.kernels ?? 'fused';
  const wAdam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: config.wWeightDecay, kernels });
  const alphaAdam = createAdam({ beta1: config.alphaBeta1, beta2: config.alphaBeta2, weightDecay: config.alphaWeightDecay, kernels });

  let job: JobRun<LoopState, SearchEvent> | undefined;
  let parallel: DataParallel | undefined;
  try {
    const latency = latencyTermOf(config, net.plan);
    const state: LoopState = loaded ? { ...loaded.state, config } : initialLoopState(config);
    if (loaded) {
      await restoreSearch(net, wAdam, alphaAdam, loaded.tensors, state, replayOf(config, state, stepsPerEpoch), config.lrPatchSize);
      for (let i = 0; i < state.step; i++) await samplers.w.next();
      for (let i = 0; i < state.alphaSteps; i++) await samplers.alpha.next();
    }
    job = new JobRun<LoopState, SearchEvent>(files, state, loaded, notes, hooks.onEvent);
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
    job.emit({
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
    job.flushNotes();

    const run: SearchRun = {
      job,
      state,
      spec,
      net,
      weights: net.weightVariables(),
      alphas: net.alphaVariables(),
      wAdam,
      alphaAdam,
      samplers,
      validation,
      parallel,
      stepsPerEpoch,
      totalSteps,
      latency,
    };
    const finished = await job.runSteps({
      totalSteps,
      stepsPerEpoch,
      every: config.checkpointEvery,
      signal: hooks.signal,
      step: () => searchStep(run),
      endEpoch: (epoch) => endSearchEpoch(run, epoch),
      snapshot: () => searchSnapshot(run),
    });
    if (!finished) return { completed: false, step: state.step, totalSteps, checkpoint: files.checkpoint, files };
    return { completed: true, ...(await finishSearch(run, files, backend)) };
  } finally {
    await parallel?.close();
    job?.close();
    net.dispose();
    wAdam.dispose();
    alphaAdam.dispose();
  }
}
