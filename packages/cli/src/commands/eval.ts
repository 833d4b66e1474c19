import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { bicubicUpscale, resolveDataRoot, toRgb, type ImageU8 } from '@quantnas/data';
import { evaluate, standardProtocol, type EvaluationResult, type SrModel } from '@quantnas/metrics';
import type { ArtifactCost } from '@quantnas/runtime';
import { UsageError, type CliIo } from '../io.js';
import { parseExportedEngine, parseScale, parseSetList, parseWith, type ExportedEngine } from '../options.js';
import { createProgress } from '../progress.js';
import { loadModelFile } from '../model-file.js';
import { runtimeFiles } from '../runtime-files.js';
import { renderTable } from '../table.js';
import { TRAIN_USER_ERRORS } from './train.js';

/**
 * How the model's images are computed: bicubic; a .qnas model on the integer WASM engine (int8),
 * on the tfjs-wasm fake-quant engine (reference) or on the runtime's scalar specification (scalar);
 * a training directory's checkpoint as its fake-quant tfjs network (fake-quant).
 */
export type EvalEngine = 'bicubic' | 'int8' | 'tfjs' | 'scalar' | 'fake-quant';

/** Cost figures reported next to the quality; null for bicubic. */
export interface ModelCost {
  readonly params: number | null;
  readonly macsPerPixel: number | null;
  readonly bitops32x32: number | null;
  readonly bitopsPerOutputMegapixel: number | null;
}

/** A model ready to run, with what the report says about it. */
export interface LoadedModel {
  readonly model: SrModel;
  readonly engine: EvalEngine;
  /** The tfjs backend a training directory's network ran on. */
  readonly backend?: string;
  readonly cost: ModelCost;
  /** Frees sessions, networks. */
  dispose(): Promise<void>;
}

const NO_COST: ModelCost = { params: null, macsPerPixel: null, bitops32x32: null, bitopsPerOutputMegapixel: null };

interface EvalOptions {
  model: string;
  engine?: string;
  backend?: string;
  scale: string;
  sets: string;
  data?: string;
  lrSource?: string;
  json?: boolean;
  perImage?: boolean;
}

export function evalCommand(io: CliIo): Command {
  return new Command('eval')
    .summary('PSNR/SSIM of a model on the standard SR benchmarks')
    .description(
      'Upscales every LR image of the chosen benchmark sets with a model and measures PSNR and SSIM ' +
        'against the HR image with the standard protocol: BT.601 Y channel (grayscale images on their ' +
        'gray values), output rounded to uint8, `scale` pixels shaved from every border.\n\nModels: ' +
        "`bicubic`; an exported integer model (.qnas), run by --engine int8 (the runtime's WASM integer " +
        'engine, the default), tfjs (the model simulated in float32 on tfjs-wasm, fake-quant: ' +
        'byte-identical to int8 except where float32 cannot follow the integer arithmetic; an independent ' +
        "check of the integer engine at tfjs speed) or scalar (the runtime's plain-loop specification, " +
        'slow); a training directory (quantnas train), whose best ' +
        'checkpoint runs as the fake-quant tfjs network, so an export can be compared with its checkpoint. ' +
        'Networks take RGB: a grayscale LR image is given as three equal channels, and the gray output is ' +
        'the mean of the three output channels (each rounded to uint8 first, then the mean rounded).',
    )
    .requiredOption('--model <model>', 'bicubic, an exported model (.qnas) or a training directory')
    .option(
      '--engine <engine>',
      'for a .qnas model: int8 (WASM integer engine, default), tfjs (tfjs-wasm fake-quant) or scalar (plain-loop specification, the reference)',
    )
    .option('--backend <name>', 'tfjs backend for a training directory (default wasm)')
    .option('--scale <s>', 'upscaling factor', '4')
    .option('--sets <list>', 'comma-separated benchmark sets', 'Set5,Set14,B100')
    .option('--data <dir>', 'data root holding the sets (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--lr-source <id>', 'LR source for sets that list several (Set5); default: the first listed')
    .option('--per-image', 'also list every image (table) or include `perImage` (JSON)')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: EvalOptions) => {
      const scale = parseScale(options.scale);
      const sets = parseSetList(options.sets);
      const root = resolveDataRoot({ explicit: options.data, env: io.env });
      const { result, loaded } = await evaluateWithProgress(io, { ...options, scale, sets, root });
      if (options.json) io.stdout(JSON.stringify(evaluationJson(result, Boolean(options.perImage), loaded)) + '\n');
      else io.stdout(toTable(result, Boolean(options.perImage), loaded));
    });
}

/**
 * A model evaluated on benchmark sets under the standard protocol, with a progress bar unless
 * `quiet`; the model is freed after. `quantnas eval` and `quantnas run` run it.
 */
