import { Command } from 'commander';
import { bicubicUpscale, DataError, openSet, resolveDataRoot, toRgb, type BenchmarkSet, type ImageU8 } from '@quantnas/data';
import { psnr, ssim, standardProtocol } from '@quantnas/metrics';
import type { RgbImage, Session } from '@quantnas/runtime';
import { UsageError, type CliIo } from '../io.js';
import { loadModelFile } from '../model-file.js';
import { parseInteger, parseScale, parseSetList } from '../options.js';
import { createProgress } from '../progress.js';
import { runtimeFiles } from '../runtime-files.js';
import { renderTable } from '../table.js';

interface EsrganBenchOptions {
  model: string;
  sets: string;
  scale: string;
  data?: string;
  lrSource?: string;
  threads: string;
  limit?: string;
  esrganModel?: string;
  perImage?: boolean;
  json?: boolean;
}

/** Quality and speed of one model on one set. */
interface Score {
  psnr: number;
  ssim: number;
  /** Mean ms per image; null for bicubic (not timed). */
  ms_per_image: number | null;
}

interface ImageRow {
  image: string;
  width: number;
  height: number;
  esrgan_slim: { psnr: number; ssim: number; ms: number };
  int8: { psnr: number; ssim: number; ms: number };
  bicubic: { psnr: number; ssim: number };
}

/** What `--json` prints. */
export interface EsrganBenchResult {
  model: string;
  scale: number;
  threads: number;
  esrgan_slim: { package: string; version: string | null; model_json: string; format: string; params: number };
  protocol: ReturnType<typeof standardProtocol>;
  sets: Record<string, { images: number; esrgan_slim: Score; int8: Score; bicubic: Score; perImage?: ImageRow[] }>;
}

export function esrganBenchCommand(io: CliIo): Command {
  return new Command('esrgan-slim')
    .summary("an exported model against UpscalerJS's ESRGAN Slim (tfjs float32), quality and speed")
    .description(
      "Upscales every LR image of the chosen benchmark sets with UpscalerJS's ESRGAN Slim model of the " +
        'same scale (@upscalerjs/esrgan-slim, a devDependency: its tfjs layers model run on tfjs-wasm, ' +
        'float32, whole image, input and output RGB in [0, 255], output clipped and rounded to uint8) and ' +
        "with an exported model (.qnas) on the runtime's integer WASM engine, in the same run, and prints " +
        'PSNR and SSIM with the standard protocol (BT.601 Y channel, `scale` pixels shaved, uint8; as ' +
        '`quantnas eval`) and the mean time per image of each, with bicubic as the baseline. Both models ' +
        'get one untimed warm-up on the first image. Grayscale LR images go in as RGB; the gray output is ' +
        'the mean of the three channels. The model files are read from the installed package (no network).',
    )
    .requiredOption('--model <file>', 'exported model (.qnas)')
    .option('--sets <list>', 'comma-separated benchmark sets', 'Set5')
    .option('--scale <s>', 'upscaling factor (ESRGAN Slim ships x2, x3, x4, x8)', '4')
    .option('--data <dir>', 'data root holding the sets (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--lr-source <id>', 'LR source for sets that list several (Set5); default: the first listed')
    .option('--threads <n>', 'worker threads for the int8 engine', '1')
    .option('--limit <n>', 'only the first n images of each set')
    .option('--esrgan-model <model.json>', "a tfjs model.json to use instead of the installed package's")
    .option('--per-image', 'also list every image (table) or include `perImage` (JSON)')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: EsrganBenchOptions) => {
      const result = await benchEsrgan(io, options);
      if (options.json) io.stdout(JSON.stringify(result) + '\n');
      else io.stdout(formatEsrganBench(result, Boolean(options.perImage)));
    })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

/** Networks take RGB; a gray HR is compared with the mean of the three output channels. */
function likeHr(sr: RgbImage, hr: ImageU8): ImageU8 {
  if (hr.channels === 3) return sr;
  const gray = new Uint8Array(sr.width * sr.height);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3) gray[i] = Math.round((sr.data[j]! + sr.data[j + 1]! + sr.data[j + 2]!) / 3);
  return { width: sr.width, height: sr.height, channels: 1, data: gray };
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

