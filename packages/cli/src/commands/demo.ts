import { Command } from 'commander';
import { DEFAULT_MODEL, modelPath } from '@quantnas/models';
import { UsageError, type CliIo } from '../io.js';

interface DemoOptions {
  port: string;
  models?: string;
  model?: string;
}

/** What the demo serves: the options as the runtime's demo server takes them. */
export function demoServerOptions(options: DemoOptions) {
  const port = Number(options.port);
  if (!/^\d+$/.test(options.port) || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got '${options.port}'`);
  // Without a folder of models, the page opens the bundled model.
  const bundled = options.models === undefined && options.model === undefined;
  return {
    port,
    ...(options.models !== undefined ? { models: options.models } : {}),
    ...(bundled ? { model: modelPath(DEFAULT_MODEL), modelName: `${DEFAULT_MODEL}.qnas` } : options.model !== undefined ? { model: options.model } : {}),
  };
}

/** Starts the demo server of @quantnas/runtime; bad paths are one-line usage errors. */
export async function startDemo(options: DemoOptions) {
  const { startDemoServer, DemoServerError } = await import('@quantnas/runtime/demo-server');
  try {
    return await startDemoServer(demoServerOptions(options));
  } catch (error) {
    if (error instanceof DemoServerError) throw new UsageError(error.message);
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--port ${options.port} is in use`);
    throw error;
  }
}

export function demoCommand(io: CliIo): Command {
  return new Command('demo')
    .summary('serve the browser demo of the integer runtime on 127.0.0.1, with the bundled model')
    .description(
      'Serves the demo page of @quantnas/runtime on 127.0.0.1: it upscales an image in the browser on the ' +
        "integer WebAssembly engine and shows the time and the model's MACs and BitOps. Without --models or " +
        `--model the page opens with the bundled model ${DEFAULT_MODEL}; --models DIR serves a folder of .qnas ` +
        'files at /models/ (open one with ?model=/models/NAME.qnas), --model FILE opens that file. Stops on Ctrl+C.',
    )
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', '8080')
    .option('--models <dir>', 'a folder of .qnas models to serve at /models/')
    .option('--model <file>', 'a .qnas model the page opens at start (default without --models: the bundled model)')
    .action(async (options: DemoOptions) => {
      const server = await startDemo(options);
      io.stdout(`QuantNAS runtime demo: ${server.url}\n`);
      if (options.models !== undefined) io.stdout(`models from ${options.models} at /models/ (open one with ?model=/models/NAME.qnas)\n`);
      io.stderr('Ctrl+C to stop\n');
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
