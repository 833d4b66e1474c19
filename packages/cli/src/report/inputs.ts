import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../io.js';
import type { RunSummary } from '../pipeline.js';

/** One finished run of the report: its summary, where it came from and the group it belongs to. */
export interface ReportRun {
  readonly dir: string;
  /** The sweep's job id, or the run directory's name. */
  readonly id: string;
  /** The job's label in a sweep, the run's own label otherwise. */
  readonly label: string;
  /** Runs of one configuration (all but the seed) share it. */
  readonly groupKey: string;
  readonly group: string;
  readonly seed: number | null;
  readonly run: RunSummary;
  /** The genotype drawing and the training curve, where the run has them. */
  readonly files: { readonly genotypeSvg?: string; readonly curveSvg?: string };
  /** The integer engine's time for its model, when the report measures it (`quantnas report --x latency`). */
  readonly latencyMs?: number;
}

/** A job of a sweep without run.json yet. */
export interface PendingJob {
  readonly sweep: string;
  readonly id: string;
  readonly label: string;
}

export interface ReportInputs {
  readonly runs: ReportRun[];
  readonly pending: PendingJob[];
  /** The names of the sweeps given, in order. */
  readonly sweeps: string[];
}

interface SweepJob {
  readonly id: string;
  readonly label: string;
  readonly group: string;
  readonly options: Record<string, unknown>;
  readonly dir: string;
}

/** Each argument is a run directory (it holds run.json) or a sweep directory (it holds sweep.json). */
export function readReportInputs(dirs: readonly string[]): ReportInputs {
  const runs: ReportRun[] = [];
  const pending: PendingJob[] = [];
  const sweeps: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(join(dir, 'sweep.json'))) {
      runs.push(plainRun(dir));
      continue;
    }
    const sweep = readSweep(dir);
    sweeps.push(sweep.name);
    for (const job of sweep.jobs) {
      const jobDir = resolve(dir, job.dir);
      if (!existsSync(join(jobDir, 'run.json'))) pending.push({ sweep: sweep.name, id: job.id, label: job.label });
      else {
        const seed = typeof job.options.seed === 'number' ? job.options.seed : null;
        runs.push({ ...baseRun(jobDir, readRunSummary(jobDir)), id: job.id, label: job.label, groupKey: `sweep\0${job.group}`, group: job.group, seed });
      }
    }
  }
  return { runs: disambiguate(runs), pending, sweeps };
}

function readJson(path: string, what: string, hint: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`${path}: no ${what} (${hint})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${path}: not valid JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readSweep(dir: string): { name: string; jobs: SweepJob[] } {
  const path = join(dir, 'sweep.json');
  const sweep = readJson(path, 'sweep', 'written by quantnas sweep');
  if (!isObject(sweep) || sweep.schemaVersion !== 1) {
    const version = isObject(sweep) ? JSON.stringify(sweep.schemaVersion) : 'none';
    throw new UsageError(`${path}: not a sweep of this version (schemaVersion ${version}, this report reads 1)`);
  }
  if (!Array.isArray(sweep.jobs)) throw new UsageError(`${path}: the sweep has no jobs list`);
  const jobs = sweep.jobs.map((job: unknown, i: number): SweepJob => {
    const ok = isObject(job) && ['id', 'label', 'group', 'dir'].every((k) => typeof job[k] === 'string');
    if (!ok) throw new UsageError(`${path}: jobs[${i}] is not a job (it needs id, label, group and dir)`);
    return {
      id: job.id as string,
      label: job.label as string,
      group: job.group as string,
      dir: job.dir as string,
      options: isObject(job.options) ? job.options : {},
    };
  });
  return { name: typeof sweep.name === 'string' ? sweep.name : basename(resolve(dir)), jobs };
}

export function readRunSummary(dir: string): RunSummary {
  const path = join(dir, 'run.json');
  const run = readJson(path, 'run summary', `is ${dir} a directory written by quantnas run?`) as RunSummary;
  if (!isObject(run) || run.schemaVersion !== 1 || typeof run.bitops_32x32 !== 'number' || !isObject(run.sets)) {
    throw new UsageError(`${path}: not a run summary of this version`);
  }
  return run;
}

/** A path of run.json (relative to the run's directory, or absolute), else the usual place in it. */
function runFile(dir: string, recorded: string | undefined, usual: string): string | undefined {
  const candidates = [recorded === undefined ? undefined : isAbsolute(recorded) ? recorded : join(dir, recorded), join(dir, usual)];
  return candidates.find((p): p is string => p !== undefined && existsSync(p));
}

function baseRun(dir: string, run: RunSummary) {
  const genotypeSvg = runFile(dir, run.paths?.genotype_svg, join('search', 'genotype.svg'));
  const curveSvg = runFile(dir, run.paths?.training_curve, join('train', 'curve.svg'));
  return { dir: resolve(dir), run, files: { ...(genotypeSvg ? { genotypeSvg } : {}), ...(curveSvg ? { curveSvg } : {}) } };
}

/** Search options that make two runs of one label different configurations. */
const CONFIG_KEYS = ['mode', 'adq', 'entropy', 'bits', 'pathSampling', 'derive', 'channels', 'cells', 'epochs'];

/**
 * A run directory given by hand: its group is its label and preset, with the search options its
 * search/summary.json records (all but the seed); its seed is the one train/summary.json records.
 */
function plainRun(dir: string): ReportRun {
  const run = readRunSummary(dir);
  const config = (file: string): Record<string, unknown> => {
    try {
      const summary: unknown = JSON.parse(readFileSync(join(dir, file, 'summary.json'), 'utf8'));
      return isObject(summary) && isObject(summary.config) ? summary.config : {};
    } catch {
      return {};
    }
  };
  const search = config('search');
  const seed = config('train').seed;
  const options: Record<string, unknown> = Object.fromEntries(CONFIG_KEYS.filter((k) => search[k] !== undefined).map((k) => [k, search[k]]));
  // The trained network's width: a baseline has no search to record it, and a genotype may be trained wider than its search.
  const width = isObject(run.genotype) ? run.genotype.channels : undefined;
  if (typeof width === 'number') options.width = width;
  const groupKey = `run\0${run.label}\0${run.preset}\0${JSON.stringify(options)}`;
  return { ...baseRun(dir, run), id: basename(resolve(dir)), label: run.label, groupKey, group: run.label, seed: typeof seed === 'number' ? seed : null };
}

/**
 * Groups of hand-given runs that share a label but not a configuration get the preset and search
 * options they differ in appended to their name, so that no two groups read alike.
 */
function disambiguate(runs: ReportRun[]): ReportRun[] {
  const configOf = (r: ReportRun): Record<string, unknown> => {
    const [, , preset, options] = r.groupKey.split('\0');
    return { preset, ...(JSON.parse(options!) as Record<string, unknown>) };
  };
  const byName = new Map<string, Map<string, Record<string, unknown>>>();
  for (const r of runs) {
    if (r.groupKey.startsWith('run\0')) byName.set(r.group, (byName.get(r.group) ?? new Map()).set(r.groupKey, configOf(r)));
  }
  return runs.map((r) => {
    const configs = [...(byName.get(r.group)?.values() ?? [])];
    if (configs.length < 2) return r;
    const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))];
    const differing = keys.filter((k) => new Set(configs.map((c) => JSON.stringify(c[k]))).size > 1);
    const own = configOf(r);
    return { ...r, group: `${r.group} (${differing.map((k) => `${k} ${own[k] === undefined ? '–' : String(own[k])}`).join(', ')})` };
  });
}