export async function evaluateWithProgress(
  io: CliIo,
  options: Pick<EvalOptions, 'model' | 'engine' | 'backend' | 'lrSource'> & {
    readonly scale: number;
    readonly sets: readonly string[];
    readonly root: string;
    readonly quiet?: boolean;
  },
): Promise<{ result: EvaluationResult; loaded: Pick<LoadedModel, 'engine' | 'cost' | 'backend'> }> {
  const loaded = await loadModel(options, options.scale);
  try {
    const progress = options.quiet ? undefined : createProgress(io, `eval ${loaded.model.name} x${options.scale}`);
    try {
      const result = await evaluate({
        model: loaded.model,
        scale: options.scale,
        sets: [...options.sets],
        root: options.root,
        protocol: standardProtocol(options.scale),
        lrSource: options.lrSource,
        onProgress: (event) => {
          if (event.status === 'image') progress?.update(event.index + 1, event.total, `${event.set}/${event.image}`);
        },
      });
      return { result, loaded: { engine: loaded.engine, cost: loaded.cost, ...(loaded.backend !== undefined ? { backend: loaded.backend } : {}) } };
    } finally {
      progress?.stop();
    }
  } finally {
    await loaded.dispose();
  }
}

/** The model of `--model` (and `--engine`, `--backend`), ready for `evaluate`; `quantnas card` uses it too. */
export async function loadModel(options: Pick<EvalOptions, 'model' | 'engine' | 'backend'>, scale: number): Promise<LoadedModel> {
  const name = options.model;
  const engine = options.engine === undefined ? undefined : parseExportedEngine(options.engine);
  const isDir = existsSync(name) && statSync(name).isDirectory();
  if (options.backend !== undefined && !isDir) {
    throw new UsageError(
      `--backend applies to a training directory only (it picks the tfjs backend of its network), got '${options.backend}' with --model ${name}`,
    );
  }
  if (name === 'bicubic') {
    if (options.engine !== undefined) throw new UsageError('--engine applies to .qnas models only');
    return { model: { name: 'bicubic', upscale: (lr) => bicubicUpscale(lr, scale) }, engine: 'bicubic', cost: NO_COST, dispose: async () => {} };
  }
  if (isDir) {
    if (options.engine !== undefined) throw new UsageError('--engine applies to .qnas models; a training directory runs its fake-quant network');
    return loadTrainingDir(name, scale, options.backend);
  }
  if (existsSync(name) || name.endsWith('.qnas')) return loadExported(name, scale, engine ?? 'int8');
  throw new UsageError(`unknown model '${name}' (expected bicubic, a .qnas file or a training directory)`);
}

/** Networks take RGB; a gray LR goes in as three equal channels and comes back as their mean. */
function grayAware(upscaleRgb: (rgb: ImageU8) => Promise<Uint8Array>, scale: number) {
  return async (lr: ImageU8): Promise<ImageU8> => {
    const data = await upscaleRgb(toRgb(lr));
    const [width, height] = [lr.width * scale, lr.height * scale];
    if (lr.channels === 3) return { width, height, channels: 3, data };
    const gray = new Uint8Array(width * height);
    for (let i = 0, j = 0; i < gray.length; i++, j += 3) gray[i] = Math.round((data[j]! + data[j + 1]! + data[j + 2]!) / 3);
    return { width, height, channels: 1, data: gray };
  };
}

async function loadExported(path: string, scale: number, engine: ExportedEngine): Promise<LoadedModel> {
  const runtime = await import('@quantnas/runtime');
  const { artifact, graph } = await loadModelFile(path);
  if (artifact.header.scale !== scale) throw new UsageError(`${path} is a x${artifact.header.scale} model; --scale is ${scale}`);
  const cost = exportedCost(artifact.header.metadata?.cost);
  const model = (run: (rgb: ImageU8) => Promise<Uint8Array>): SrModel => ({ name: path, upscale: grayAware(run, scale) });
  if (engine === 'scalar') {
    return {
      model: model(async (rgb) => runtime.runReference(graph, { width: rgb.width, height: rgb.height, channels: 3, data: rgb.data }).data),
      engine,
      cost,
      dispose: async () => {},
    };
  }
  if (engine === 'tfjs') {
    const { createTfjsEngine } = await import('../tfjs-engine.js');
    const tfjs = await createTfjsEngine(graph, 'fake-quant');
    return {
      model: model(async (rgb) => (await tfjs.upscale({ width: rgb.width, height: rgb.height, channels: 3, data: rgb.data })).data),
      engine,
      cost,
      dispose: async () => tfjs.dispose(),
    };
  }
  const session = await runtime.createSession(artifact, runtimeFiles());
  return {
    model: model(async (rgb) => (await session.upscale({ width: rgb.width, height: rgb.height, channels: 3, data: rgb.data })).data),
    engine,
    cost,
    dispose: () => session.dispose(),
  };
}

