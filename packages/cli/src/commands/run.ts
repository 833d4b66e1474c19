import { availableParallelism } from 'node:os';
import { requireSets, resolveDataRoot } from '@quantnas/data';
import { Command } from 'commander';
import { UsageError, type CliIo } from '../io.js';
import { parseOptionalInteger, parseOptionalNumber } from '../options.js';
import { parseLatencyOptions, parseQuantizationChoices } from './search.js';
import { runPipeline, type PipelineOptions, type RunSummary } from '../pipeline.js';
import { renderTable } from '../table.js';

export type { RunSummary } from '../pipeline.js';

export interface RunCommandOptions {
  preset: string;
  out: string;
  space?: string;
  arch?: string;
  bits?: string;
  channels?: string;
  cells?: string;
  penalty?: string;
  mode?: string;
  adq?: string;
  entropy?: string;
  derive?: string;
  pathSampling?: string;
  latencyTable?: string;
  latencyPenalty?: string;
  seed?: string;
  workers?: string;
  sets: string;
  data?: string;
  json?: boolean;
}

const PRESETS = ['smoke', 'quick', 'cpu'];
const DEFAULT_SPACE = 'rfdn-bicubic';
const DEFAULT_SETS = 'Set5,Set14,B100';
/** What the search and training stages read (their presets' `trainSets`). */
const TRAINING_SETS = ['T91', 'BSD200'];

export function runCommand(io: CliIo): Command {
  return new Command('run')
    .summary('the whole pipeline: search → train → export → evaluate → upscale a sample')
    .description(
      'Searches a genotype (quantnas search), trains it with QAT from scratch (quantnas train), exports the ' +
        'integer model to DIR/model.qnas (quantnas export), evaluates it on the integer engine next to bicubic ' +
        '(quantnas eval) and upscales a Set5 image to DIR/sample-x4.png, then prints one summary table and ' +
        'writes DIR/run.json (read by quantnas report).\n\nWith --arch the search is skipped and a fixed ' +
        'architecture is trained at uniform --bits (a baseline); --space fsrcnn (or espcn) searches the bit-widths ' +
        'of a fixed architecture only. A full-precision baseline (--bits 32) is evaluated from its training ' +
        'directory, as it has no integer export.\n\nEvery stage writes under DIR and checkpoints; running the same ' +
        'command again continues where it stopped (Ctrl-C included).\n\nSearch and training split each batch ' +
        'over --workers replicas (2 by default on a machine with 2 or more cores).\n\nPresets: smoke (a few steps ' +
        'of each stage on T91: checks a setup in seconds; its model means nothing), quick (about 12 min ' +
        'on 2 cores), cpu (under 2 hours: search about 17 min, training 55 to 85 depending on the genotype).',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--preset <name>', `settings preset of every stage: ${PRESETS.join(', ')}`, 'quick')
    .option('--space <space>', `space to search: a shipped id or a space document (default ${DEFAULT_SPACE})`)
    .option('--arch <space>', 'skip the search; train this fixed architecture (fsrcnn, espcn, rfdn, ...) at --bits')
    .option(
      '--bits <b>',
      "with --arch: every block's bits (2..8, or 32 for full precision; default 8); else the search's candidate bit-widths, comma-separated (default: the space's)",
    )
    .option(
      '--channels <n>',
      "channel width C of the trained network: with --arch the architecture's (default: the space's); after a search, the width its genotype is trained at, ops and bits kept (default: the searched width): search narrow, train wide",
    )
    .option('--cells <n>', "with --arch: cell count N (default: the space's)")
    .option('--penalty <lambda>', "BitOps penalty λ of the search (default: the search's)")
    .option(
      '--mode <mode>',
      'quantization during the search: noise, direct or fp (a full-precision search whose genotype is then trained at uniform --bits, default 8); default noise',
    )
    .option('--adq <on|off>', 'ADQ on the residual units during the search (default on)')
    .option('--entropy <kind>', "the search's α regulariser: entropy, none, l1-alpha or l1-softmax (default entropy)")
    .option('--derive <method>', "how the search reads its genotype off the supernet: alpha, checked or path (default: the search's)")
    .option('--path-sampling <when>', "the search's w steps on one drawn path: none, warmup or all (default: the search's)")
    .option('--latency-table <file>', "the search's latency table (quantnas bench latency-table), for --latency-penalty")
    .option('--latency-penalty <lambda>', 'latency penalty λ_L of the search, from --latency-table (default 0)')
    .option('--seed <n>', 'seed of every stage (default 1)')
    .option(
      '--workers <n>',
      'search and training split each batch over n replicas, n − 1 in worker threads (default: 2 on a machine with 2 or more cores, else 1)',
    )
    .option('--sets <list>', 'benchmark sets to evaluate', DEFAULT_SETS)
    .option('--data <dir>', 'data root (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(async (options: RunCommandOptions) => {
      const summary = await runPipeline(io, pipelineOptions(io, options));
      if (options.json) io.stdout(JSON.stringify(summary) + '\n');
      else io.stdout(summaryTable(summary));
    });
}

