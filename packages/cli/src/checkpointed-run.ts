import { UsageError, type CliIo } from './io.js';
import { createProgress, type Progress } from './progress.js';

/** What a checkpointed job (search, training) returns when it was stopped before the end. */
interface StoppedRun {
  readonly completed: false;
  readonly step: number;
  readonly totalSteps: number;
  readonly checkpoint: string;
}

interface CheckpointedRunOptions<T> {
  readonly title: string;
  readonly json: boolean;
  /** Error names that mean bad input (not a bug): reported as one line. */
  readonly userErrors: ReadonlySet<string>;
  readonly run: (signal: AbortSignal, progress: Progress) => Promise<T>;
}

/**
 * Runs a long checkpointed job the way every such command presents it: a progress bar, Ctrl-C stops
 * after the step in progress (the job writes a checkpoint), the job's input errors become one line,
 * and a stopped run says how to continue.
 */
export async function runCheckpointed<T extends { readonly completed: boolean }>(
  io: CliIo,
  options: CheckpointedRunOptions<T>,
): Promise<Extract<T, { readonly completed: true }>> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const progress = createProgress(io, options.title);
  let result: T;
  try {
    result = await options.run(controller.signal, progress);
  } catch (error) {
    if (error instanceof Error && options.userErrors.has(error.name)) throw new UsageError(error.message.split('\n')[0]!);
    throw error;
  } finally {
    progress.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (!result.completed) {
    const stopped = result as unknown as StoppedRun;
    if (options.json) {
      io.stdout(JSON.stringify({ completed: false, step: stopped.step, total_steps: stopped.totalSteps, checkpoint: stopped.checkpoint }) + '\n');
    }
    const hint = io.continueHint ?? 'rerun with --resume to continue';
    throw new UsageError(`stopped at step ${stopped.step} of ${stopped.totalSteps}; checkpoint ${stopped.checkpoint}; ${hint}`);
  }
  return result as Extract<T, { readonly completed: true }>;
}
