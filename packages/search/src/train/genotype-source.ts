import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  baselineGenotype,
  checkGenotype,
  getSpace,
  GenotypeError,
  isSpaceId,
  loadSpec,
  parseGenotype,
  resolveSpace,
  validateSpec,
  type Genotype,
  type SearchSpaceSpec,
} from '@quantnas/search-spaces';
import type { BitWidth } from '../config.js';
import { TrainError } from './config.js';

/** What a discrete network needs besides its weights. */
export interface TrainTarget {
  readonly spec: SearchSpaceSpec;
  readonly genotype: Genotype;
  readonly cells: number;
  readonly adq: boolean;
}

export interface TargetOptions {
  /** A genotype file (e.g. a search's `genotype.json`) or the genotype itself. */
  readonly genotype: string | Genotype;
  /** A space id, a space document's path or the document; default: from the search beside the genotype, else the genotype's space id. */
  readonly space?: string | SearchSpaceSpec;
  /** Default: the search's (its summary.json beside the genotype), else inferred from the block names, else the space's. */
  readonly cells?: number;
  /** Default: the search's, else on. */
  readonly adq?: boolean;
  /**
   * The channel width C the genotype is trained at, where not its own: a genotype searched on a
   * narrow supernet trained wider (its ops and bits kept, every `C`-relative size scaled).
   */
  readonly channels?: number;
}

/** The search configuration fields a training run can take over from a search directory. */
interface SearchSummaryLike {
  readonly space?: string;
  readonly config?: { readonly cells?: number | null; readonly adq?: boolean };
}

/**
 * Resolves a genotype and its search space. A genotype written by `runSearch` lies next to the
 * search's `space.json` and `summary.json`, which give the space document, the cell count and
 * whether ADQ was on; the genotype alone says neither.
 */
export async function resolveTrainTarget(options: TargetOptions): Promise<TrainTarget> {
  let genotype: Genotype;
  let searchDir: string | undefined;
  if (typeof options.genotype === 'string') {
    const path = options.genotype;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new TrainError(`${path}: cannot read the genotype (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TrainError(`${path}: the genotype is not valid JSON`);
    }
    genotype = parseGenotype(json, path);
    searchDir = dirname(path);
  } else {
    genotype = parseGenotype(structuredClone(options.genotype), 'genotype');
  }

  if (options.channels !== undefined && options.channels !== genotype.channels) {
    if (!Number.isInteger(options.channels) || options.channels < 1) throw new TrainError(`channels must be a positive integer, got ${options.channels}`);
    genotype = { ...genotype, channels: options.channels };
  }

  const summary = searchDir ? readSearchSummary(join(searchDir, 'summary.json')) : undefined;
  const fromSearch = summary?.space === genotype.space ? summary.config : undefined;

  let spec: SearchSpaceSpec;
  if (options.space !== undefined) {
    spec = typeof options.space === 'string' ? await loadSpace(options.space) : validateSpec(structuredClone(options.space), 'space');
  } else if (searchDir && existsSync(join(searchDir, 'space.json')) && spaceIdOf(join(searchDir, 'space.json')) === genotype.space) {
    spec = await loadSpace(join(searchDir, 'space.json'));
  } else if (isSpaceId(genotype.space)) {
    spec = getSpace(genotype.space);
  } else {
    throw new TrainError(`the genotype is for space '${genotype.space}', which is not built in; give its document with --space`);
  }
  if (spec.id !== genotype.space) throw new TrainError(`the genotype is for space '${genotype.space}', not '${spec.id}'`);

  const cells = options.cells ?? fromSearch?.cells ?? inferCells(spec, genotype);
  try {
    checkGenotype(
      resolveSpace(spec, { channels: genotype.channels, scale: genotype.scale, cells }),
      genotype,
      typeof options.genotype === 'string' ? options.genotype : undefined,
      { anyBits: true },
    );
  } catch (error) {
    if (error instanceof GenotypeError) throw new TrainError(error.message);
    throw error;
  }
  return { spec, genotype, cells, adq: options.adq ?? fromSearch?.adq ?? true };
}

/**
 * Refuses, before any search runs, a width `channels` at which some candidate of `space` cannot be
 * built (rfdn-bicubic's grouped ops on its C/2 skips need C divisible by 4, its repeats by 3): the
 * genotype a search of that space returns could not be trained at it.
 */
export async function checkTrainWidth(space: string, channels: number): Promise<void> {
  const spec = await loadSpace(space);
  try {
    resolveSpace(spec, { channels });
  } catch (error) {
    if (error instanceof Error && error.name === 'SpecError')
      throw new TrainError(`cannot train a genotype of '${spec.id}' at ${channels} channels: ${error.message}`);
    throw error;
  }
}

function readSearchSummary(path: string): SearchSummaryLike | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SearchSummaryLike;
  } catch {
    return undefined;
  }
}

function spaceIdOf(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

async function loadSpace(space: string): Promise<SearchSpaceSpec> {
  if (isSpaceId(space)) return getSpace(space);
  try {
    return await loadSpec(space);
  } catch (error) {
    // A missing or unreadable file is the user's to fix, like a spec error.
    if (error instanceof Error && error.name === 'Error') throw new TrainError(error.message);
    throw error;
  }
}

/**
 * The cell count a genotype fits: the space's own if it fits, else the smallest that does (per-cell
 * blocks such as rfdn's `cell1.body0` name it). Spaces whose cells share α fit any count; they get
 * the space's default.
 */
function inferCells(spec: SearchSpaceSpec, genotype: Genotype): number {
  const fits = (cells?: number) => {
    try {
      checkGenotype(
        resolveSpace(spec, { channels: genotype.channels, scale: genotype.scale, ...(cells !== undefined ? { cells } : {}) }),
        genotype,
        undefined,
        { anyBits: true },
      );
      return true;
    } catch {
      return false;
    }
  };
  const fallback = spec.cells ?? 1;
  if (fits()) return fallback;
  for (let cells = 1; cells <= 16; cells++) if (cells !== fallback && fits(cells)) return cells;
  return fallback;
}

export interface BaselineTargetOptions {
  /** A space id or a space document's path: its `baseline` ops (else each block's first candidate). */
  readonly arch: string;
  readonly bits: BitWidth;
  readonly channels?: number;
  readonly cells?: number;
}

/**
 * A fixed architecture at uniform bits as a training target (`quantnas train --arch fsrcnn
 * --bits 8`): the space restricted to those bits and its baseline genotype.
 */
export async function resolveBaselineTarget(
  options: BaselineTargetOptions,
): Promise<Required<Pick<TargetOptions, 'space' | 'cells'>> & { readonly genotype: Genotype }> {
  const spec = await loadSpace(options.arch);
  try {
    const baseline = baselineGenotype(spec, options);
    return { genotype: baseline.genotype, space: baseline.spec, cells: options.cells ?? spec.cells ?? 1 };
  } catch (error) {
    if (error instanceof Error && (error.name === 'SpecError' || error.name === 'GenotypeError')) throw new TrainError(error.message);
    throw error;
  }
}
