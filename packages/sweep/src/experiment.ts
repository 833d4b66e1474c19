import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The options of one `quantnas run` that an experiment file may set, in the order their flags are written. */
export const RUN_OPTION_KEYS = [
  'preset',
  'space',
  'arch',
  'bits',
  'channels',
  'cells',
  'penalty',
  'mode',
  'adq',
  'entropy',
  'derive',
  'pathSampling',
  'latencyTable',
  'latencyPenalty',
  'seed',
  'workers',
  'sets',
] as const;
export type RunOptionKey = (typeof RUN_OPTION_KEYS)[number];
export type RunOptionValue = string | number | boolean;
/** One job's `quantnas run` options, as the experiment file names them (`pathSampling` is `--path-sampling`). */
export type RunOptions = { readonly [K in RunOptionKey]?: RunOptionValue };

/** What each key accepts: its JSON type, checked with the key and the file named. */
const KINDS: Record<RunOptionKey, 'string' | 'number' | 'integer' | 'onoff' | 'bits'> = {
  preset: 'string',
  space: 'string',
  arch: 'string',
  bits: 'bits',
  channels: 'integer',
  cells: 'integer',
  penalty: 'number',
  mode: 'string',
  adq: 'onoff',
  entropy: 'string',
  derive: 'string',
  pathSampling: 'string',
  latencyTable: 'string',
  latencyPenalty: 'number',
  seed: 'integer',
  workers: 'integer',
  sets: 'string',
};

/** Keys that configure the search: a baseline (`--arch`, no search) takes none of them from `defaults`. */
export const SEARCH_ONLY_KEYS: readonly RunOptionKey[] = [
  'space',
  'penalty',
  'mode',
  'adq',
  'entropy',
  'derive',
  'pathSampling',
  'latencyTable',
  'latencyPenalty',
  'bits',
];

export interface Variant extends RunOptions {
  readonly name: string;
}

export interface Baseline extends Omit<RunOptions, 'bits' | 'seed'> {
  readonly arch: string;
  /** One bit-width, or a list: one baseline job per value. */
  readonly bits?: number | string | readonly (number | string)[];
  /** One seed or a list, in place of the grid's `seed` axis (a fixed network measured on fewer seeds than the searches). */
  readonly seed?: readonly number[];
}

/** An experiment file, checked. */
export interface Experiment {
  readonly schemaVersion: 1;
  readonly name: string;
  readonly defaults: RunOptions;
  /** Axes of the cartesian product, in the file's order. */
  readonly grid: { readonly [K in RunOptionKey]?: readonly RunOptionValue[] };
  /** Absent: one search (the defaults and the grid); empty: no search, baselines only. */
  readonly variants?: readonly Variant[];
  readonly baselines: readonly Baseline[];
}

/** One `quantnas run` of a sweep. */
export interface SweepJob {
  /** First 12 hex digits of the SHA-256 of the canonical JSON of `options`: the same job always has the same id. */
  readonly id: string;
  /** `group` and the seed: `joint, penalty 0.001, seed 2`. */
  readonly label: string;
  /** What the job is without its seed: the jobs a report averages over seeds share it. */
  readonly group: string;
  /** The final options, keys sorted. */
  readonly options: RunOptions;
}

/** An experiment file that cannot be used: the message is one line naming the file and the key. */
export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
}

const TOP_KEYS = ['schemaVersion', 'name', 'defaults', 'grid', 'variants', 'baselines'];

/** Reads and checks an experiment file; returns it with its parsed JSON (kept in sweep.json as `source`). */
export function readExperiment(file: string): { experiment: Experiment; source: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExperimentError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(error)})`}`);
  }
  let source: unknown;
  try {
    source = JSON.parse(text);
  } catch (error) {
    throw new ExperimentError(`${file}: not valid JSON (${(error as Error).message.split('\n')[0]})`);
  }
  return { experiment: parseExperiment(source, file), source };
}

