import { Command, Option } from 'commander';
import { checkOutputPath, DataError, readImage, toRgb, writePng } from '@quantnas/data';
import { chooseMemory, createSession, runReference, type RgbImage } from '@quantnas/runtime';
import { DEFAULT_MODEL, modelPath } from '@quantnas/models';
import { UsageError, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { loadModelFile } from '../model-file.js';
import { runtimeFiles } from '../runtime-files.js';
import { parseExportedEngine, parseInteger, type ExportedEngine } from '../options.js';

/** int8: the WASM integer engine; tfjs: the tfjs-wasm fake-quant engine; scalar: the plain-loop specification. */
export type UpscaleEngine = ExportedEngine;

/** What `--json` prints. */
export interface UpscaleResult {
  readonly model: string;
  readonly input: readonly [number, number];
  readonly output: readonly [number, number];
  readonly ms: number;
  readonly engine: UpscaleEngine;
  readonly threads: number;
  /** The int8 engine's plan (`--memory`). */
  readonly memory?: 'fast' | 'bounded';
}

/** `--memory auto`: the whole-image buffers (input, result, stored tensors) the fast plan may hold. */
const AUTO_MEMORY_BUDGET = 512 * 2 ** 20;

export interface UpscaleOptions {
  /** fast, bounded or auto (default). */
  memory?: string;
  model?: string;
  engine: string;
  threads: string;
  tile: string;
  force?: boolean;
  json?: boolean;
}

export function upscaleCommand(io: CliIo): Command {
  return new Command('upscale')
    .summary('upscale an image with an exported integer model (.qnas), the bundled one by default')
    .description(
      'Runs an exported model on the integer WebAssembly engine (tiled, optionally on worker threads; ' +
        'the result does not depend on the tile size or the thread count), on the tfjs-wasm fake-quant ' +
        'engine (--engine tfjs: the model simulated in float32, whole image at once) or on the ' +
        'scalar specification (--engine scalar, slow), and writes the result as a PNG. Grayscale inputs ' +
        `are upscaled as RGB. Without --model it uses the bundled x4 model ${DEFAULT_MODEL} of @quantnas/models, ` +
        'searched and trained by this project (its card, with its Set5, Set14 and B100 numbers, ships beside it).',
    )
    .option('--model <file>', `exported model (.qnas); default: the bundled model ${DEFAULT_MODEL}`)
    .addOption(
      new Option('--engine <engine>', 'int8: the WASM SIMD integer engine; tfjs: tfjs-wasm fake-quant; scalar: the plain-loop specification (slow)').default(
        'int8',
      ),
    )
    .option('--threads <n>', 'worker threads for the int8 engine', '1')
    .option('--tile <n>', 'tile edge in LR pixels for the int8 engine', '128')
    .addOption(
      new Option(
        '--memory <plan>',
        'int8 engine: fast (tensors later passes read are kept whole, each layer runs once), bounded (memory set by the tile, ' +
          'not the image, at 1.3x to 5x the time) or auto (fast while its whole-image buffers fit 512 MiB, else bounded)',
      ).default('auto'),
    )
    .option('--force', 'replace an existing output file')
    .option('--json', 'print the result as JSON on stdout')
    .argument('<in>', 'LR image (PNG or JPEG)')
    .argument('<out>', 'output PNG')
    .action(async (inPath: string, outPath: string, options: UpscaleOptions) => {
      const result = await upscaleFile(io, inPath, outPath, options);
      if (options.json) io.stdout(JSON.stringify(result) + '\n');
      else {
        const [w, h] = result.output;
        io.stderr(
          `wrote ${outPath} (${w}x${h} from ${result.input[0]}x${result.input[1]}) in ${result.ms.toFixed(0)} ms ` +
            `(${result.engine}${result.engine === 'int8' ? `, ${result.threads} thread${result.threads === 1 ? '' : 's'}` : ''})\n`,
        );
      }
    });
}

/** Upscales one image file to a PNG; `quantnas upscale` and `quantnas run` (its sample) run it. */
export async function upscaleFile(io: CliIo, inPath: string, outPath: string, options: UpscaleOptions): Promise<UpscaleResult> {
  const engine: UpscaleEngine = parseExportedEngine(options.engine);
  const model = options.model ?? modelPath(DEFAULT_MODEL);
  const threads = parseInteger(options.threads, '--threads', 1, 64);
  const tile = parseInteger(options.tile, '--tile', 1, 65536);
  if (options.memory !== undefined && !['auto', 'fast', 'bounded'].includes(options.memory)) {
    throw new UsageError(`--memory must be auto, fast or bounded, got '${options.memory}'`);
  }
  // Before any work: the output must be writable without replacing an input, a device or a link.
  const outputOptions = { force: options.force === true, inputs: [inPath, model] };
  await checkOutputPath(outPath, outputOptions);

  const { artifact, graph } = await loadModelFile(model);
  const decoded = toRgb(await readImage(inPath));
  const image: RgbImage = { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };

  let output: RgbImage;
  let ms: number;
  let plan: 'fast' | 'bounded' | undefined;
  // An image too small for the model (ESA's pooling window, a 'valid' conv) is a RangeError naming the layer.
  const tooSmall = (error: unknown): never => {
    if (error instanceof RangeError) throw new DataError(`${inPath}: ${error.message}`, inPath);
    throw error;
  };
  if (engine === 'scalar') {
    const started = performance.now();
    try {
      output = runReference(graph, image);
    } catch (error) {
      return tooSmall(error);
    }
    ms = performance.now() - started;
  } else if (engine === 'tfjs') {
    const { createTfjsEngine } = await import('../tfjs-engine.js');
    const tfjs = await createTfjsEngine(graph, 'fake-quant');
    try {
      const started = performance.now();
      output = await tfjs.upscale(image);
      ms = performance.now() - started;
    } catch (error) {
      return tooSmall(error);
    } finally {
      tfjs.dispose();
    }
  } else {
    const progress = createProgress(io, 'upscale');
    try {
      plan = options.memory === 'fast' || options.memory === 'bounded' ? options.memory : chooseMemory(graph, image.width, image.height, AUTO_MEMORY_BUDGET);
    } catch (error) {
      return tooSmall(error);
    }
    const session = await createSession(artifact, { threads, tile, memory: plan, ...runtimeFiles() });
    try {
      const started = performance.now();
      output = await session.upscale(image, {
        onProgress: (event) => {
          if (event.status === 'start') progress.update(0, event.tiles, '');
          else if (event.status === 'tile') progress.update(event.index + 1, event.tiles, `tile ${event.index + 1}/${event.tiles}`);
        },
      });
      ms = performance.now() - started;
    } catch (error) {
      return tooSmall(error);
    } finally {
      progress.stop();
      await session.dispose();
    }
  }
  await writePng(outPath, { width: output.width, height: output.height, channels: 3, data: output.data }, outputOptions);
  return {
    model,
    input: [image.width, image.height],
    output: [output.width, output.height],
    ms: Math.round(ms * 10) / 10,
    engine,
    threads: engine === 'int8' ? threads : 1,
    ...(plan !== undefined ? { memory: plan } : {}),
  };
}
