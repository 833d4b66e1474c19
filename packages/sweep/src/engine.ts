import { mkdirSync } from 'node:fs';
import { runArgs, type SweepJob } from './experiment.js';
import { isJobDone, jobDir, relativizeRunJson } from './sweep-dir.js';

/** Where a running job is: the stage `quantnas run` announced last (`quantnas run: [2/5] train (quick)`). */
export interface JobProgress {
  readonly stage: number;
  readonly stages: number;
  readonly title: string;
  /** Stages finished before this one, in percent. */
  readonly percent: number;
}

/** One job to run in `dir`, as the caller's executor receives it. */
export interface JobExecution {
  readonly job: SweepJob;
  /** `quantnas run` arguments without `--out`. */
  readonly args: readonly string[];
  /** The run's output directory: a directory that holds a stopped run is continued. */
  readonly dir: string;
  /** Aborted when the sweep or the worker stops: stop the run at its next checkpoint. */
  readonly signal: AbortSignal;
  readonly onProgress: (progress: JobProgress) => void;
}

/**
 * Runs one job (the command line spawns `quantnas run --out DIR ...args`); resolves when the run
 * finished and `DIR/run.json` is written, rejects with a one-line reason otherwise. This package
 * runs no job itself: the caller injects this.
 */
export type JobExecutor = (execution: JobExecution) => Promise<void>;

/** What happened to a job, as an engine reports it while it goes. */
export type SweepEvent =
  | { readonly type: 'skipped'; readonly job: SweepJob }
  | { readonly type: 'started'; readonly job: SweepJob; readonly worker?: string }
  | { readonly type: 'progress'; readonly job: SweepJob; readonly progress: JobProgress }
  | { readonly type: 'completed'; readonly job: SweepJob }
  | { readonly type: 'failed'; readonly job: SweepJob; readonly error: string }
  | { readonly type: 'retrying'; readonly job: SweepJob; readonly error: string; readonly attempt: number }
  | { readonly type: 'waiting'; readonly message: string };

/** How a sweep (or a collection of its results) ended. */
export interface SweepOutcome {
  readonly total: number;
  /** Ids of the jobs finished in this call. */
  readonly completed: readonly string[];
  /** Ids of the jobs whose results were already in the sweep directory. */
  readonly skipped: readonly string[];
  readonly failed: readonly { readonly id: string; readonly label: string; readonly error: string }[];
  /** True when the signal stopped it before every job was done. */
  readonly stopped: boolean;
}

/** Parses a stage line of `quantnas run` (`quantnas run: [2/5] train (quick)`), or undefined. */
export function parseStageLine(line: string): JobProgress | undefined {
  const m = /^quantnas run: \[(\d+)\/(\d+)\] (.*)$/.exec(line.trimEnd());
  if (!m) return undefined;
  const stage = Number(m[1]);
  const stages = Number(m[2]);
  return { stage, stages, title: m[3]!, percent: Math.round(((stage - 1) / stages) * 100) };
}

export interface EmbeddedOptions {
  readonly sweepDir: string;
  readonly jobs: readonly SweepJob[];
  readonly executor: JobExecutor;
  readonly onEvent?: (event: SweepEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * The embedded engine: runs the jobs one after another in this process, each into
 * `SWEEP_DIR/jobs/<id>`. A job whose directory holds `run.json` is done and skipped; one that holds
 * a stopped run is continued (the executor resumes it). A failed job is reported and the others
 * still run.
 */
export async function runEmbedded(o: EmbeddedOptions): Promise<SweepOutcome> {
  const emit = o.onEvent ?? (() => {});
  const completed: string[] = [];
  const skipped: string[] = [];
  const failed: { id: string; label: string; error: string }[] = [];
  for (const job of o.jobs) {
    if (o.signal?.aborted) break;
    if (isJobDone(o.sweepDir, job.id)) {
      skipped.push(job.id);
      emit({ type: 'skipped', job });
      continue;
    }
    const dir = jobDir(o.sweepDir, job.id);
    mkdirSync(dir, { recursive: true });
    emit({ type: 'started', job });
    try {
      await o.executor({
        job,
        args: runArgs(job.options),
        dir,
        signal: o.signal ?? new AbortController().signal,
        onProgress: (progress) => emit({ type: 'progress', job, progress }),
      });
      if (!isJobDone(o.sweepDir, job.id)) throw new Error(`the run finished without writing ${dir}/run.json`);
      relativizeRunJson(dir);
      completed.push(job.id);
      emit({ type: 'completed', job });
    } catch (error) {
      if (o.signal?.aborted) break;
      const message = error instanceof Error ? error.message : String(error);
      failed.push({ id: job.id, label: job.label, error: message });
      emit({ type: 'failed', job, error: message });
    }
  }
  return {
    total: o.jobs.length,
    completed,
    skipped,
    failed,
    stopped: o.signal?.aborted === true && completed.length + skipped.length + failed.length < o.jobs.length,
  };
}