/** Checks a parsed experiment file; `file` names it in the errors. */
export function parseExperiment(value: unknown, file: string): Experiment {
  const fail = (message: string): never => {
    throw new ExperimentError(`${file}: ${message}`);
  };
  if (!isObject(value)) return fail('an experiment file is a JSON object');
  for (const key of Object.keys(value)) if (!TOP_KEYS.includes(key)) fail(`unknown key '${key}' (keys: ${TOP_KEYS.join(', ')})`);
  if (value.schemaVersion !== 1) fail(`'schemaVersion' must be 1, got ${JSON.stringify(value.schemaVersion)}`);
  if (typeof value.name !== 'string' || value.name.trim() === '') fail(`'name' must be a non-empty string, got ${JSON.stringify(value.name)}`);

  const defaults = value.defaults === undefined ? {} : runOptions(value.defaults, 'defaults', fail);

  const grid: Record<string, RunOptionValue[]> = {};
  if (value.grid !== undefined) {
    if (!isObject(value.grid)) fail(`'grid' must be an object of option lists, got ${JSON.stringify(value.grid)}`);
    for (const [key, list] of Object.entries(value.grid as Record<string, unknown>)) {
      checkKey(key, 'grid', fail);
      if (!Array.isArray(list) || list.length === 0) fail(`'grid.${key}' must be a non-empty array, got ${JSON.stringify(list)}`);
      grid[key] = (list as unknown[]).map((v, i) => optionValue(key as RunOptionKey, v, `grid.${key}[${i}]`, fail));
      const seen = new Set(grid[key]!.map((v) => JSON.stringify(v)));
      if (seen.size !== grid[key]!.length) fail(`'grid.${key}' lists a value twice`);
    }
  }

  let variants: Variant[] | undefined;
  if (value.variants !== undefined) {
    variants = [];
    if (!Array.isArray(value.variants)) fail(`'variants' must be an array of objects, got ${JSON.stringify(value.variants)}`);
    (value.variants as unknown[]).forEach((v, i) => {
      const where = `variants[${i}]`;
      if (!isObject(v)) return fail(`'${where}' must be an object, got ${JSON.stringify(v)}`);
      const { name, ...rest } = v;
      if (typeof name !== 'string' || name.trim() === '') fail(`'${where}.name' must be a non-empty string, got ${JSON.stringify(name)}`);
      const options = runOptions(rest, where, fail);
      for (const key of Object.keys(options)) if (key in grid) fail(`'${where}.${key}' is also a grid axis: set it in one place (the variant or the grid)`);
      if (variants!.some((other) => other.name === name)) fail(`'${where}.name' ${JSON.stringify(name)} names two variants`);
      variants!.push({ name: name as string, ...options });
    });
  }

  const baselines: Baseline[] = [];
  if (value.baselines !== undefined) {
    if (!Array.isArray(value.baselines)) fail(`'baselines' must be an array of objects, got ${JSON.stringify(value.baselines)}`);
    (value.baselines as unknown[]).forEach((b, i) => {
      const where = `baselines[${i}]`;
      if (!isObject(b)) return fail(`'${where}' must be an object, got ${JSON.stringify(b)}`);
      const { bits, seed, ...rest } = b;
      if (typeof rest.arch !== 'string' || rest.arch === '') fail(`'${where}.arch' must be a non-empty string, got ${JSON.stringify(rest.arch)}`);
      const options = runOptions(rest, where, fail);
      for (const key of Object.keys(options)) {
        if (SEARCH_ONLY_KEYS.includes(key as RunOptionKey)) fail(`'${where}.${key}' applies to a search; a baseline has none`);
      }
      let seeds: number[] | undefined;
      if (seed !== undefined) {
        const list = Array.isArray(seed) ? (seed as unknown[]) : [seed];
        if (list.length === 0) fail(`'${where}.seed' must not be an empty list`);
        seeds = list.map((v, j) => optionValue('seed', v, Array.isArray(seed) ? `${where}.seed[${j}]` : `${where}.seed`, fail) as number);
      }
      let bitsList: (number | string)[] | undefined;
      if (bits !== undefined) {
        const list = Array.isArray(bits) ? (bits as unknown[]) : [bits];
        if (list.length === 0) fail(`'${where}.bits' must not be an empty list`);
        bitsList = list.map((v, j) => optionValue('bits', v, Array.isArray(bits) ? `${where}.bits[${j}]` : `${where}.bits`, fail) as number | string);
      }
      const { bits: _bits, seed: _seed, ...baseline } = options;
      baselines.push({
        ...baseline,
        arch: rest.arch as string,
        ...(bitsList !== undefined ? { bits: bitsList } : {}),
        ...(seeds !== undefined ? { seed: seeds } : {}),
      });
    });
  }

  return { schemaVersion: 1, name: (value.name as string).trim(), defaults, grid, ...(variants !== undefined ? { variants } : {}), baselines };
}

/**
 * The jobs of an experiment: searched jobs are each variant (without `variants`, one empty variant;
 * with `variants: []`, none) × the cartesian
 * product of the grid, over `defaults` (a variant overrides `defaults`, a grid axis overrides both; a
 * key may not be both a variant's and an axis); baselines are each entry × each of its `bits` × its
 * own `seed` list, else the grid's `seed` axis, over `defaults` without the search's keys. Two jobs with the same options, or
 * the same label, are an error.
 */
