import { mkdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Queue, UnrecoverableError, Worker, WaitingError, type Job, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobExecutor, JobProgress, SweepEvent, SweepOutcome } from './engine.js';
import { runArgs, type SweepJob } from './experiment.js';
import { DEFAULT_MAX_RESULT_BYTES, isJobDone, jobDir, packResults, SweepError, unpackResults, type PackedResults } from './sweep-dir.js';

/** A Redis set of the queue names of every submitted sweep: what a worker without `sweeps` serves. */
export const QUEUE_REGISTRY_KEY = 'quantnas:sweeps';

/** How long a worker holds a job's lock before another worker may take the job as stalled (and how often it checks). */
export const DEFAULT_LOCK_MS = 30_000;
/** How many times a job may stall (its worker died) before it counts as failed. */
export const MAX_STALLED_COUNT = 2;
/** How many times a job is tried before it counts as failed. */
export const DEFAULT_ATTEMPTS = 3;

/** What a queued job carries: the job and the `quantnas run` arguments it stands for. */
export interface QueuedJobData {
  readonly job: SweepJob;
  readonly args: readonly string[];
}

/** The queue of a sweep: `quantnas-sweep-` and its name in lower-case letters, digits and dashes. */
export function queueName(sweepName: string): string {
  const slug = sweepName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `quantnas-sweep-${slug || 'unnamed'}`;
}

