// `quantnas-upscale IN OUT`: upscales a PNG or JPEG with a bundled model (or a .qnas file) on the
// integer engine of @quantnas/runtime and writes a PNG: the same bytes as `quantnas upscale`, with
// nothing of the search stack or tfjs installed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { checkOutputPath, DataError, readImage, toRgb, writePng } from '@quantnas/data';
import { ArtifactError, createSession, type RgbImage, type SessionOptions } from '@quantnas/runtime';
import { readModelFile } from '@quantnas/runtime/model-file';
import { DEFAULT_MODEL, MODEL_NAMES, ModelNotFoundError, modelPath } from './index.js';

const NAME = 'quantnas-upscale';

/** Where the command writes. */
export interface UpscaleIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A mistake in the command line: exit code 2. */
class UsageError extends Error {}

const HELP = `Usage: ${NAME} [options] <in> <out>

Upscales an image (PNG or JPEG; grayscale is upscaled as RGB) with an integer super-resolution model
on the WebAssembly SIMD engine of @quantnas/runtime and writes the result as a PNG. Without --model it
uses the bundled model ${DEFAULT_MODEL} (x4); the output is the same, byte for byte, as
\`quantnas upscale\` writes with the same model, whatever the tile size and thread count.

Options:
  --model <name|file>  a bundled model (${MODEL_NAMES.join(', ')}) or a .qnas file (default: ${DEFAULT_MODEL})
  --threads <n>        worker threads (default 1)
  --tile <n>           tile edge in LR pixels (default 128)
  --force              replace an existing output file
  --json               print the result as JSON on stdout
  -V, --version        print the version
  -h, --help           print this help
`;

function positiveInteger(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}, got '${value}'`);
  return n;
}

function version(): string {
  // Both src/ and dist/ sit one level below the package root.
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

/** A bundled model's name becomes its path; anything else is a file. */
function resolveModel(model: string | undefined): { path: string; label: string } {
  if (model === undefined) return { path: modelPath(DEFAULT_MODEL), label: DEFAULT_MODEL };
  if ((MODEL_NAMES as readonly string[]).includes(model)) return { path: modelPath(model), label: model };
  // A bare word that is no file was meant as a model's name.
  if (!/[\\/.]/.test(model) && !existsSync(model))
    throw new ModelNotFoundError(`no bundled model named '${model}' and no such file (bundled: ${MODEL_NAMES.join(', ')})`);
  return { path: model, label: model };
}

/**
 * Runs the command; resolves to its exit code (0, 1 for bad input, 2 for a bad command line, 70
 * for an internal error). `session` adds runtime session options (where the kernels are).
 */
export async function run(argv: readonly string[], io: UpscaleIo, session: SessionOptions = {}): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: [...argv],
        allowPositionals: true,
        options: {
          model: { type: 'string' },
          threads: { type: 'string' },
          tile: { type: 'string' },
          force: { type: 'boolean' },
          json: { type: 'boolean' },
          version: { type: 'boolean', short: 'V' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (error) {
      throw new UsageError((error as Error).message.split('\n')[0]!);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout(HELP);
      return 0;
    }
    if (values.version) {
      io.stdout(`${version()}\n`);
      return 0;
    }
    if (positionals.length !== 2)
      throw new UsageError(`expected <in> and <out>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'} (${NAME} --help)`);
    const [inPath, outPath] = positionals as [string, string];
    const threads = positiveInteger('threads', values.threads, 1, 64);
    const tile = positiveInteger('tile', values.tile, 128, 65536);
    const model = resolveModel(values.model);
    const outputOptions = { force: values.force === true, inputs: [inPath, model.path] };
    await checkOutputPath(outPath, outputOptions);

    let artifact;
    try {
      ({ artifact } = await readModelFile(model.path));
    } catch (error) {
      if (error instanceof ArtifactError) throw new DataError(error.message.split('\n')[0]!, model.path);
      throw error;
    }
    const decoded = toRgb(await readImage(inPath));
    const image: RgbImage = { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };
    const engine = await createSession(artifact, { ...session, threads, tile });
    let output: RgbImage;
    let ms: number;
    try {
      const started = performance.now();
      output = await engine.upscale(image);
      ms = performance.now() - started;
    } catch (error) {
      // An image too small for the model (a pooling window, a 'valid' conv) names the layer.
      if (error instanceof RangeError) throw new DataError(`${inPath}: ${error.message}`, inPath);
      throw error;
    } finally {
      await engine.dispose();
    }
    await writePng(outPath, { width: output.width, height: output.height, channels: 3, data: output.data }, outputOptions);
    const [w, h] = [output.width, output.height];
    if (values.json) {
      io.stdout(
        `${JSON.stringify({ model: model.label, input: [image.width, image.height], output: [w, h], ms: Math.round(ms * 10) / 10, engine: 'int8', threads })}\n`,
      );
    } else {
      io.stderr(
        `wrote ${outPath} (${w}x${h} from ${image.width}x${image.height}) with ${model.label} in ${ms.toFixed(0)} ms (int8, ${threads} thread${threads === 1 ? '' : 's'})\n`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof DataError || error instanceof ModelNotFoundError) {
      io.stderr(`${NAME}: ${error.message.split('\n')[0]}\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    io.stderr(`${NAME}: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 70;
  }
}
