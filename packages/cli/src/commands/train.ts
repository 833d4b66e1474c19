import { resolve } from 'node:path';
import { Command } from 'commander';
import type { TrainEvent, TrainOptions, TrainResult, TrainSummary } from '@quantnas/search';
import { UsageError, type CliIo } from '../io.js';
import { checkOutDirectory, parseKernels, parseOptionalInteger, parseWith } from '../options.js';
import { runWithEpochProgress } from '../checkpointed-run.js';

interface TrainCommandOptions {
  genotype?: string;
  arch?: string;
  bits?: string;
  channels?: string;
  space?: string;
  preset?: string;
  out: string;
  cells?: string;
  adq?: string;
  epochs?: string;
  seed?: string;
  backend?: string;
  workers?: string;
  kernels?: string;
  data?: string;
  resume?: boolean;
  json?: boolean;
}

const PRESETS = ['smoke', 'quick', 'cpu', 'paper'];
// Errors of the training stack that describe the user's input or files: printed as one line.
export const TRAIN_USER_ERRORS = new Set(['TrainError', 'CheckpointError', 'SpecError', 'GenotypeError', 'ExportError']);

export function trainCommand(io: CliIo): Command {
  return new Command('train')
    .summary('train a searched genotype from scratch with quantization-aware training')
    .description(
      'QAT from scratch of a genotype (LSQ weights, HWGQ activations at its bit-widths): L1 on random crops ' +
        '(flips and 90° rotations) of T91 + BSD200 minus a held-out validation split, Adam with a clipped ' +
        'gradient norm, the rate held high and annealed by a cosine at the end (paper preset: 1e-4 annealed ' +
        'over the whole run). Validation PSNR every epoch.\n\nWrites to --out: best.qnc (best validation ' +
        'epoch), checkpoint.qnc (newest), train.jsonl (one event per line), summary.json, genotype.json, ' +
        'space.json, curve.svg (validation PSNR and loss per epoch). Ctrl-C saves a checkpoint; --resume continues to the same result.\n\nThe space and the ' +
        'cell count come from the search directory holding the genotype (its space.json and summary.json), ' +
        'else from --space and --cells, else from the genotype.\n\nPresets: smoke (a few steps, to check a setup in seconds), quick (about 8 minutes with --workers 2 on 2 cores), ' +
        'cpu (55 to 85 min with --workers 2 for its 2-cell search results), paper (the reference settings; for a fast backend).',
    )
    .option('--genotype <file>', 'genotype JSON (e.g. genotype.json of a search); optional with --resume')
    .option(
      '--arch <space>',
      "train a fixed architecture instead of a genotype: fsrcnn, espcn, rfdn (RFDN's own ops), rfdn-bicubic, or a space document (its baseline ops)",
    )
    .option('--bits <b>', "with --arch: every block's bits, 2..8, or 32 for full precision (default 8)")
    .option(
      '--channels <n>',
      "channel width C: with --arch the architecture's (default: the space's); with --genotype the width it is trained at, its ops and bits kept (default: the genotype's, e.g. search narrow, train wide)",
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--space <space>', 'search space: rfdn, basic or the path of a space document (default: from the genotype)')
    .option('--preset <name>', `settings preset: ${PRESETS.join(', ')} (default quick)`)
    .option('--cells <n>', "cell count of the network (default: the search's)")
    .option('--adq <on|off>', "ADQ on the residual units (default: the search's, else on)")
    .option('--epochs <n>', "training epochs (default: the preset's)")
    .option('--seed <n>', 'seed of everything random (default 1)')
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow (default wasm)')
    .option('--workers <n>', 'split each batch over n replicas of the network, n − 1 of them in worker threads (default 1; 2 on a 2-core machine)')
    .option('--kernels <path>', 'quantizer and optimiser kernels: fused (one kernel each, default) or reference (composed tfjs ops, for comparison)')
    .option('--data <dir>', 'data root holding T91 and BSD200 (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--resume', 'continue the run in --out from its last good checkpoint')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(async (options: TrainCommandOptions) => {
      const search = await import('@quantnas/search');
      const core = await import('@quantnas/core-ops');
      const trainOptions = { ...parseOptions(options, core.parseBackendName, io), ...(await baselineOptions(options, search)) };
      checkOutDirectory(resolve(options.out));
      const result = await trainWithProgress(io, trainOptions, { title: 'train', json: Boolean(options.json) });
      const json = {
        completed: true,
        space: result.space,
        genotype: result.genotype,
        cells: result.cells,
        adq: result.adq,
        best_validation_psnr: result.bestValidationPsnr,
        best_epoch: result.bestEpoch,
        last_validation_psnr: result.lastValidationPsnr,
        params: result.cost.params,
        macs_per_pixel: result.cost.macsPerPixel,
        bitops_32x32: result.cost.bitops32x32,
        bitops_per_output_mp: result.cost.bitopsPerOutputMegapixel,
        steps: result.steps,
        seconds: result.seconds,
        backend: result.backend,
        paths: { best: result.files.best, checkpoint: result.files.checkpoint, events: result.files.events, summary: result.files.summary },
      };
      if (options.json) {
        io.stdout(JSON.stringify(json) + '\n');
        return;
      }
      io.stdout(
        `train ${result.space} (${result.cells} cell${result.cells === 1 ? '' : 's'}, ADQ ${result.adq ? 'on' : 'off'}, preset ${result.config.preset}, seed ${result.config.seed}) on ${result.backend}: ` +
          `${result.steps} steps in ${result.seconds.toFixed(0)} s\n` +
          `best validation PSNR ${result.bestValidationPsnr.toFixed(2)} dB (epoch ${result.bestEpoch}); last ${result.lastValidationPsnr.toFixed(2)} dB\n` +
          `${result.cost.params} params, ${Math.round(result.cost.macsPerPixel)} MACs per LR pixel, BitOps ${formatG(result.cost.bitops32x32)} at 32×32 LR, ` +
          `${formatG(result.cost.bitopsPerOutputMegapixel)} per output megapixel\n` +
          `wrote ${result.files.best}, ${result.files.summary}; export with: quantnas export ${resolve(options.out)} --out MODEL.qnas\n`,
      );
    });
}

function parseOptions(o: TrainCommandOptions, parseBackendName: (name: string) => unknown, io: CliIo): TrainOptions {
  if (o.genotype === undefined && o.arch === undefined && !o.resume)
    throw new UsageError('--genotype <file> or --arch <space> is required (except with --resume)');
  if (o.genotype !== undefined && o.arch !== undefined) throw new UsageError('--genotype and --arch exclude each other');
  if (o.arch === undefined && o.bits !== undefined) throw new UsageError('--bits applies to --arch only');
  if (o.preset !== undefined && !PRESETS.includes(o.preset)) throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}, got '${o.preset}'`);
  if (o.adq !== undefined && o.adq !== 'on' && o.adq !== 'off') throw new UsageError(`--adq must be on or off, got '${o.adq}'`);
  const backend = o.backend === undefined ? undefined : (parseWith(parseBackendName, o.backend, '--backend') as TrainOptions['backend']);
  const seed = parseOptionalInteger(o.seed, '--seed', 0);
  const epochs = parseOptionalInteger(o.epochs, '--epochs', 1);
  const cells = parseOptionalInteger(o.cells, '--cells', 1);
  const workers = parseOptionalInteger(o.workers, '--workers', 1);
  const channels = o.arch === undefined ? parseOptionalInteger(o.channels, '--channels', 1) : undefined;
  const dataRoot = o.data ?? io.env.QUANTNAS_DATA;
  return {
    out: resolve(o.out),
    ...(o.genotype !== undefined ? { genotype: resolve(o.genotype) } : {}),
    ...(o.space !== undefined ? { space: o.space } : {}),
    ...(o.preset !== undefined ? { preset: o.preset as TrainOptions['preset'] } : {}),
    ...(cells !== undefined ? { cells } : {}),
    ...(channels !== undefined ? { channels } : {}),
    ...(o.adq !== undefined ? { adq: o.adq === 'on' } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(epochs !== undefined ? { epochs } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(o.kernels !== undefined ? { kernels: parseKernels(o.kernels) } : {}),
    ...(dataRoot !== undefined ? { dataRoot } : {}),
    ...(o.resume ? { resume: true } : {}),
  };
}

/** With --arch: the fixed architecture's genotype and space, restricted to --bits. */
export async function baselineOptions(
  o: Pick<TrainCommandOptions, 'arch' | 'bits' | 'channels' | 'cells'>,
  search: typeof import('@quantnas/search'),
): Promise<Partial<TrainOptions>> {
  if (o.arch === undefined) return {};
  const bits = parseOptionalInteger(o.bits, '--bits', 2) ?? 8;
  if (!(bits <= 8 || bits === 32)) throw new UsageError(`--bits must be 2..8 or 32, got ${bits}`);
  const channels = parseOptionalInteger(o.channels, '--channels', 1);
  const cells = parseOptionalInteger(o.cells, '--cells', 1);
  try {
    return await search.resolveBaselineTarget({
      arch: o.arch,
      bits: bits as import('@quantnas/search').BitWidth,
      ...(channels !== undefined ? { channels } : {}),
      ...(cells !== undefined ? { cells } : {}),
    });
  } catch (error) {
    if (error instanceof Error && TRAIN_USER_ERRORS.has(error.name)) throw new UsageError(error.message);
    throw error;
  }
}

function formatG(value: number): string {
  return value >= 1e9 ? `${(value / 1e9).toFixed(2)} G` : `${(value / 1e6).toFixed(2)} M`;
}

/**
 * A training run with a progress bar on stderr and Ctrl-C as a clean stop (a checkpoint, then a
 * one-line hint); `quantnas train` and `quantnas run` both run it. Returns the finished run's summary.
 */
export async function trainWithProgress(io: CliIo, options: TrainOptions, how: { readonly title: string; readonly json: boolean }): Promise<TrainSummary> {
  const search = await import('@quantnas/search');
  return runWithEpochProgress<TrainEvent, TrainResult>(
    io,
    { ...how, userErrors: TRAIN_USER_ERRORS },
    (e) => `L1 loss ${e.loss.toFixed(4)}`,
    (hooks) => search.runTraining(options, hooks),
  );
}