export function expandExperiment(experiment: Experiment, file = 'experiment'): SweepJob[] {
  const jobs: SweepJob[] = [];
  const axes = Object.entries(experiment.grid) as [RunOptionKey, RunOptionValue[]][];
  const combos = cartesian(axes);
  const variants: readonly (Variant | undefined)[] = experiment.variants ?? [undefined];
  for (const variant of variants) {
    const { name, ...variantOptions } = variant ?? { name: undefined };
    for (const combo of combos) {
      const options = { ...experiment.defaults, ...variantOptions, ...combo };
      const parts = [name ?? 'searched', ...axes.filter(([k]) => k !== 'seed').map(([k]) => describe(k, combo[k]!))];
      jobs.push(makeJob(options, parts));
    }
  }
  const baseDefaults = Object.fromEntries(Object.entries(experiment.defaults).filter(([k]) => !SEARCH_ONLY_KEYS.includes(k as RunOptionKey)));
  for (const baseline of experiment.baselines) {
    const { bits, seed: own, ...rest } = baseline;
    const seeds = own ?? experiment.grid.seed ?? [undefined];
    const bitsList = bits === undefined ? [undefined] : Array.isArray(bits) ? bits : [bits as number | string];
    for (const b of bitsList) {
      for (const seed of seeds) {
        const options: RunOptions = { ...baseDefaults, ...rest, ...(b !== undefined ? { bits: b } : {}), ...(seed !== undefined ? { seed } : {}) };
        const bitsLabel = b === undefined ? '8-bit' : Number(b) === 32 ? 'fp32' : `${b}-bit`;
        const extra = (['channels', 'cells'] as const).filter((k) => rest[k] !== undefined).map((k) => describe(k, rest[k]!));
        jobs.push(makeJob(options, [`${baseline.arch} ${bitsLabel}`, ...extra]));
      }
    }
  }
  const byId = new Map<string, SweepJob>();
  const byLabel = new Map<string, SweepJob>();
  for (const job of jobs) {
    const same = byId.get(job.id);
    if (same) throw new ExperimentError(`${file}: '${same.label}' and '${job.label}' are the same run (options ${JSON.stringify(job.options)})`);
    const named = byLabel.get(job.label);
    if (named) throw new ExperimentError(`${file}: two different runs are labelled '${job.label}': give the variants or baselines distinct names`);
    byId.set(job.id, job);
    byLabel.set(job.label, job);
  }
  return jobs;
}

/** The `quantnas run` arguments of a job's options, without `--out`. */
export function runArgs(options: RunOptions): string[] {
  const args: string[] = [];
  for (const key of RUN_OPTION_KEYS) {
    const value = options[key];
    if (value === undefined) continue;
    args.push(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, formatValue(value));
  }
  return args;
}

/** The id of a job with these options: 12 hex digits of the SHA-256 of their canonical (sorted-key) JSON. */
export function jobId(options: RunOptions): string {
  return createHash('sha256').update(canonicalJson(options)).digest('hex').slice(0, 12);
}

/** JSON with every object's keys sorted: the same options always give the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

function makeJob(options: RunOptions, groupParts: string[]): SweepJob {
  const sorted = Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as RunOptions;
  const group = groupParts.join(', ');
  const label = sorted.seed !== undefined ? `${group}, seed ${sorted.seed}` : group;
  return { id: jobId(sorted), label, group, options: sorted };
}

function describe(key: RunOptionKey, value: RunOptionValue): string {
  return `${key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)} ${formatValue(value)}`;
}

function formatValue(value: RunOptionValue): string {
  return typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
}

function cartesian(axes: [RunOptionKey, RunOptionValue[]][]): Record<string, RunOptionValue>[] {
  let combos: Record<string, RunOptionValue>[] = [{}];
  for (const [key, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  return combos;
}

function runOptions(value: unknown, where: string, fail: (m: string) => never): RunOptions {
  if (!isObject(value)) return fail(`'${where}' must be an object, got ${JSON.stringify(value)}`);
  const out: Record<string, RunOptionValue> = {};
  for (const [key, v] of Object.entries(value)) {
    checkKey(key, where, fail);
    out[key] = optionValue(key as RunOptionKey, v, `${where}.${key}`, fail);
  }
  return out;
}

function checkKey(key: string, where: string, fail: (m: string) => never): void {
  if (!(RUN_OPTION_KEYS as readonly string[]).includes(key))
    fail(`unknown key '${where}.${key}' (run options: ${RUN_OPTION_KEYS.join(', ')}${where.startsWith('variants') ? ', and name' : ''})`);
}

/** Checks one value against its key's kind; `adq` true/false become "on"/"off" (the same job either way). */
function optionValue(key: RunOptionKey, value: unknown, where: string, fail: (m: string) => never): RunOptionValue {
  const got = JSON.stringify(value);
  switch (KINDS[key]) {
    case 'string':
      if (typeof value !== 'string' || value === '') fail(`'${where}' must be a non-empty string, got ${got}`);
      return value as string;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`'${where}' must be a number ≥ 0, got ${got}`);
      return value as number;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`'${where}' must be an integer ≥ 0, got ${got}`);
      return value as number;
    case 'onoff':
      if (value === true || value === 'on') return 'on';
      if (value === false || value === 'off') return 'off';
      return fail(`'${where}' must be true, false, "on" or "off", got ${got}`);
    case 'bits':
      if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
      if (typeof value === 'string' && /^\d+(,\d+)*$/.test(value)) return value;
      return fail(`'${where}' must be a bit-width (8) or a list of them ("4,8"), got ${got}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
