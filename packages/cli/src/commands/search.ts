import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { SearchEvent, SearchOptions, SearchResult, SearchSummary } from '@quantnas/search';
import { UsageError, type CliIo } from '../io.js';
import { checkOutDirectory, parseKernels, parseOptionalInteger, parseOptionalNumber, parseWith } from '../options.js';
import { runWithEpochProgress } from '../checkpointed-run.js';

interface SearchCommandOptions {
  space: string;
  preset?: string;
  out: string;
  penalty?: string;
  mode?: string;
  adq?: string;
  bits?: string;
  seed?: string;
  backend?: string;
  epochs?: string;
  selector?: string;
  entropy?: string;
  data?: string;
  resume?: boolean;
  json?: boolean;
  workers?: string;
  kernels?: string;
  derive?: string;
  pathSampling?: string;
  entropyWeight?: string;
  alphaLr?: string;
  warmupEpochs?: string;
  latencyTable?: string;
  latencyPenalty?: string;
}

const PRESETS = ['smoke', 'quick', 'cpu', 'paper'];
const MODES = ['noise', 'direct', 'fp'];
const ENTROPY_KINDS: readonly string[] = ['entropy', 'none', 'l1-alpha', 'l1-softmax'];
// Errors of the search stack that describe the user's input or files: printed as one line.
const USER_ERRORS = new Set(['SearchError', 'CheckpointError', 'SpecError', 'GenotypeError']);

export function searchCommand(io: CliIo): Command {
  return new Command('search')
    .summary('search a quantized SR architecture (docs/method.md: QuantNAS)')
    .description(
      'Alternating first-order differentiable search over (operation, bit-width) pairs: an α step on one ' +
        'image split (L1 + scheduled entropy + λ·BitOps/BitOps at start), then a weight step on another ' +
        '(L1), with quantization noise (or direct quantization) and ADQ. Validation PSNR on a third split ' +
        'every epoch.\n\nWrites to --out: genotype.json (last epoch), genotype-best.json (best validation ' +
        'epoch), genotype.svg, search.jsonl (one event per line), summary.json, checkpoint.qnc. Ctrl-C ' +
        'saves a checkpoint; --resume continues a stopped or killed run to the same result.\n\nPresets: ' +
        'smoke (a few steps, to check a setup in seconds), quick (about 10 min on 2 cores), cpu (about 40 min), paper (the reference: C = 48, 4 cells, 20 ' +
        'epochs, batch 32 of 45×45; for a fast backend).',
    )
    .requiredOption('--space <space>', 'search space: rfdn, basic or the path of a space document (JSON)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--preset <name>', `settings preset: ${PRESETS.join(', ')} (default quick)`)
    .option('--penalty <λ>', 'weight λ of the BitOps penalty λ·B(α)/B(α₀) (default 0)')
    .option('--mode <mode>', 'quantization during the search: noise, direct or fp (default noise)')
    .option('--adq <on|off>', 'ADQ on the residual units (default on)')
    .option('--bits <list>', "candidate bit-widths, comma-separated, from 2..8 and 32 (default: the space's)")
    .option('--seed <n>', 'seed of everything random (default 1)')
    .option('--epochs <n>', "search epochs (default: the preset's; the α warm-up keeps the preset's fraction)")
    .option('--selector <name>', 'softmax or gumbel (default softmax)')
    .option('--entropy <kind>', 'α regulariser: entropy, none, l1-alpha or l1-softmax (default entropy)')
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow (default wasm)')
    .option('--workers <n>', 'split each batch over n replicas of the supernet, n − 1 of them in worker threads (default 1; 2 on a 2-core machine)')
    .option('--kernels <path>', 'quantizer and optimiser kernels: fused (one kernel each, default) or reference (composed tfjs ops, for comparison)')
    .option(
      '--derive <method>',
      'how the genotype is read off the supernet: alpha (arg-max of α), checked (the arg-max unless a uniform-bit baseline of the space scores better on the validation split) or path (a descent over paths scored so, from the best of those); default alpha',
    )
    .option(
      '--path-sampling <when>',
      "w steps that train one uniformly drawn path instead of the α-weighted mixture: none, warmup (the α warm-up's) or all (default: the preset's, all for quick, none for cpu and paper)",
    )
    .option('--entropy-weight <w>', "weight λ_H of the scheduled entropy term (default: the preset's)")
    .option('--alpha-lr <rate>', "Adam rate of α (default: the preset's)")
    .option('--warmup-epochs <n>', "epochs that train the weights only before α moves (default: the preset's)")
    .option(
      '--latency-table <file>',
      "a latency table of this space at the search's width and cells (quantnas bench latency-table): per candidate pair, the integer engine's time",
    )
    .option(
      '--latency-penalty <λ>',
      'weight λ_L of the latency penalty λ_L·L(α)/L(α₀), L the expected time of the blocks under α from --latency-table; alone or with --penalty (default 0)',
    )
    .option('--data <dir>', 'data root holding T91 and BSD200 (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--resume', 'continue the run in --out from its last good checkpoint')
    .option('--json', 'print one JSON object on stdout at the end')
    .action(async (options: SearchCommandOptions) => {
      const core = await import('@quantnas/core-ops');
      const parsed = parseOptions(options, core.parseBackendName);
      checkOutDirectory(resolve(options.out));
      const searchOptions = await withDocumentShape(parsed);
      const result = await searchWithProgress(io, searchOptions, { title: `search ${options.space}`, json: Boolean(options.json) });
      const json = {
        completed: true,
        space: result.space,
        genotype: result.last.genotype,
        bitops_32x32: result.last.exactBitops,
        expected_bitops_32x32: result.last.expectedBitops,
        macs_per_pixel: result.macsPerPixel,
        params: result.params,
        validation_psnr: result.last.validationPsnr,
        best: {
          epoch: result.best.epoch,
          genotype: result.best.genotype,
          bitops_32x32: result.best.exactBitops,
          validation_psnr: result.best.validationPsnr,
        },
        steps: result.steps,
        seconds: result.seconds,
        backend: result.backend,
        paths: {
          genotype: result.files.genotype,
          genotype_best: result.files.genotypeBest,
          svg: result.files.svg,
          events: result.files.events,
          summary: result.files.summary,
        },
      };
      if (options.json) {
        io.stdout(JSON.stringify(json) + '\n');
        return;
      }
      const blocks = Object.entries(result.last.genotype.blocks).map(([name, c]) => `  ${name}: ${c.op} @ ${c.bits} bit`);
      io.stdout(
        `search ${result.space} (${result.config.mode}, λ = ${result.config.penalty}${result.config.latencyPenalty > 0 ? `, latency λ_L = ${result.config.latencyPenalty}` : ''}, seed ${result.config.seed}) on ${result.backend}: ` +
          `${result.steps} steps in ${result.seconds.toFixed(0)} s\n` +
          `genotype (epoch ${result.last.epoch}, validation ${result.last.validationPsnr.toFixed(2)} dB):\n${blocks.join('\n')}\n` +
          `BitOps at 32×32 LR: ${formatG(result.last.exactBitops)} (expected ${formatG(result.last.expectedBitops)}), ` +
          `${Math.round(result.macsPerPixel)} MACs per LR pixel\n` +
          `best validation: epoch ${result.best.epoch}, ${result.best.validationPsnr.toFixed(2)} dB, ${formatG(result.best.exactBitops)} BitOps\n` +
          `wrote ${result.files.genotype}, ${result.files.genotypeBest}, ${result.files.svg}, ${result.files.summary}\n`,
      );
    });
}

