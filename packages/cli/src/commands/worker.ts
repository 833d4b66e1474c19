import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { resolveCacheDir } from '@quantnas/data';
import { DEFAULT_LOCK_MS, DEFAULT_MAX_RESULT_BYTES, redisOptions, runWorker, type WorkerEvent } from '@quantnas/sweep';
import { UsageError, type CliIo } from '../io.js';
import { parseInteger } from '../options.js';
import { childRunExecutor } from '../run-executor.js';
import { userErrors } from './sweep.js';

interface WorkerCommandOptions {
  queue: string;
  workDir?: string;
  concurrency: string;
  sweep?: string[];
  json?: boolean;
}

export function workerCommand(io: CliIo): Command {
  return new Command('worker')
    .summary('run the jobs of sweeps queued on a Redis (quantnas sweep --queue), on this machine')
    .description(
      'Takes jobs from the BullMQ queues of the sweeps submitted to the Redis at --queue (every sweep, found as ' +
        'they are submitted, or those named with --sweep) and runs each as `quantnas run` in a child process, in ' +
        "WORK_DIR/<queue>/<job id>: a retry on this machine continues from the run's checkpoints there. The run's " +
        "stage is the job's progress; its result files (run.json, genotype, curves, model.qnas, the sample) go back " +
        'through Redis to `quantnas sweep`, so the machines share no filesystem. Run one on each machine, with as many ' +
        'jobs at once as its cores allow (--concurrency; each run also splits its batches over --workers).\n\n' +
        'A worker rides out a Redis restart. When a worker dies mid-job (killed, machine lost) its child run dies ' +
        "with it, and once the job's lock expires another worker takes the job again (QUANTNAS_SWEEP_LOCK_MS, " +
        `default ${DEFAULT_LOCK_MS} ms, sets the lock and how often workers look for such jobs). Ctrl-C or SIGTERM ` +
        'stops the running jobs at their next checkpoint and hands them back to the queue; a second one exits at once. ' +
        `A job's results may be ${DEFAULT_MAX_RESULT_BYTES / 1048576} MiB at most (QUANTNAS_SWEEP_MAX_RESULT_MB).`,
    )
    .requiredOption('--queue <url>', 'the Redis of the queues (redis://HOST:PORT)')
    .option('--work-dir <dir>', 'where jobs run (default: $QUANTNAS_CACHE/sweep-work, else ~/.cache/quantnas/sweep-work)')
    .option('--concurrency <n>', 'jobs run at once, per sweep', '1')
    .option('--sweep <name...>', 'serve only the sweeps of these names')
    .option('--json', 'print each event as one JSON line on stdout')
    .action(async (o: WorkerCommandOptions) => {
      const concurrency = parseInteger(o.concurrency, '--concurrency', 1, 64);
      userErrors(() => redisOptions(o.queue));
      const lockMs = envInteger(io, 'QUANTNAS_SWEEP_LOCK_MS', 1000) ?? DEFAULT_LOCK_MS;
      const maxMb = envInteger(io, 'QUANTNAS_SWEEP_MAX_RESULT_MB', 1);
      const workDir = resolve(o.workDir ?? join(resolveCacheDir(io.env), 'sweep-work'));
      const controller = new AbortController();
      let signals = 0;
      const onSignal = () => {
        if (++signals === 1) {
          io.stderr('quantnas worker: stopping: the running jobs stop at their next checkpoint and go back to the queue (again to exit now)\n');
          controller.abort();
        } else process.exit(130);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      io.stderr(`quantnas worker: ${o.queue}, jobs in ${workDir}, ${concurrency} at a time\n`);
      try {
        await runWorker({
          url: o.queue,
          workDir,
          concurrency,
          ...(o.sweep ? { sweeps: o.sweep } : {}),
          lockMs,
          ...(maxMb !== undefined ? { maxResultBytes: maxMb * 1048576 } : {}),
          executor: childRunExecutor(io.env),
          signal: controller.signal,
          onEvent: o.json ? (e) => io.stdout(JSON.stringify(jsonEvent(e)) + '\n') : (e) => io.stderr(`quantnas worker: ${describe(e)}\n`),
        });
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });
}

function envInteger(io: CliIo, name: string, min: number): number | undefined {
  const value = io.env[name];
  if (value === undefined || value === '') return undefined;
  try {
    return parseInteger(value, name, min);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function describe(e: WorkerEvent): string {
  switch (e.type) {
    case 'serving':
      return `serving ${e.queue}`;
    case 'error':
      return `Redis: ${e.message} (retrying)`;
    case 'stalled':
      return `job ${e.id} of ${e.queue} stalled (its worker stopped answering): back to the queue`;
    case 'waiting':
      return e.message;
    case 'started':
      return `started ${e.job.id} (${e.job.label})`;
    case 'progress':
      return `${e.job.id}: [${e.progress.stage}/${e.progress.stages}] ${e.progress.title}`;
    case 'completed':
      return `completed ${e.job.id} (${e.job.label})`;
    case 'retrying':
      return `${e.job.id} failed (${e.error.split('\n')[0]}); it will be tried again (attempt ${e.attempt})`;
    case 'failed':
      return `failed ${e.job.id} (${e.job.label}): ${e.error.split('\n')[0]}`;
    case 'released':
      return `${e.job.id} stopped and back in the queue`;
    case 'skipped':
      return `skipped ${e.job.id}`;
  }
}

function jsonEvent(e: WorkerEvent): Record<string, unknown> {
  if ('job' in e) {
    const { job, ...rest } = e;
    return { ...rest, id: job.id, label: job.label };
  }
  return { ...e };
}