function exportedCost(stated: ArtifactCost | undefined): ModelCost {
  const cost = stated as (ArtifactCost & Record<string, unknown>) | undefined;
  if (!cost) return NO_COST;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const input = cost.costInput as { height?: number; width?: number } | undefined;
  const at32 = input?.height === 32 && input.width === 32;
  return {
    params: num(cost.params),
    macsPerPixel: num(cost.macsPerLrPixel),
    bitops32x32: at32 ? num(cost.bitOps) : cost.bitOpsPerLrPixel !== undefined ? cost.bitOpsPerLrPixel * 1024 : null,
    bitopsPerOutputMegapixel: num(cost.bitOpsPerOutputMegapixel),
  };
}

async function loadTrainingDir(dir: string, scale: number, backend: string | undefined): Promise<LoadedModel> {
  const core = await import('@quantnas/core-ops');
  const search = await import('@quantnas/search');
  const { roundHalfEven } = await import('@quantnas/runtime');
  const { name: backendName } = await core.ensureBackend(backend === undefined ? undefined : parseWith(core.parseBackendName, backend, '--backend'));
  let loaded: import('@quantnas/search').TrainedNetwork;
  try {
    loaded = await search.loadTrainedNetwork(dir);
  } catch (error) {
    if (error instanceof Error && TRAIN_USER_ERRORS.has(error.name)) throw new UsageError(error.message.split('\n')[0]!);
    throw error;
  }
  const net = loaded.network;
  if (loaded.target.genotype.scale !== scale) {
    net.dispose();
    throw new UsageError(`${dir} trains a x${loaded.target.genotype.scale} model; --scale is ${scale}`);
  }
  const c = search.networkCost(net);
  const { tf } = core;
  // The output becomes bytes by the runtime's rule (round half to even of f32(x·255)), so the
  // checkpoint and its export are measured alike.
  const run = async (rgb: ImageU8): Promise<Uint8Array> => {
    const x = tf.tensor4d(
      Float32Array.from(rgb.data, (u) => Math.fround(u / 255)),
      [1, rgb.height, rgb.width, 3],
    );
    const y = net.apply(x, { training: false });
    const values = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    return Uint8Array.from(values, (v) => {
      const s = roundHalfEven(Math.fround(v * 255));
      return s > 255 ? 255 : s > 0 ? s : 0;
    });
  };
  return {
    model: { name: resolve(dir), upscale: grayAware(run, scale) },
    engine: 'fake-quant',
    backend: backendName,
    cost: { params: c.params, macsPerPixel: c.macsPerPixel, bitops32x32: c.bitops32x32, bitopsPerOutputMegapixel: c.bitopsPerOutputMegapixel },
    dispose: async () => net.dispose(),
  };
}

/** What `quantnas eval --json` prints, and `quantnas run` reads: PSNR to 4 decimals, SSIM to 5. */
export function evaluationJson(result: EvaluationResult, perImage: boolean, loaded: Pick<LoadedModel, 'engine' | 'cost' | 'backend'>) {
  const sets = Object.fromEntries(
    Object.entries(result.sets).map(([name, s]) => [
      name,
      { psnr: round(s.psnr, 4), ssim: round(s.ssim, 5), images: s.images, ...(perImage ? { perImage: s.perImage } : {}) },
    ]),
  );
  const { cost } = loaded;
  return {
    model: result.model,
    scale: result.scale,
    engine: loaded.engine,
    ...(loaded.backend !== undefined ? { backend: loaded.backend } : {}),
    protocol: result.protocol,
    params: cost.params,
    macs_per_pixel: cost.macsPerPixel,
    bitops_32x32: cost.bitops32x32,
    bitops_per_output_mp: cost.bitopsPerOutputMegapixel,
    sets,
  };
}

function toTable(result: EvaluationResult, perImage: boolean, loaded: Pick<LoadedModel, 'engine' | 'cost'>): string {
  const rows: string[][] = [];
  for (const [name, s] of Object.entries(result.sets)) {
    if (perImage) {
      for (const img of s.perImage) rows.push([`  ${name}/${img.image}`, '', img.psnr.toFixed(2), img.ssim.toFixed(4)]);
    }
    rows.push([name, String(s.images), s.psnr.toFixed(2), s.ssim.toFixed(4)]);
  }
  const title = `${result.model} x${result.scale} (${loaded.engine}; Y channel, shave ${result.protocol.shave}, uint8)\n`;
  const { cost } = loaded;
  const costLine =
    cost.params === null
      ? ''
      : `${cost.params} params, ${Math.round(cost.macsPerPixel ?? 0)} MACs per LR pixel, BitOps ${formatG(cost.bitops32x32)} at 32×32 LR, ` +
        `${formatG(cost.bitopsPerOutputMegapixel)} per output megapixel\n`;
  return title + renderTable(['set', 'images', 'PSNR dB', 'SSIM'], rows) + costLine;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function formatG(value: number | null): string {
  if (value === null) return '-';
  return value >= 1e9 ? `${(value / 1e9).toFixed(2)} G` : `${(value / 1e6).toFixed(2)} M`;
}