function parseOptions(o: SearchCommandOptions, parseBackendName: (name: string) => unknown): SearchOptions {
  if (o.preset !== undefined && !PRESETS.includes(o.preset)) throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}, got '${o.preset}'`);
  if (o.selector !== undefined && o.selector !== 'softmax' && o.selector !== 'gumbel') {
    throw new UsageError(`--selector must be softmax or gumbel, got '${o.selector}'`);
  }
  const penalty = parseOptionalNumber(o.penalty, '--penalty');
  const backend = o.backend === undefined ? undefined : (parseWith(parseBackendName, o.backend, '--backend') as SearchOptions['backend']);
  const seed = parseOptionalInteger(o.seed, '--seed', 0);
  const epochs = parseOptionalInteger(o.epochs, '--epochs', 1);
  const workers = parseOptionalInteger(o.workers, '--workers', 1);
  const warmupEpochs = parseOptionalInteger(o.warmupEpochs, '--warmup-epochs', 0);
  if (o.derive !== undefined && !['alpha', 'checked', 'path'].includes(o.derive))
    throw new UsageError(`--derive must be alpha, checked or path, got '${o.derive}'`);
  if (o.pathSampling !== undefined && !['none', 'warmup', 'all'].includes(o.pathSampling))
    throw new UsageError(`--path-sampling must be none, warmup or all, got '${o.pathSampling}'`);
  const entropyWeight = parseOptionalNumber(o.entropyWeight, '--entropy-weight');
  const alphaLr = parseOptionalNumber(o.alphaLr, '--alpha-lr');
  return {
    space: o.space,
    out: resolve(o.out),
    ...(o.preset !== undefined ? { preset: o.preset as SearchOptions['preset'] } : {}),
    ...(penalty !== undefined ? { penalty } : {}),
    ...parseQuantizationChoices(o),
    ...(seed !== undefined ? { seed } : {}),
    ...(epochs !== undefined ? { epochs } : {}),
    ...(o.selector !== undefined ? { selector: o.selector as SearchOptions['selector'] } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(o.data !== undefined ? { dataRoot: o.data } : {}),
    ...(o.resume ? { resume: true } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(o.kernels !== undefined ? { kernels: parseKernels(o.kernels) } : {}),
    ...(o.derive !== undefined ? { derive: o.derive as SearchOptions['derive'] } : {}),
    ...(o.pathSampling !== undefined ? { pathSampling: o.pathSampling as SearchOptions['pathSampling'] } : {}),
    ...(entropyWeight !== undefined ? { entropyWeight } : {}),
    ...(alphaLr !== undefined ? { alphaLr } : {}),
    ...(warmupEpochs !== undefined ? { warmupEpochs } : {}),
    ...parseLatencyOptions(o),
  };
}

/** --latency-table and --latency-penalty, as `quantnas search` and `quantnas run` take them: the table read and parsed as JSON (the search checks it). */
export function parseLatencyOptions(o: {
  readonly latencyTable?: string | undefined;
  readonly latencyPenalty?: string | undefined;
}): Pick<SearchOptions, 'latencyTable' | 'latencyPenalty'> {
  const latencyPenalty = parseOptionalNumber(o.latencyPenalty, '--latency-penalty');
  if (latencyPenalty !== undefined && latencyPenalty > 0 && o.latencyTable === undefined)
    throw new UsageError('--latency-penalty needs --latency-table (measure one with quantnas bench latency-table)');
  let latencyTable: SearchOptions['latencyTable'];
  if (o.latencyTable !== undefined) {
    try {
      latencyTable = JSON.parse(readFileSync(o.latencyTable, 'utf8')) as SearchOptions['latencyTable'];
    } catch (error) {
      throw new UsageError(`--latency-table ${o.latencyTable}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { ...(latencyTable !== undefined ? { latencyTable } : {}), ...(latencyPenalty !== undefined ? { latencyPenalty } : {}) };
}

