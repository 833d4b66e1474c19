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

/** The events of a search or a training run that its progress shows. */
type EpochEvent =
  | { readonly status: 'start'; readonly epochs: number }
  | { readonly status: 'epoch'; readonly epoch: number; readonly validationPsnr?: number }
  | { readonly status: 'step'; readonly epoch: number; readonly step: number; readonly totalSteps?: number }
  | { readonly status: 'note'; readonly message: string }
  | { readonly status: 'checkpoint' | 'done' };

/**
 * An event handler that draws a search's or a training's progress: the step, the epoch, the step's
 * loss (`loss` words it) and the last validation PSNR; notes go to stderr unless the output is JSON.
 */
export function epochProgress<E extends EpochEvent>(
  io: CliIo,
  progress: Progress,
  json: boolean,
  loss: (step: Extract<E, { status: 'step' }>) => string,
): (event: E) => void {
  let epochLabel = '';
  let epochs = 0;
  return (event) => {
    if (event.status === 'start') {
      epochs = event.epochs;
    } else if (event.status === 'epoch') {
      epochLabel = `validation ${event.validationPsnr?.toFixed(2) ?? '-'} dB after epoch ${event.epoch + 1}`;
    } else if (event.status === 'step' && event.totalSteps !== undefined) {
      const label = `epoch ${event.epoch + 1}${epochs > 0 ? ` of ${epochs}` : ''}, ${loss(event as Extract<E, { status: 'step' }>)}`;
      progress.update(event.step, event.totalSteps, `${label}${epochLabel ? ` | ${epochLabel}` : ''}`);
    } else if (event.status === 'note' && !json) {
      io.stderr(`quantnas: note: ${event.message}\n`);
    }
  };
}

/** `runCheckpointed` for a search or a training: its events drawn by `epochProgress`. */
export function runWithEpochProgress<E extends EpochEvent, T extends { readonly completed: boolean }>(
  io: CliIo,
  how: { readonly title: string; readonly json: boolean; readonly userErrors: ReadonlySet<string> },
  loss: (step: Extract<E, { status: 'step' }>) => string,
  start: (hooks: { onEvent: (event: E) => void; signal: AbortSignal }) => Promise<T>,
): Promise<Extract<T, { readonly completed: true }>> {
  return runCheckpointed(io, {
    title: how.title,
    json: how.json,
    userErrors: how.userErrors,
    run: (signal, progress) => start({ onEvent: epochProgress<E>(io, progress, how.json, loss), signal }),
  });
}
