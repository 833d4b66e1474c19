import type { Genotype, SearchSpaceSpec } from '@quantnas/search-spaces';
import type { DeriveMethod, SearchConfig, SearchOptionsOverrides } from './config.js';
import type { SearchEvent } from './events.js';
import type { JobHooks, JobOptions, JobResult, JobState } from './job.js';

export interface SearchOptions extends Omit<SearchOptionsOverrides, 'space'>, JobOptions {
  /** A space id, the path of a space document, or the document itself. */
  readonly space: string | SearchSpaceSpec;
}

export type SearchHooks = JobHooks<SearchEvent>;

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
  readonly derivation?: {
    readonly method: Exclude<DeriveMethod, 'alpha'>;
    readonly start: string;
    readonly startObjective: number;
    readonly objective: number;
    readonly evaluations: number;
  };
  readonly files: SearchFiles;
}

export type SearchResult = JobResult<SearchSummary, SearchFiles>;

/** What a checkpoint's header carries besides the tensors. */
export interface LoopState extends JobState {
  config: SearchConfig;
  alphaSteps: number;
  /** Training forwards so far: they advance the supernet's noise and Gumbel counters. */
  trainingForwards: number;
  b0: number | null;
  best: GenotypeRecord | null;
  last: GenotypeRecord | null;
  epochSums: { wLoss: number; alphaLoss: number; wCount: number; alphaCount: number };
  wAdamSteps: number;
  alphaAdamSteps: number;
}