/** The search's quantization and regularisation choices, as `quantnas search` and `quantnas run` take them. */
export function parseQuantizationChoices(o: {
  readonly mode?: string | undefined;
  readonly adq?: string | undefined;
  readonly entropy?: string | undefined;
  readonly bits?: string | undefined;
}): Pick<SearchOptions, 'mode' | 'adq' | 'entropy' | 'bits'> {
  if (o.mode !== undefined && !MODES.includes(o.mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, got '${o.mode}'`);
  if (o.adq !== undefined && o.adq !== 'on' && o.adq !== 'off') throw new UsageError(`--adq must be on or off, got '${o.adq}'`);
  if (o.entropy !== undefined && !ENTROPY_KINDS.includes(o.entropy))
    throw new UsageError(`--entropy must be one of ${ENTROPY_KINDS.join(', ')}, got '${o.entropy}'`);
  let bits: number[] | undefined;
  if (o.bits !== undefined) {
    bits = o.bits
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(Number);
    const allowed = [2, 3, 4, 5, 6, 7, 8, 32];
    if (bits.length === 0 || bits.some((b) => !allowed.includes(b))) throw new UsageError(`--bits must list bit-widths from 2..8 and 32, got '${o.bits}'`);
    if (new Set(bits).size !== bits.length) throw new UsageError(`--bits lists a bit-width twice: '${o.bits}'`);
  }
  return {
    ...(o.mode !== undefined ? { mode: o.mode as SearchOptions['mode'] } : {}),
    ...(o.adq !== undefined ? { adq: o.adq === 'on' } : {}),
    ...(o.entropy !== undefined ? { entropy: o.entropy as SearchOptions['entropy'] } : {}),
    ...(bits ? { bits: bits as SearchOptions['bits'] } : {}),
  };
}

function formatG(value: number): string {
  return value >= 1e9 ? `${(value / 1e9).toFixed(2)} G` : `${(value / 1e6).toFixed(2)} M`;
}

/**
 * A search with a progress bar on stderr and Ctrl-C as a clean stop (a checkpoint, then a one-line
 * hint); `quantnas search` and `quantnas run` both run it. Returns the finished search's summary.
 */
export async function searchWithProgress(io: CliIo, options: SearchOptions, how: { readonly title: string; readonly json: boolean }): Promise<SearchSummary> {
  const search = await import('@quantnas/search');
  return runWithEpochProgress<SearchEvent, SearchResult>(
    io,
    { ...how, userErrors: USER_ERRORS },
    (e) => `weight loss ${e.wLoss.toFixed(4)}`,
    (hooks) => search.runSearch(options, hooks),
  );
}

/** A user's space document is searched at the width, scale and cells it states; a preset sizes only the shipped spaces. */
export async function withDocumentShape(options: SearchOptions): Promise<SearchOptions> {
  const search = await import('@quantnas/search');
  try {
    return { ...options, ...(await search.spaceDocumentShape(options.space as string)) };
  } catch (error) {
    if (error instanceof Error && USER_ERRORS.has(error.name)) throw new UsageError(error.message.split('\n')[0]!);
    throw error;
  }
}
