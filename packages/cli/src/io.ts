/** Where a command writes and what it reads from its environment; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  interactive: boolean;
  /**
   * How to continue a stopped checkpointed stage, when the command that runs it is not the one the
   * user typed (`quantnas run` drives search and train): the stage's stop message says this instead
   * of `--resume`.
   */
  continueHint?: string;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    interactive: Boolean(process.stderr.isTTY) && !process.env.CI,
  };
}

/** An error in how the command was called (a bad option value); printed as one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command that ran but some of its work failed (jobs of a sweep): printed as one line, exit code 1. */
export class WorkFailedError extends Error {
  override readonly name = 'WorkFailedError';
}
