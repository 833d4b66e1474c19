import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobExecution } from './engine.js';
import { expandExperiment, parseExperiment } from './experiment.js';
import { collectSweep, queueName, queueStatus, redisOptions, runWorker, submitSweep, type WorkerEvent } from './queue.js';
import { haveRedis, startRedis, type RedisServer } from './test-helpers.js';

const withRedis = haveRedis('sweep: the BullMQ engine over a real Redis');
let redis: RedisServer;

beforeAll(async () => {
  if (withRedis) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Stands in for `quantnas run`: writes run.json (with an absolute path) and a model; fails for the seeds in `failing`. */
function fakeRun(ran: string[], failing = new Set<number>()) {
  return async ({ job, dir, onProgress }: JobExecution) => {
    onProgress({ stage: 1, stages: 1, title: 'train', percent: 0 });
    if (failing.has(job.options.seed as number)) throw new Error(`seed ${job.options.seed} diverged`);
    ran.push(job.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.qnas'), job.id);
    writeFileSync(join(dir, 'run.json'), JSON.stringify({ schemaVersion: 1, paths: { model: join(dir, 'model.qnas') } }));
  };
}

describe.skipIf(!withRedis)('the BullMQ engine', () => {
  it('queues each job once, runs it on a worker, brings its files back and survives a Redis restart', async () => {
    const experiment = parseExperiment({ schemaVersion: 1, name: 'Unit sweep', defaults: { preset: 'smoke' }, grid: { seed: [1, 2, 3] } }, 'u.json');
    const jobs = expandExperiment(experiment);
    expect(queueName(experiment.name)).toBe('quantnas-sweep-unit-sweep');

    const first = await submitSweep({ url: redis.url, name: experiment.name, jobs });
    expect(first.added).toEqual(jobs.map((j) => j.id));
    const again = await submitSweep({ url: redis.url, name: experiment.name, jobs });
    expect([again.added, again.existing]).toEqual([[], jobs.map((j) => j.id)]);
    const waiting = await queueStatus({ url: redis.url, name: experiment.name, jobs });
    expect(waiting.counts).toMatchObject({ waiting: 3, active: 0, completed: 0, failed: 0 });

    // Redis goes away and comes back (its append-only file keeps the queue) before a worker starts.
    await redis.restart();
    const ran: string[] = [];
    const events: WorkerEvent[] = [];
    const stop = new AbortController();
    const workDir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-work-'));
    const worker = runWorker({ url: redis.url, workDir, executor: fakeRun(ran), signal: stop.signal, discoverMs: 100, onEvent: (e) => events.push(e) });
    const sweepDir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-collect-'));
    const outcome = await collectSweep({ url: redis.url, name: experiment.name, sweepDir, jobs, pollMs: 100 });
    expect(outcome).toMatchObject({ total: 3, skipped: [], failed: [], stopped: false });
    expect([...outcome.completed].sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const job of jobs) {
      const dir = join(sweepDir, 'jobs', job.id);
      expect(readFileSync(join(dir, 'model.qnas'), 'utf8')).toBe(job.id);
      expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).paths.model).toBe('model.qnas');
    }
    expect(events.find((e) => e.type === 'serving')).toEqual({ type: 'serving', queue: 'quantnas-sweep-unit-sweep' });

    // Submitting the finished sweep again adds nothing and runs nothing; collecting again skips every job.
    const third = await submitSweep({ url: redis.url, name: experiment.name, jobs });
    expect(third.added).toEqual([]);
    const again2 = await collectSweep({ url: redis.url, name: experiment.name, sweepDir, jobs, pollMs: 100 });
    expect(again2.skipped).toHaveLength(3);
    stop.abort();
    await worker;
    expect(ran.sort()).toEqual(jobs.map((j) => j.id).sort());
    const queue = new Queue(queueName(experiment.name), { connection: redisOptions(redis.url) });
    expect(await queue.getJobCounts('completed', 'waiting', 'active', 'failed')).toMatchObject({ completed: 3, waiting: 0, active: 0, failed: 0 });
    await queue.close();
    const done = await queueStatus({ url: redis.url, name: experiment.name, jobs });
    expect(done.counts).toMatchObject({ completed: 3, waiting: 0 });
  });

  it('retries a failing job, then reports it failed with its reason', async () => {
    const experiment = parseExperiment({ schemaVersion: 1, name: 'failing', grid: { seed: [1, 2] } }, 'f.json');
    const jobs = expandExperiment(experiment);
    await submitSweep({ url: redis.url, name: experiment.name, jobs, attempts: 2, backoffMs: 10 });
    const stop = new AbortController();
    const events: WorkerEvent[] = [];
    const worker = runWorker({
      url: redis.url,
      workDir: mkdtempSync(join(tmpdir(), 'quantnas-sweep-work-')),
      executor: fakeRun([], new Set([2])),
      sweeps: ['failing'],
      signal: stop.signal,
      onEvent: (e) => events.push(e),
    });
    const sweepDir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-failing-'));
    const outcome = await collectSweep({ url: redis.url, name: experiment.name, sweepDir, jobs, pollMs: 100 });
    stop.abort();
    await worker;
    expect(outcome.completed).toEqual([jobs[0]!.id]);
    expect(outcome.failed).toEqual([{ id: jobs[1]!.id, label: 'searched, seed 2', error: 'seed 2 diverged' }]);
    expect(events.filter((e) => e.type === 'retrying')).toHaveLength(1);
    const status = await queueStatus({ url: redis.url, name: experiment.name, jobs });
    expect(status.jobs[1]).toMatchObject({ state: 'failed', attemptsMade: 2, error: 'seed 2 diverged' });
  });

  it('hands a running job back to the queue when the worker stops, without using an attempt', async () => {
    const experiment = parseExperiment({ schemaVersion: 1, name: 'stopping', grid: { seed: [1] } }, 's.json');
    const jobs = expandExperiment(experiment);
    await submitSweep({ url: redis.url, name: experiment.name, jobs });
    const stop = new AbortController();
    const events: WorkerEvent[] = [];
    const worker = runWorker({
      url: redis.url,
      workDir: mkdtempSync(join(tmpdir(), 'quantnas-sweep-work-')),
      sweeps: ['stopping'],
      signal: stop.signal,
      onEvent: (e) => events.push(e),
      // A run that stops only when asked to.
      executor: ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped at step 1')))),
    });
    while (!events.some((e) => e.type === 'started')) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await worker;
    expect(events.map((e) => e.type)).toContain('released');
    const status = await queueStatus({ url: redis.url, name: experiment.name, jobs });
    expect(status.jobs[0]).toMatchObject({ state: 'waiting', attemptsMade: 0 });
  });
});