/** The command's options, checked and typed, with the data root found and checked before anything is written. */
function pipelineOptions(io: CliIo, o: RunCommandOptions): PipelineOptions {
  if (!PRESETS.includes(o.preset)) throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}, got '${o.preset}'`);
  if (o.arch !== undefined && o.space !== undefined) throw new UsageError('--arch and --space exclude each other (--arch trains without a search)');
  if (o.arch === undefined && o.cells !== undefined) throw new UsageError('--cells applies to --arch only (a genotype has its cells)');
  const searchOnly = [o.penalty, o.mode, o.adq, o.entropy, o.derive, o.pathSampling, o.latencyTable, o.latencyPenalty];
  if (o.arch !== undefined && searchOnly.some((v) => v !== undefined))
    throw new UsageError('--penalty, --mode, --adq, --entropy, --derive, --path-sampling and --latency-* apply to the search; --arch has none');
  const latency = parseLatencyOptions(o);
  const bits = o.arch !== undefined ? (parseOptionalInteger(o.bits, '--bits', 2) ?? 8) : 8;
  if (!(bits <= 8 || bits === 32)) throw new UsageError(`--bits must be 2..8 or 32, got ${bits}`);
  const choices = o.arch === undefined ? parseQuantizationChoices(o) : {};
  if (choices.mode === 'fp' && choices.bits !== undefined && choices.bits !== null && choices.bits.length !== 1)
    throw new UsageError(`with --mode fp, --bits is the one bit-width the genotype is quantized to afterwards, got '${o.bits}'`);
  const channels = parseOptionalInteger(o.channels, '--channels', 1);
  const cells = parseOptionalInteger(o.cells, '--cells', 1);
  const seed = parseOptionalInteger(o.seed, '--seed', 0);
  // Both stages are mostly one-threaded tfjs-wasm: a second replica is what uses the second core.
  const workers = parseOptionalInteger(o.workers, '--workers', 1) ?? Math.min(2, availableParallelism());
  const penalty = parseOptionalNumber(o.penalty, '--penalty');
  if (o.derive !== undefined && !['alpha', 'checked', 'path'].includes(o.derive))
    throw new UsageError(`--derive must be alpha, checked or path, got '${o.derive}'`);
  if (o.pathSampling !== undefined && !['none', 'warmup', 'all'].includes(o.pathSampling))
    throw new UsageError(`--path-sampling must be none, warmup or all, got '${o.pathSampling}'`);
  // Every stage reads the same data root, found once here (and checked before anything is written).
  const dataRoot = resolveDataRoot({ explicit: o.data, env: io.env });
  const sets = o.sets
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  requireSets(dataRoot, [...new Set([...TRAINING_SETS, ...sets, 'Set5'])]);
  return {
    preset: o.preset as PipelineOptions['preset'],
    out: o.out,
    space: o.arch ?? o.space ?? DEFAULT_SPACE,
    ...(o.arch !== undefined
      ? { arch: { name: o.arch, bits, ...(channels !== undefined ? { channels } : {}), ...(cells !== undefined ? { cells } : {}) } }
      : channels !== undefined
        ? { trainChannels: channels }
        : {}),
    ...(penalty !== undefined ? { penalty } : {}),
    ...(Object.keys(latency).length > 0 ? { latency } : {}),
    ...(Object.keys(choices).length > 0 ? { choices } : {}),
    ...(o.derive !== undefined ? { derive: o.derive as PipelineOptions['derive'] } : {}),
    ...(o.pathSampling !== undefined ? { pathSampling: o.pathSampling as PipelineOptions['pathSampling'] } : {}),
    ...(seed !== undefined ? { seed } : {}),
    workers,
    sets,
    dataRoot,
    continueHint: `run \`${rerunCommand(o)}\` again to continue`,
  };
}

/** The `quantnas run` command line that continues this run: the same options, which `run` reads back from DIR. */
export function rerunCommand(o: RunCommandOptions): string {
  const args = ['quantnas', 'run', '--out', o.out, '--preset', o.preset];
  const optional: [string, string | undefined][] = [
    ['--space', o.space],
    ['--arch', o.arch],
    ['--bits', o.bits],
    ['--channels', o.channels],
    ['--cells', o.cells],
    ['--penalty', o.penalty],
    ['--mode', o.mode],
    ['--adq', o.adq],
    ['--entropy', o.entropy],
    ['--derive', o.derive],
    ['--path-sampling', o.pathSampling],
    ['--latency-table', o.latencyTable],
    ['--latency-penalty', o.latencyPenalty],
    ['--seed', o.seed],
    ['--workers', o.workers],
    ['--data', o.data],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, value);
  if (o.sets !== DEFAULT_SETS) args.push('--sets', o.sets);
  return args.map(shellWord).join(' ');
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function summaryTable(s: RunSummary): string {
  const rows = Object.entries(s.sets).map(([name, v]) => [
    name,
    v.psnr.toFixed(2),
    v.bicubic_psnr.toFixed(2),
    `${v.gain_db >= 0 ? '+' : ''}${v.gain_db.toFixed(2)}`,
    v.ssim.toFixed(4),
  ]);
  const total = Object.values(s.seconds).reduce((a, b) => a + b, 0);
  return (
    `${s.label} (preset ${s.preset}, x${s.scale}, ${s.engine} engine)\n` +
    renderTable(['set', 'PSNR', 'bicubic', 'gain dB', 'SSIM'], rows) +
    `${s.params} params, ${Math.round(s.macs_per_pixel)} MACs per LR pixel, BitOps ${(s.bitops_32x32 / 1e9).toFixed(3)} G at 32×32 LR\n` +
    `time: ${Object.entries(s.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
      .join(', ')}; total ${(total / 60).toFixed(1)} min\n` +
    `wrote ${Object.values(s.paths).join(', ')}\n`
  );
}