/**
 * Connection options for a `redis://[user:password@]HOST:PORT[/DB]` (or `rediss://`) URL. Commands
 * wait for a lost connection to come back instead of failing (`maxRetriesPerRequest: null`, which
 * BullMQ's workers need): a worker rides out a Redis restart.
 */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SweepError(`--queue must be a redis://HOST:PORT URL, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new SweepError(`--queue must be a redis://HOST:PORT URL, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new SweepError(`--queue ${url}: the path must be a database number, got '${db}'`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== '' ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Fails in one line when the Redis at `url` does not answer within `timeoutMs` (a wrong URL should not wait forever). */
export async function checkRedis(url: string, timeoutMs = 10_000): Promise<void> {
  const client = new Redis({ ...redisOptions(url), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  let cause: unknown;
  client.on('error', (error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = cause ?? error;
    throw new SweepError(`cannot reach Redis at ${url}: ${reason instanceof Error ? reason.message : String(reason)}`);
  } finally {
    client.disconnect();
  }
}

export interface SubmitOptions {
  readonly url: string;
  readonly name: string;
  readonly jobs: readonly SweepJob[];
  readonly attempts?: number;
  /** The first retry's delay (ms, default 5000), doubled for each later one. */
  readonly backoffMs?: number;
  /** Put jobs that failed every attempt back in the queue. */
  readonly retryFailed?: boolean;
}

/**
 * Adds every job to the sweep's queue under its id. BullMQ keeps one job per id, in any state
 * (completed included), so submitting the same file again adds nothing; `added` lists the jobs the
 * queue did not hold before.
 */
export async function submitSweep(o: SubmitOptions): Promise<{ queue: string; added: string[]; existing: string[]; retried: string[] }> {
  const name = queueName(o.name);
  const queue = new Queue(name, { connection: redisOptions(o.url) });
  try {
    const registry = new Redis(redisOptions(o.url));
    registry.on('error', () => {});
    try {
      await registry.sadd(QUEUE_REGISTRY_KEY, name);
    } finally {
      registry.disconnect();
    }
    const added: string[] = [];
    const existing: string[] = [];
    const retried: string[] = [];
    for (const job of o.jobs) {
      const before = await queue.getJob(job.id);
      const data: QueuedJobData = { job, args: runArgs(job.options) };
      await queue.add('run', data, {
        jobId: job.id,
        attempts: o.attempts ?? DEFAULT_ATTEMPTS,
        backoff: { type: 'exponential', delay: o.backoffMs ?? 5_000 },
        removeOnComplete: false,
        removeOnFail: false,
      });
      if (before === undefined) added.push(job.id);
      else {
        existing.push(job.id);
        if (o.retryFailed && (await before.getState()) === 'failed') {
          await before.retry('failed');
          retried.push(job.id);
        }
      }
    }
    return { queue: name, added, existing, retried };
  } finally {
    await queue.close();
  }
}

/** A job's state in the queue (BullMQ's names), or `missing` when the queue does not hold it. */
export type QueueJobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'missing' | 'unknown';

export interface JobStatus {
  readonly id: string;
  readonly label: string;
  readonly state: QueueJobState | 'started';
  readonly progress?: JobProgress;
  readonly attemptsMade?: number;
  readonly error?: string;
}

export interface SweepStatus {
  readonly name: string;
  readonly queue?: string;
  readonly counts: Record<string, number>;
  readonly jobs: readonly JobStatus[];
}

/** The state of every job of a sweep in its queue, with the progress of the active ones. */
export async function queueStatus(o: { url: string; name: string; jobs: readonly SweepJob[] }): Promise<SweepStatus> {
  const name = queueName(o.name);
  const queue = new Queue(name, { connection: redisOptions(o.url) });
  try {
    const jobs: JobStatus[] = [];
    for (const job of o.jobs) {
      const queued = await queue.getJob(job.id);
      if (queued === undefined) {
        jobs.push({ id: job.id, label: job.label, state: 'missing' });
        continue;
      }
      const state = (await queued.getState()) as QueueJobState;
      jobs.push({
        id: job.id,
        label: job.label,
        state,
        ...(state === 'active' && isProgress(queued.progress) ? { progress: queued.progress } : {}),
        attemptsMade: queued.attemptsMade,
        ...(queued.failedReason ? { error: queued.failedReason } : {}),
      });
    }
    return { name: o.name, queue: name, counts: countStates(jobs), jobs };
  } finally {
    await queue.close();
  }
}

/** The state of every job of a sweep from its directory alone (the embedded engine's): completed, started or waiting. */
export function directoryStatus(o: { sweepDir: string; name: string; jobs: readonly SweepJob[] }): SweepStatus {
  const jobs: JobStatus[] = o.jobs.map((job) => ({
    id: job.id,
    label: job.label,
    state: isJobDone(o.sweepDir, job.id) ? 'completed' : existsDir(jobDir(o.sweepDir, job.id)) ? 'started' : 'waiting',
  }));
  return { name: o.name, counts: countStates(jobs), jobs };
}

export interface CollectOptions {
  readonly url: string;
  readonly name: string;
  readonly sweepDir: string;
  readonly jobs: readonly SweepJob[];
  readonly onEvent?: (event: SweepEvent) => void;
  readonly signal?: AbortSignal;
  /** How often the queue is read (ms, default 1000). */
  readonly pollMs?: number;
}

/**
 * Waits for the sweep's jobs in its queue and writes each completed job's result files into
 * `SWEEP_DIR/jobs/<id>/` as it arrives; returns when every job is completed or failed (or the signal
 * stops it). Jobs whose results are already in the directory are skipped, so running it again
 * collects what finished in the meantime. While Redis is away, reads wait for it to come back.
 */
export async function collectSweep(o: CollectOptions): Promise<SweepOutcome> {
  const emit = o.onEvent ?? (() => {});
  const queue = new Queue(queueName(o.name), { connection: redisOptions(o.url) });
  const completed: string[] = [];
  const skipped: string[] = [];
  const failed: { id: string; label: string; error: string }[] = [];
  const pending = new Map<string, SweepJob>();
  for (const job of o.jobs) {
    if (isJobDone(o.sweepDir, job.id)) {
      skipped.push(job.id);
      emit({ type: 'skipped', job });
    } else pending.set(job.id, job);
  }
  const seen = new Map<string, string>();
  try {
    while (pending.size > 0 && !o.signal?.aborted) {
      for (const job of [...pending.values()]) {
        const queued = await untilAborted(queue.getJob(job.id), o.signal);
        if (queued === undefined) {
          if (o.signal?.aborted) break;
          fail(job, `not in the queue ${queueName(o.name)} (removed?); submit the experiment again`);
          continue;
        }
        const state = await untilAborted(queued.getState(), o.signal);
        if (state === undefined) break;
        if (state === 'completed') {
          // Read again: it may have completed between the two reads above.
          const done = await untilAborted(queue.getJob(job.id), o.signal);
          if (done === undefined) break;
          unpackResults(done.returnvalue as PackedResults, jobDir(o.sweepDir, job.id));
          pending.delete(job.id);
          completed.push(job.id);
          emit({ type: 'completed', job });
        } else if (state === 'failed') {
          fail(job, queued.failedReason || 'failed');
        } else {
          const key = `${state}:${queued.attemptsMade}:${JSON.stringify(queued.progress)}`;
          if (seen.get(job.id) === key) continue;
          seen.set(job.id, key);
          if (state === 'active') {
            if (isProgress(queued.progress)) emit({ type: 'progress', job, progress: queued.progress });
            else emit({ type: 'started', job });
          } else if (queued.attemptsMade > 0 && queued.failedReason)
            emit({ type: 'retrying', job, error: queued.failedReason, attempt: queued.attemptsMade + 1 });
        }
      }
      if (pending.size > 0) await sleep(o.pollMs ?? 1000, o.signal);
    }
  } finally {
    await queue.close();
  }
  return { total: o.jobs.length, completed, skipped, failed, stopped: pending.size > 0 };

  function fail(job: SweepJob, error: string): void {
    pending.delete(job.id);
    failed.push({ id: job.id, label: job.label, error });
    emit({ type: 'failed', job, error });
  }
}

/** What a worker reports, beyond the jobs' events. */
export type WorkerEvent =
  | SweepEvent
  | { readonly type: 'serving'; readonly queue: string }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'stalled'; readonly id: string; readonly queue: string }
  | { readonly type: 'released'; readonly job: SweepJob };

export interface WorkerOptions {
  readonly url: string;
  /** Jobs run in `workDir/<queue>/<job id>`: a retry on the same machine continues from there. */
  readonly workDir: string;
  readonly executor: JobExecutor;
  /** Jobs run at once, per sweep (default 1). */
  readonly concurrency?: number;
  /** Serve these sweeps only (by name); default every sweep submitted to this Redis, found as they come. */
  readonly sweeps?: readonly string[];
  /** Lock duration and stalled-check interval (ms): how soon the job of a killed worker runs again. */
  readonly lockMs?: number;
  readonly maxResultBytes?: number;
  readonly onEvent?: (event: WorkerEvent) => void;
  /** Stops the worker: running jobs are stopped at their next checkpoint and handed back to the queue. */
  readonly signal: AbortSignal;
  /** How often the registry of sweeps is read (ms, default 2000). */
  readonly discoverMs?: number;
}

/**
 * A worker: takes jobs from the queues of the sweeps submitted to this Redis and runs each with the
 * executor in its own local directory, reports the run's stage as the job's progress, and returns
 * the result files packed (no shared filesystem). Its job lock is renewed while the job runs; when
 * the worker dies, the lock expires and another worker's stalled-job check puts the job back.
 * Resolves once the signal has stopped it and its running jobs are handed back.
 */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const emit = o.onEvent ?? (() => {});
  const connection = redisOptions(o.url);
  const lockMs = o.lockMs ?? DEFAULT_LOCK_MS;
  const workerName = `${hostname()}:${process.pid}`;
  const workers = new Map<string, Worker>();
  const running = new Set<AbortController>();
  let stopping = false;
  let lastError = '';

  const processor = (queue: string) => async (job: Job, token?: string) => {
    const data = job.data as QueuedJobData;
    const dir = join(o.workDir, queue, job.id!);
    mkdirSync(dir, { recursive: true });
    const controller = new AbortController();
    running.add(controller);
    if (stopping) controller.abort();
    emit({ type: 'started', job: data.job, worker: workerName });
    try {
      await o.executor({
        job: data.job,
        args: data.args,
        dir,
        signal: controller.signal,
        onProgress: (progress) => {
          emit({ type: 'progress', job: data.job, progress });
          job.updateProgress(progress as unknown as object).catch(() => {});
        },
      });
    } catch (error) {
      if (stopping) {
        // Stopped by this worker's shutdown, not failed: back to the queue without using an attempt.
        await job.moveToWait(token);
        emit({ type: 'released', job: data.job });
        throw new WaitingError();
      }
      throw error;
    } finally {
      running.delete(controller);
    }
    try {
      return packResults(dir, o.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES);
    } catch (error) {
      // Results too large (or missing) come out the same on every try: no retry.
      throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
    }
  };

  const serve = (queue: string) => {
    const worker = new Worker(queue, processor(queue), {
      connection,
      concurrency: o.concurrency ?? 1,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: MAX_STALLED_COUNT,
      name: workerName,
    });
    worker.on('error', (error) => {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError) emit({ type: 'error', message });
      lastError = message;
    });
    worker.on('completed', (job) => emit({ type: 'completed', job: (job.data as QueuedJobData).job }));
    worker.on('failed', (job, error) => {
      if (!job) return;
      const data = job.data as QueuedJobData;
      if (error.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1))
        emit({ type: 'retrying', job: data.job, error: error.message, attempt: job.attemptsMade + 1 });
      else emit({ type: 'failed', job: data.job, error: error.message });
    });
    worker.on('stalled', (id) => emit({ type: 'stalled', id, queue }));
    workers.set(queue, worker);
    emit({ type: 'serving', queue });
  };

  const registry = new Redis(connection);
  registry.on('error', () => {});
  try {
    while (!o.signal.aborted) {
      const names = o.sweeps ? o.sweeps.map(queueName) : await untilAborted(registry.smembers(QUEUE_REGISTRY_KEY), o.signal);
      for (const name of names ?? []) if (!workers.has(name)) serve(name);
      await sleep(o.discoverMs ?? 2000, o.signal);
    }
  } finally {
    stopping = true;
    for (const controller of running) controller.abort();
    await Promise.all([...workers.values()].map((w) => w.close()));
    registry.disconnect();
  }
}

function countStates(jobs: readonly JobStatus[]): Record<string, number> {
  const counts: Record<string, number> = { waiting: 0, active: 0, completed: 0, failed: 0 };
  for (const job of jobs) counts[job.state] = (counts[job.state] ?? 0) + 1;
  return counts;
}

function isProgress(value: unknown): value is JobProgress {
  return typeof value === 'object' && value !== null && typeof (value as JobProgress).stage === 'number';
}

function existsDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Resolves with the promise's value, or undefined once the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
