import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { Experiment, RunOptions, SweepJob } from './experiment.js';

/**
 * The files of a `quantnas run --out` directory that a sweep keeps, relative to it: what a worker
 * sends back and what `quantnas report` reads. `run.json` is written last: a job directory that
 * holds it is finished.
 */
export const RESULT_FILES = [
  'search/genotype.json',
  'search/genotype.svg',
  'search/summary.json',
  'search/search.jsonl',
  'train/summary.json',
  'train/curve.svg',
  'model.qnas',
  'sample-x4.png',
  'run.json',
] as const;

/** `SWEEP_DIR/sweep.json`: the experiment and its jobs; each job's results are in `SWEEP_DIR/<dir>`. */
export interface SweepManifest {
  readonly schemaVersion: 1;
  readonly name: string;
  /** The experiment file as it was parsed. */
  readonly source: unknown;
  readonly jobs: readonly { readonly id: string; readonly label: string; readonly group: string; readonly options: RunOptions; readonly dir: string }[];
}

/** A sweep directory that cannot be used, or results that cannot be written: one line. */
export class SweepError extends Error {
  override readonly name = 'SweepError';
}

/** Where a job's results are: `SWEEP_DIR/jobs/<id>`. */
export function jobDir(sweepDir: string, id: string): string {
  return join(sweepDir, 'jobs', id);
}

/** True when the job's directory holds its `run.json` (the last file a finished run writes). */
export function isJobDone(sweepDir: string, id: string): boolean {
  return existsSync(join(jobDir(sweepDir, id), 'run.json'));
}

/**
 * Writes `SWEEP_DIR/sweep.json` for these jobs (creating the directory). A directory that holds
 * another experiment's sweep (another name) is refused; the same experiment, edited (another seed),
 * is rewritten, and the results of the jobs it keeps stay.
 */
export function writeSweepManifest(sweepDir: string, experiment: Experiment, source: unknown, jobs: readonly SweepJob[]): SweepManifest {
  if (existsSync(sweepDir) && !statSync(sweepDir).isDirectory()) throw new SweepError(`${sweepDir}: exists and is not a directory`);
  const path = join(sweepDir, 'sweep.json');
  if (existsSync(path)) {
    const previous = readSweepManifest(sweepDir);
    if (previous.name !== experiment.name)
      throw new SweepError(`${sweepDir} holds the sweep '${previous.name}', not '${experiment.name}': give each sweep its own --out`);
  }
  const manifest: SweepManifest = {
    schemaVersion: 1,
    name: experiment.name,
    source,
    jobs: jobs.map((j) => ({ id: j.id, label: j.label, group: j.group, options: j.options, dir: `jobs/${j.id}` })),
  };
  mkdirSync(join(sweepDir, 'jobs'), { recursive: true });
  writeAtomic(path, JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Reads `SWEEP_DIR/sweep.json`. */
export function readSweepManifest(sweepDir: string): SweepManifest {
  const path = join(sweepDir, 'sweep.json');
  let manifest: SweepManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as SweepManifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SweepError(`${path}: ${code === 'ENOENT' ? 'no sweep here (quantnas sweep FILE --out DIR writes it)' : 'not valid JSON'}`);
  }
  if (manifest?.schemaVersion !== 1 || typeof manifest.name !== 'string' || !Array.isArray(manifest.jobs))
    throw new SweepError(`${path}: not a sweep manifest of this version`);
  return manifest;
}

/** The jobs of a manifest, as `expandExperiment` gave them. */
export function manifestJobs(manifest: SweepManifest): SweepJob[] {
  return manifest.jobs.map(({ id, label, group, options }) => ({ id, label, group, options }));
}

/** A finished run's result files, base64, keyed by their path relative to the run directory. */
export interface PackedResults {
  readonly schemaVersion: 1;
  readonly files: Readonly<Record<string, string>>;
  /** Their size before base64. */
  readonly bytes: number;
}

/** The default cap on a job's packed results (they travel through Redis): 64 MiB. */
export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024;

/**
 * Packs the result files of the finished run in `dir` (those of `RESULT_FILES` that exist), with the
 * paths of its `run.json` made relative to `dir`. Over `maxBytes` in all is an error naming the sizes.
 */
export function packResults(dir: string, maxBytes = DEFAULT_MAX_RESULT_BYTES): PackedResults {
  const files: Record<string, string> = {};
  let bytes = 0;
  if (!existsSync(join(dir, 'run.json'))) throw new SweepError(`${dir}: the run finished without writing run.json`);
  const sizes: string[] = [];
  for (const name of RESULT_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const data = name === 'run.json' ? Buffer.from(relativeRunJson(readFileSync(path, 'utf8'), dir)) : readFileSync(path);
    bytes += data.length;
    sizes.push(`${name} ${(data.length / 1048576).toFixed(1)} MiB`);
    files[name] = data.toString('base64');
  }
  if (bytes > maxBytes)
    throw new SweepError(
      `the results in ${dir} are ${(bytes / 1048576).toFixed(1)} MiB, over the ${(maxBytes / 1048576).toFixed(1)} MiB a job may send back (${sizes.join(', ')}); raise QUANTNAS_SWEEP_MAX_RESULT_MB`,
    );
  return { schemaVersion: 1, files, bytes };
}

/** Writes packed results into `dir`, each file atomically, `run.json` last. Only `RESULT_FILES` names are accepted. */
export function unpackResults(packed: PackedResults, dir: string): void {
  if (packed?.schemaVersion !== 1 || typeof packed.files !== 'object' || packed.files === null)
    throw new SweepError(`the results for ${dir} are not packed results of this version`);
  const names = Object.keys(packed.files);
  for (const name of names)
    if (!(RESULT_FILES as readonly string[]).includes(name)) throw new SweepError(`the results for ${dir} hold an unexpected file '${name}'`);
  if (!names.includes('run.json')) throw new SweepError(`the results for ${dir} have no run.json`);
  for (const name of RESULT_FILES) {
    const data = packed.files[name];
    if (data === undefined) continue;
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeAtomic(path, Buffer.from(data, 'base64'));
  }
}

/** `run.json` with every path under `dir` in its `paths` made relative to `dir` (so the directory can move). */
export function relativeRunJson(text: string, dir: string): string {
  let run: { paths?: Record<string, unknown> };
  try {
    run = JSON.parse(text) as typeof run;
  } catch {
    throw new SweepError(`${join(dir, 'run.json')}: not valid JSON`);
  }
  if (run.paths && typeof run.paths === 'object') {
    for (const [key, value] of Object.entries(run.paths)) {
      if (typeof value !== 'string' || !isAbsolute(value)) continue;
      const rel = relative(dir, value);
      if (!rel.startsWith('..') && !isAbsolute(rel)) run.paths[key] = rel === '' ? '.' : rel.split(sep).join('/');
    }
  }
  return JSON.stringify(run, null, 2) + '\n';
}

/** Rewrites `dir/run.json` with relative paths (the embedded engine's runs, written in place). */
export function relativizeRunJson(dir: string): void {
  const path = join(dir, 'run.json');
  writeAtomic(path, relativeRunJson(readFileSync(path, 'utf8'), dir));
}

export function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
