import { readFileSync } from 'node:fs';
import { hashSeed } from '@quantnas/core-ops';
import { createPatchSampler, splitImages, type PatchSampler, type TrainingImage } from '@quantnas/data';
import { isFixedArchitecture, isSpaceId, loadSpec, validateSpec, type SearchSpaceSpec, type SupernetOptions } from '@quantnas/search-spaces';
import type { LoadedCheckpoint } from './checkpoint.js';
import { COST_INPUT, SearchError, type BitWidth, type SearchConfig, type SearchOptionsOverrides } from './config.js';
import { resolveSearchConfig } from './resolve-config.js';
import { resumeConflict } from './resume-settings.js';
import type { SearchOptions } from './search-types.js';

/** What a search is configured with before it builds anything: from the checkpoint on resume, else preset + options. */
export interface SearchSetup {
  readonly config: SearchConfig;
  readonly spec: SearchSpaceSpec;
  /** Messages for the event log (a changed worker count). */
  readonly notes: string[];
}

/**
 * The configuration of a search in `dir`: the checkpoint's on resume (the options may only repeat
 * it; the worker count may change, with a note), else the preset's with the options over it. The
 * space is the checkpoint's copy on resume.
 */
export async function resolveSearchSetup(
  options: SearchOptions,
  dir: string,
  spaceFile: string,
  loaded: LoadedCheckpoint<{ config: SearchConfig }> | undefined,
): Promise<SearchSetup> {
  const spaceName = typeof options.space === 'string' ? options.space : options.space.id;
  const notes: string[] = [];
  let overrides = pickOverrides(options);
  if (loaded) {
    // Checkpoints from before `workers` existed ran on one thread.
    let config: SearchConfig = { ...loaded.state.config, workers: loaded.state.config.workers ?? 1 };
    const requested = resolveSearchConfig({ ...config, ...overrides, space: spaceName });
    // The worker count belongs to the machine: it may change on resume, at the cost of bit-identity.
    if (requested.workers !== config.workers) {
      notes.push(`resuming with ${requested.workers} worker(s) instead of ${config.workers}: the result will differ from an uninterrupted run`);
      config = { ...config, workers: requested.workers };
    }
    const conflict = resumeConflict(dir, overrides, requested, config, spaceName !== config.space ? ['space'] : []);
    if (conflict) throw new SearchError(conflict);
    return { config, spec: validateSpec(JSON.parse(readFileSync(spaceFile, 'utf8')), spaceFile), notes };
  }
  const spec = typeof options.space === 'string' ? await loadSpaceDocument(options.space) : validateSpec(structuredClone(options.space), 'space');
  // A user's document file is searched at the width, scale and cells it states, not the preset's.
  if (typeof options.space === 'string' && !isSpaceId(options.space)) {
    overrides = { channels: spec.channels, scale: spec.scale, ...(spec.cells !== undefined ? { cells: spec.cells } : {}), ...overrides };
  }
  return { config: fixedArchitectureShape(resolveSearchConfig({ ...overrides, space: spaceName }), overrides, spec), spec, notes };
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
export function searchSamplers(
  config: SearchConfig,
  images: readonly TrainingImage[],
  onNote: (message: string) => void = () => {},
): { w: PatchSampler; alpha: PatchSampler; validation: PatchSampler } {
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

/**
 * A fixed architecture (one op per block), searched for its bits only, keeps its own width and cell
 * count unless the options name them: the preset's smaller ones would make it another network.
 */
export function fixedArchitectureShape(config: SearchConfig, overrides: SearchOptionsOverrides, spec: SearchSpaceSpec): SearchConfig {
  if (!isFixedArchitecture(spec)) return config;
  return { ...config, channels: overrides.channels ?? null, cells: overrides.cells ?? null };
}

/** A space id or document file; a missing or unreadable file is a SearchError (the user's to fix). */
export async function loadSpaceDocument(space: string): Promise<SearchSpaceSpec> {
  try {
    return await loadSpec(space);
  } catch (error) {
    // A missing or unreadable file is the user's to fix, like a spec error.
    if (error instanceof Error && error.name === 'Error') throw new SearchError(error.message);
    throw error;
  }
}

function pickOverrides(options: SearchOptions): SearchOptionsOverrides {
  const { space: _space, out: _out, resume: _resume, dataRoot: _dataRoot, backend: _backend, ...rest } = options;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as SearchOptionsOverrides;
}
