import { Command, CommanderError } from 'commander';
import { DataError } from '@quantnas/data';
import { benchCommand } from './commands/bench.js';
import { cardCommand } from './commands/card.js';
import { dataCommand } from './commands/data.js';
import { demoCommand } from './commands/demo.js';
import { diagnoseCommand } from './commands/diagnose.js';
import { downscaleCommand } from './commands/downscale.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { reportCommand } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { searchCommand } from './commands/search.js';
import { setsCommand } from './commands/sets.js';
import { sweepCommand } from './commands/sweep.js';
import { trainCommand } from './commands/train.js';
import { upscaleCommand } from './commands/upscale.js';
import { workerCommand } from './commands/worker.js';
import { processIo, UsageError, WorkFailedError, type CliIo } from './io.js';
import { CLI_VERSION } from './software.js';

export function createProgram(io: CliIo): Command {
  const program = new Command('quantnas')
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .description(
      'Quantization-aware architecture search for image super-resolution, and integer inference on CPU. ' +
        'Data (Set5, Set14, B100, T91, BSD200) is read from --data DIR, else $QUANTNAS_DATA, else ' +
        '../shared/data/sr next to the repository, else the per-user data directory, where `quantnas data fetch` ' +
        'downloads it.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  const commands = [
    runCommand(io),
    searchCommand(io),
    trainCommand(io),
    exportCommand(io),
    evalCommand(io),
    reportCommand(io),
    sweepCommand(io),
    workerCommand(io),
    diagnoseCommand(io),
    cardCommand(io),
    upscaleCommand(io),
    downscaleCommand(io),
    demoCommand(io),
    setsCommand(io),
    dataCommand(io),
    benchCommand(io),
  ];
  for (const command of commands) {
    command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).exitOverride();
    program.addCommand(command);
  }
  return program;
}

/**
 * Runs the command line and returns the exit code. Errors caused by the user's input print one
 * line (`quantnas: ...`) and no stack; anything else is reported as an internal error, with the
 * stack only when QUANTNAS_DEBUG is set.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = createProgram(io);
  if (argv.length === 0) {
    program.outputHelp();
    return 1;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' ? 0 : 2;
    }
    if (error instanceof DataError || error instanceof UsageError || error instanceof WorkFailedError) {
      io.stderr(`quantnas: ${error.message}\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`quantnas: internal error: ${message}\n`);
    if (io.env.QUANTNAS_DEBUG && error instanceof Error && error.stack) io.stderr(error.stack + '\n');
    else io.stderr('quantnas: set QUANTNAS_DEBUG=1 to see the stack trace\n');
    return 70;
  }
}
