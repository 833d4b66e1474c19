import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  collectSweep,
  directoryStatus,
  expandExperiment,
  manifestJobs,
  checkRedis,
  queueStatus,
  readExperiment,
  readSweepManifest,
  runArgs,
  runEmbedded,
  submitSweep,
  writeSweepManifest,
  type SweepEvent,
  type SweepJob,
  type SweepOutcome,
  type SweepStatus,
} from '@quantnas/sweep';
import { UsageError, WorkFailedError, type CliIo } from '../io.js';
import { parseInteger } from '../options.js';
import { createProgress } from '../progress.js';
import { childRunExecutor } from '../run-executor.js';
import { renderTable } from '../table.js';

interface SweepCommandOptions {
  out?: string;
  queue?: string;
  wait: boolean;
  attempts: string;
  retryFailed?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

interface StatusCommandOptions {
  queue?: string;
  json?: boolean;
}

export function sweepCommand(io: CliIo): Command {
  const command = new Command('sweep')
    .summary('run a grid of quantnas run jobs (penalties × seeds × spaces × modes), here or on a job queue')
    .description(
      'Expands the experiment FILE (JSON: schemaVersion 1, name, defaults, grid, variants, baselines; see the README) ' +
        'into quantnas run jobs: each variant × the cartesian product of the grid over the defaults, and each ' +
        "baseline × its bits × the grid's seeds. Each job has an id made of its options (the same job always has the " +
        'same id) and its results go to DIR/jobs/<id>/, as quantnas run --out writes them; DIR/sweep.json lists the ' +
        'jobs (quantnas report reads it).\n\nWithout --queue the jobs run here, one after another, each in a child ' +
        'process; a job whose directory holds run.json is done, and running the command again continues where it ' +
        'stopped (Ctrl-C included).\n\nWith --queue redis://HOST:PORT the jobs go to a BullMQ queue on that Redis, ' +
        'named after the sweep, with retries (--attempts); `quantnas worker --queue URL` on any number of machines ' +
        'runs them and sends the result files back through Redis (no shared filesystem). This command then waits ' +
        "and writes each job's files into DIR as it completes; run it again to collect what finished while it was " +
        'away, or with --no-wait to submit only. Submitting the same file again adds no job.\n\n' +
        '`quantnas sweep status FILE|DIR [--queue URL]` shows where the jobs are.',
    )
    .argument('<file>', 'experiment file (JSON)')
    .option('--out <dir>', 'sweep directory: sweep.json and jobs/<id>/ (required)')
    .option('--queue <url>', 'run on a BullMQ queue on this Redis (redis://HOST:PORT) instead of here')
    .option('--no-wait', 'with --queue: submit the jobs and return, without waiting for their results')
    .option('--attempts <n>', 'with --queue: tries of each job before it counts as failed', '3')
    .option('--retry-failed', 'with --queue: put the jobs that failed every attempt back in the queue')
    .option('--dry-run', 'list the jobs (id, label, the quantnas run command) and write or run nothing')
    .option('--json', 'print the outcome as one JSON object on stdout')
    .action(async (file: string, options: SweepCommandOptions) => {
      await sweepAction(io, file, options);
    });
  command.addCommand(
    new Command('status')
      .summary('where the jobs of a sweep are')
      .description(
        'Counts the jobs of a sweep by state (waiting, active, completed, failed) and lists each with its progress ' +
          "(the stage of quantnas run it is in). With --queue the states are the queue's (give the experiment FILE " +
          "or the sweep DIR); without, they are read from the sweep DIR (the embedded engine's): completed when " +
          'jobs/<id>/run.json exists, started when jobs/<id>/ does.',
      )
      .argument('<target>', 'experiment file or sweep directory')
      .option('--queue <url>', 'read the states from the queue on this Redis (redis://HOST:PORT)')
      .option('--json', 'print the status as one JSON object on stdout')
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
      .exitOverride()
      .action(async (target: string, options: StatusCommandOptions) => {
        // `--json` and `--queue` are also the parent's: commander may give them to either.
        const parent = command.opts<SweepCommandOptions>();
        await statusAction(io, target, { queue: options.queue ?? parent.queue, json: options.json ?? parent.json });
      }),
  );
  return command;
}

async function sweepAction(io: CliIo, file: string, o: SweepCommandOptions): Promise<void> {
  if (o.dryRun) return dryRun(io, file, o);
  // Not a required option of commander's: that would be required of `sweep status` too.
  if (o.out === undefined) throw new UsageError("required option '--out <dir>' not specified");
  const attempts = parseInteger(o.attempts, '--attempts', 1, 100);
  if (o.queue === undefined && (!o.wait || o.retryFailed)) throw new UsageError('--no-wait and --retry-failed apply to --queue only');
  const { experiment, source, jobs } = userErrors(() => {
    const read = readExperiment(file);
    return { ...read, jobs: expandExperiment(read.experiment, file) };
  });
  const sweepDir = resolve(o.out);
  // A wrong URL is said at once (the queue itself waits for a lost Redis to come back), before DIR is written.
  if (o.queue !== undefined) {
    const url = o.queue;
    await userErrorsAsync(() => checkRedis(url));
  }
  userErrors(() => writeSweepManifest(sweepDir, experiment, source, jobs));
  const say = (line: string) => io.stderr(`quantnas sweep: ${line}\n`);

  let submitted: Awaited<ReturnType<typeof submitSweep>> | undefined;
  if (o.queue !== undefined) {
    const url = o.queue;
    submitted = await userErrorsAsync(() => submitSweep({ url, name: experiment.name, jobs, attempts, retryFailed: o.retryFailed === true }));
    say(
      `${jobs.length} jobs on ${submitted.queue}: ${submitted.added.length} queued now, ${submitted.existing.length} already there` +
        (submitted.retried.length > 0 ? ` (${submitted.retried.length} failed ones queued again)` : ''),
    );
    if (!o.wait) {
      if (o.json) io.stdout(JSON.stringify({ name: experiment.name, dir: sweepDir, queue: submitted.queue, total: jobs.length, ...pick(submitted) }) + '\n');
      else
        io.stdout(
          `queued; run \`quantnas worker --queue ${o.queue}\` on each machine, and this command again (without --no-wait) to collect the results into ${sweepDir}\n`,
        );
      return;
    }
    say(`waiting for their results (\`quantnas worker --queue ${o.queue}\` runs them; Ctrl-C stops waiting, the jobs stay queued)`);
  } else {
    say(`${jobs.length} jobs, run here one after another`);
  }

  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onEvent = sweepReporter(io, experiment.name, jobs);
  let outcome: SweepOutcome;
  try {
    outcome =
      o.queue !== undefined
        ? await userErrorsAsync(() => collectSweep({ url: o.queue!, name: experiment.name, sweepDir, jobs, onEvent: onEvent.event, signal: controller.signal }))
        : await runEmbedded({ sweepDir, jobs, executor: childRunExecutor(io.env), onEvent: onEvent.event, signal: controller.signal });
  } finally {
    onEvent.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }

  const done = outcome.completed.length + outcome.skipped.length;
  if (o.json) {
    io.stdout(
      JSON.stringify({
        name: experiment.name,
        dir: sweepDir,
        ...(submitted ? { queue: submitted.queue, ...pick(submitted) } : {}),
        total: outcome.total,
        completed: outcome.completed,
        skipped: outcome.skipped,
        failed: outcome.failed,
        stopped: outcome.stopped,
      }) + '\n',
    );
  } else {
    io.stdout(
      `sweep ${experiment.name}: ${done} of ${outcome.total} jobs done (${outcome.completed.length} now, ${outcome.skipped.length} before)` +
        `${outcome.failed.length > 0 ? `, ${outcome.failed.length} failed` : ''}; results in ${sweepDir}/jobs/<id>/, listed in sweep.json\n`,
    );
  }
  if (outcome.stopped && outcome.failed.length === 0) {
    throw new UsageError(
      o.queue !== undefined
        ? `stopped waiting with ${outcome.total - done} jobs left; they stay queued: run the same command again to collect them`
        : `stopped with ${outcome.total - done} jobs left; run the same command again to continue`,
    );
  }
  if (outcome.failed.length > 0) {
    if (!o.json) for (const f of outcome.failed) io.stderr(`quantnas sweep: failed: ${f.label} (${f.id}): ${f.error}\n`);
    throw new WorkFailedError(
      `${outcome.failed.length} of ${outcome.total} jobs failed: ${outcome.failed.map((f) => `${f.label} (${f.id})`).join('; ')}` +
        (o.queue !== undefined ? '; --retry-failed queues them again' : '; run the same command again to retry them'),
    );
  }
}

/** The jobs a file expands into, each with the command it runs; nothing is written, nothing runs. */
function dryRun(io: CliIo, file: string, o: SweepCommandOptions): void {
  const jobs = userErrors(() => expandExperiment(readExperiment(file).experiment, file));
  const out = o.out ?? 'DIR';
  const rows = jobs.map((job) => ({
    id: job.id,
    label: job.label,
    command: ['quantnas', 'run', '--out', `${out}/jobs/${job.id}`, ...runArgs(job.options)].join(' '),
  }));
  if (o.json) io.stdout(JSON.stringify({ file, jobs: rows }) + '\n');
  else
    io.stdout(
      `${jobs.length} jobs\n` +
        renderTable(
          ['id', 'label', 'command'],
          rows.map((r) => [r.id, r.label, r.command]),
        ),
    );
}

async function statusAction(io: CliIo, target: string, o: StatusCommandOptions): Promise<void> {
  let isDir = false;
  try {
    isDir = statSync(target).isDirectory();
  } catch {
    throw new UsageError(`${target}: no such file or directory`);
  }
  const { name, jobs } = userErrors(() => {
    if (isDir) {
      const manifest = readSweepManifest(target);
      return { name: manifest.name, jobs: manifestJobs(manifest) };
    }
    const { experiment } = readExperiment(target);
    return { name: experiment.name, jobs: expandExperiment(experiment, target) };
  });
  let status: SweepStatus;
  if (o.queue !== undefined) {
    const url = o.queue;
    await userErrorsAsync(() => checkRedis(url));
    status = await userErrorsAsync(() => queueStatus({ url, name, jobs }));
  } else {
    if (!isDir) throw new UsageError(`${target}: without --queue, give the sweep directory (its jobs/<id>/ folders are the status)`);
    status = directoryStatus({ sweepDir: target, name, jobs });
  }
  if (o.json) {
    io.stdout(JSON.stringify(status) + '\n');
    return;
  }
  const counts = Object.entries(status.counts)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  io.stdout(`sweep ${status.name}${status.queue ? ` (queue ${status.queue})` : ''}: ${jobs.length} jobs: ${counts}\n`);
  io.stdout(
    renderTable(
      ['id', 'state', 'progress', 'label'],
      status.jobs.map((j) => [
        j.id,
        j.state,
        j.progress ? `[${j.progress.stage}/${j.progress.stages}] ${j.progress.title}` : j.error ? `tried ${j.attemptsMade}: ${firstLine(j.error)}` : '',
        j.label,
      ]),
    ),
  );
}

/** Shows a sweep's jobs as they go: a progress bar over the jobs on a terminal, plain lines otherwise. */
function sweepReporter(io: CliIo, name: string, jobs: readonly SweepJob[]): { event: (e: SweepEvent) => void; stop: () => void } {
  const bar = createProgress(io, `sweep ${name}`, 'jobs done:');
  const index = new Map(jobs.map((j, i) => [j.id, i + 1]));
  let done = 0;
  const say = (line: string) => {
    if (!io.interactive) io.stderr(`quantnas sweep: ${line}\n`);
  };
  return {
    event(e) {
      if (e.type === 'waiting') return say(e.message);
      const tag = `[${index.get(e.job.id)}/${jobs.length}] ${e.job.label} (${e.job.id})`;
      switch (e.type) {
        case 'skipped':
          done++;
          say(`${tag}: done before`);
          break;
        case 'started':
          say(`${tag}: started`);
          break;
        case 'progress':
          say(`${tag}: [${e.progress.stage}/${e.progress.stages}] ${e.progress.title}`);
          bar.update(done, jobs.length, `${e.job.label}: ${e.progress.title}`);
          return;
        case 'completed':
          done++;
          say(`${tag}: completed`);
          break;
        case 'retrying':
          say(`${tag}: attempt ${e.attempt - 1} failed (${firstLine(e.error)}); retrying`);
          break;
        case 'failed':
          done++;
          say(`${tag}: failed: ${firstLine(e.error)}`);
          break;
      }
      bar.update(done, jobs.length, e.job.label);
    },
    stop: () => bar.stop(),
  };
}

function pick(s: { added: string[]; existing: string[]; retried: string[] }) {
  return { added: s.added, existing: s.existing, retried: s.retried };
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

/** The sweep package's input errors (an experiment file, a sweep directory, a queue URL) as one-line usage errors. */
export function userErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw asUserError(error);
  }
}

export async function userErrorsAsync<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asUserError(error);
  }
}

function asUserError(error: unknown): unknown {
  if (error instanceof Error && (error.name === 'ExperimentError' || error.name === 'SweepError')) return new UsageError(error.message);
  return error;
}