async function benchEsrgan(io: CliIo, options: EsrganBenchOptions): Promise<EsrganBenchResult> {
  const scale = parseScale(options.scale);
  const setNames = parseSetList(options.sets);
  const threads = parseInteger(options.threads, '--threads', 1, 64);
  const limit = options.limit === undefined ? Infinity : parseInteger(options.limit, '--limit', 1);
  const { artifact, graph } = await loadModelFile(options.model);
  if (graph.header.scale !== scale) throw new UsageError(`${options.model} is a x${graph.header.scale} model; --scale is ${scale}`);

  const root = resolveDataRoot({ explicit: options.data, env: io.env });
  // Open every set first, so that a mistyped name fails before any model is loaded.
  const sets: BenchmarkSet[] = [];
  for (const name of setNames) sets.push(await openSet(root, name, options.lrSource === undefined ? { scale } : { scale, lrSource: options.lrSource }));

  const { findEsrganSlim, loadEsrganSlim, ESRGAN_SLIM_PACKAGE } = await import('../esrgan-slim.js');
  const files = await findEsrganSlim(scale, options.esrganModel);
  const esrgan = await loadEsrganSlim(files);
  const runtime = await import('@quantnas/runtime');
  let session: Session | undefined;
  const protocol = standardProtocol(scale);
  const result: EsrganBenchResult = {
    model: options.model,
    scale,
    threads,
    esrgan_slim: { package: ESRGAN_SLIM_PACKAGE, version: files.version ?? null, model_json: files.modelJson, format: esrgan.format, params: esrgan.params },
    protocol,
    sets: {},
  };
  try {
    session = await runtime.createSession(artifact, { threads, ...runtimeFiles() });
    const int8 = session;
    let warm = false;
    for (const set of sets) {
      const pairs = set.pairs.slice(0, limit);
      const progress = createProgress(io, `esrgan-slim vs int8 ${set.name} x${scale}`);
      const rows: ImageRow[] = [];
      try {
        for (const [index, pair] of pairs.entries()) {
          const { name, lr, hr } = await set.load(pair);
          const rgb = toRgb(lr);
          const input: RgbImage = { width: rgb.width, height: rgb.height, channels: 3, data: rgb.data };
          // An image too small for the model (ESA's pooling window) is a RangeError naming the layer.
          const tooSmall = (error: unknown): never => {
            if (error instanceof RangeError) throw new DataError(`${set.name}/${name}: ${error.message}`, `${set.name}/${name}`);
            throw error;
          };
          if (!warm) {
            await esrgan.upscale(input);
            await int8.upscale(input).catch(tooSmall);
            warm = true;
          }
          let t0 = performance.now();
          const a = await esrgan.upscale(input);
          const esrganMs = performance.now() - t0;
          t0 = performance.now();
          const b = await int8.upscale(input).catch(tooSmall);
          const int8Ms = performance.now() - t0;
          const bicubic = bicubicUpscale(lr, scale);
          const score = (sr: ImageU8) => ({ psnr: psnr(sr, hr, protocol), ssim: ssim(sr, hr, protocol) });
          rows.push({
            image: name,
            width: hr.width,
            height: hr.height,
            esrgan_slim: { ...score(likeHr(a, hr)), ms: esrganMs },
            int8: { ...score(likeHr(b, hr)), ms: int8Ms },
            bicubic: score(bicubic),
          });
          progress.update(index + 1, pairs.length, `${set.name}/${name}`);
        }
      } finally {
        progress.stop();
      }
      const summary = (pick: (r: ImageRow) => { psnr: number; ssim: number; ms?: number }): Score => ({
        psnr: mean(rows.map((r) => pick(r).psnr)),
        ssim: mean(rows.map((r) => pick(r).ssim)),
        ms_per_image: pick(rows[0]!).ms === undefined ? null : mean(rows.map((r) => pick(r).ms!)),
      });
      result.sets[set.name] = {
        images: rows.length,
        esrgan_slim: summary((r) => r.esrgan_slim),
        int8: summary((r) => r.int8),
        bicubic: summary((r) => r.bicubic),
        ...(options.perImage ? { perImage: rows } : {}),
      };
    }
  } finally {
    esrgan.dispose();
    await session?.dispose();
  }
  return result;
}

function formatEsrganBench(r: EsrganBenchResult, perImage: boolean): string {
  const version = r.esrgan_slim.version ? ` ${r.esrgan_slim.version}` : '';
  let text =
    `${r.esrgan_slim.package}${version} x${r.scale} (tfjs-wasm float32, ${r.esrgan_slim.params.toLocaleString('en-US')} params) vs ` +
    `${r.model} (int8 WASM engine, ${r.threads} thread${r.threads === 1 ? '' : 's'}); Y channel, shave ${r.protocol.shave}, uint8\n`;
  const rows: string[][] = [];
  const ms = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  for (const [name, s] of Object.entries(r.sets)) {
    rows.push([name, 'esrgan-slim', String(s.images), s.esrgan_slim.psnr.toFixed(2), s.esrgan_slim.ssim.toFixed(4), ms(s.esrgan_slim.ms_per_image)]);
    rows.push([name, 'int8 .qnas', String(s.images), s.int8.psnr.toFixed(2), s.int8.ssim.toFixed(4), ms(s.int8.ms_per_image)]);
    rows.push([name, 'bicubic', String(s.images), s.bicubic.psnr.toFixed(2), s.bicubic.ssim.toFixed(4), '-']);
    if (perImage) {
      for (const img of s.perImage ?? []) {
        rows.push([
          `  ${name}/${img.image}`,
          'esrgan-slim',
          '',
          img.esrgan_slim.psnr.toFixed(2),
          img.esrgan_slim.ssim.toFixed(4),
          img.esrgan_slim.ms.toFixed(1),
        ]);
        rows.push([`  ${name}/${img.image}`, 'int8 .qnas', '', img.int8.psnr.toFixed(2), img.int8.ssim.toFixed(4), img.int8.ms.toFixed(1)]);
      }
    }
  }
  text += renderTable(['set', 'model', 'images', 'PSNR dB', 'SSIM', 'ms/image'], rows);
  for (const [name, s] of Object.entries(r.sets)) {
    const a = s.esrgan_slim.ms_per_image!;
    const b = s.int8.ms_per_image!;
    text += `${name}: int8 ${(s.int8.psnr - s.esrgan_slim.psnr >= 0 ? '+' : '') + (s.int8.psnr - s.esrgan_slim.psnr).toFixed(2)} dB vs esrgan-slim, ${(a / b).toFixed(2)}× its speed\n`;
  }
  return text;
}
