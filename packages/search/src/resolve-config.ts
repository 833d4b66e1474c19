import { BIT_WIDTHS } from '@quantnas/search-spaces';
import { DERIVE_METHODS, ENTROPY_KINDS, PATH_SAMPLINGS, SearchError, type SearchConfig, type SearchOptionsOverrides } from './config.js';
import { parseLatencyTable } from './latency/table.js';
import { PRESET_NAMES, PRESETS } from './presets.js';

const DEFAULTS = {
  mode: 'noise',
  adq: true,
  penalty: 0,
  latencyPenalty: 0,
  latencyTable: null,
  seed: 1,
  bits: null,
  preset: null,
  workers: 1,
  kernels: 'fused',
  derive: 'alpha',
} as const;

/** The preset's settings, then the defaults, then every override that is not undefined; validated. */
export function resolveSearchConfig(options: SearchOptionsOverrides & { space: string }): SearchConfig {
  const presetName = options.preset ?? 'quick';
  if (!PRESET_NAMES.includes(presetName)) throw new SearchError(`unknown preset '${String(presetName)}' (expected ${PRESET_NAMES.join(', ')})`);
  const overrides: SearchOptionsOverrides = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const preset = PRESETS[presetName];
  // A different length without a warm-up of its own keeps the preset's warm-up fraction (9 of 20 in the paper).
  if (overrides.epochs !== undefined && overrides.warmupEpochs === undefined && Number.isInteger(overrides.epochs) && overrides.epochs >= 1) {
    overrides.warmupEpochs = Math.min(overrides.epochs - 1, Math.round((preset.warmupEpochs * overrides.epochs) / preset.epochs));
  }
  const config = { ...preset, ...DEFAULTS, preset: presetName, ...overrides } as SearchConfig;
  validateConfig(config);
  return config;
}

function validateConfig(c: SearchConfig): void {
  const fail = (message: string): never => {
    throw new SearchError(message);
  };
  const int = (name: keyof SearchConfig, min: number) => {
    const v = c[name] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  const nonNegative = (name: keyof SearchConfig) => {
    const v = c[name] as unknown;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name} must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  };
  if (typeof c.space !== 'string' || c.space === '') fail('space must be a space id or the path of a space document');
  if (!['noise', 'direct', 'fp'].includes(c.mode)) fail(`mode must be noise, direct or fp, got '${String(c.mode)}'`);
  if (typeof c.adq !== 'boolean') fail('adq must be true or false');
  if (c.kernels !== 'fused' && c.kernels !== 'reference') fail(`kernels must be fused or reference, got '${String(c.kernels)}'`);
  if (!PATH_SAMPLINGS.includes(c.pathSampling)) fail(`pathSampling must be ${PATH_SAMPLINGS.join(', ')}, got '${String(c.pathSampling)}'`);
  if (!DERIVE_METHODS.includes(c.derive)) fail(`derive must be ${DERIVE_METHODS.join(', ')}, got '${String(c.derive)}'`);
  if (!['softmax', 'gumbel'].includes(c.selector)) fail(`selector must be softmax or gumbel, got '${String(c.selector)}'`);
  if (!ENTROPY_KINDS.includes(c.entropy)) fail(`entropy must be one of ${ENTROPY_KINDS.join(', ')}, got '${String(c.entropy)}'`);
  if (c.bits !== null) {
    if (!Array.isArray(c.bits) || c.bits.length === 0) fail('bits must be a non-empty list of bit-widths');
    for (const b of c.bits) if (!(BIT_WIDTHS as readonly number[]).includes(b)) fail(`bit-width ${JSON.stringify(b)} is not supported (use 2..8, or 32)`);
    if (new Set(c.bits).size !== c.bits.length) fail(`bits lists a bit-width twice: ${c.bits.join(',')}`);
  }
  for (const n of ['channels', 'cells'] as const) if (c[n] !== null) int(n, 1);
  int('scale', 1);
  int('epochs', 1);
  int('warmupEpochs', 0);
  if (c.warmupEpochs >= c.epochs) fail(`warmupEpochs (${c.warmupEpochs}) must be smaller than epochs (${c.epochs}): α would never be trained`);
  if (c.stepsPerEpoch !== 'pass') int('stepsPerEpoch', 1);
  for (const n of ['batchSize', 'lrPatchSize', 'patchesPerImage', 'validationPatches', 'validationPatchSize', 'checkpointEvery', 'workers'] as const) int(n, 1);
  if (c.workers > c.batchSize) fail(`workers (${c.workers}) must not exceed batchSize (${c.batchSize}): each worker takes a share of the batch`);
  if (!Number.isSafeInteger(c.seed)) fail(`seed must be an integer, got ${JSON.stringify(c.seed)}`);
  nonNegative('latencyPenalty');
  if (c.latencyPenalty > 0 && c.latencyTable === null) fail('latencyPenalty needs a latencyTable (measure one with quantnas bench latency-table)');
  if (c.latencyTable !== null) {
    try {
      parseLatencyTable(c.latencyTable, 'latencyTable');
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }
  for (const n of ['penalty', 'entropyWeight', 'wLr', 'wLrMin', 'wWeightDecay', 'alphaLr', 'alphaWeightDecay'] as const) nonNegative(n);
  if (!(c.wGradClip > 0)) fail(`wGradClip must be positive, got ${c.wGradClip}`);
  if (!(c.temperature > 0)) fail(`temperature must be positive, got ${c.temperature}`);
  for (const n of ['alphaBeta1', 'alphaBeta2'] as const) if (!(c[n] >= 0 && c[n] < 1)) fail(`${n} must be in [0, 1), got ${c[n]}`);
  if (!Array.isArray(c.splits) || c.splits.length !== 3 || c.splits.some((f) => !(f > 0)) || c.splits.reduce((a, b) => a + b, 0) > 1 + 1e-9) {
    fail(`splits must be three positive fractions (w, α, validation) summing to at most 1, got ${JSON.stringify(c.splits)}`);
  }
  if (!Array.isArray(c.trainSets) || c.trainSets.length === 0) fail('trainSets must name at least one training set');
}
