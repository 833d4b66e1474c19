import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { openSet, requireSets, resolveDataRoot } from '@quantnas/data';
import { Command } from 'commander';
import { UsageError, type CliIo } from '../io.js';
import { checkOutDirectory, parseOptionalInteger } from '../options.js';
import { renderTable } from '../table.js';

export interface RunCommandOptions {
  preset: string;
  out: string;
  space?: string;
  arch?: string;
  bits?: string;
  channels?: string;
  cells?: string;
  penalty?: string;
  derive?: string;
  pathSampling?: string;
  seed?: string;
  workers?: string;
  sets: string;
  data?: string;
  json?: boolean;
}

/** Builds a fresh `quantnas` program writing to the given io (each stage runs as its own command). */
export type ProgramFactory = (io: CliIo) => Command;

/** One stage's JSON result and wall time. */
interface StageResult {
  readonly seconds: number;
  readonly json: Record<string, unknown>;
}

/** What `quantnas run` writes to DIR/run.json and prints with --json; `quantnas report` reads it. */
export interface RunSummary {
  readonly schemaVersion: 1;
  readonly kind: 'searched' | 'baseline';
  readonly label: string;
  readonly preset: string;
  readonly space: string;
  readonly bits: number | null;
  readonly scale: number;
  readonly genotype: unknown;
  readonly params: number;
  readonly macs_per_pixel: number;
  readonly bitops_32x32: number;
  readonly bitops_per_output_mp: number;
  readonly engine: string;
  readonly sets: Record<string, { psnr: number; ssim: number; bicubic_psnr: number; gain_db: number }>;
  readonly seconds: Record<string, number>;
  readonly paths: Record<string, string>;
}

const PRESETS = ['quick', 'cpu'];
const DEFAULT_SPACE = 'rfdn-bicubic';
const DEFAULT_SETS = 'Set5,Set14,B100';
/** What the search and training stages read (their presets' `trainSets`). */
const TRAINING_SETS = ['T91', 'BSD200'];

export function runCommand(io: CliIo, program: ProgramFactory): Command {
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
        'over --workers replicas (2 by default on a machine with 2 or more cores).\n\nPresets: quick (about 12 min ' +
        'on 2 cores), cpu (about 80 minutes: search 23, training 56).',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--preset <name>', `settings preset of every stage: ${PRESETS.join(', ')}`, 'quick')
    .option('--space <space>', `space to search: a shipped id or a space document (default ${DEFAULT_SPACE})`)
    .option('--arch <space>', 'skip the search; train this fixed architecture (fsrcnn, espcn, rfdn, ...) at --bits')
    .option('--bits <b>', 'with --arch: every block\'s bits (2..8, or 32 for full precision; default 8)')
    .option('--channels <n>', 'with --arch: channel width C (default: the space\'s)')
    .option('--cells <n>', 'with --arch: cell count N (default: the space\'s)')
    .option('--penalty <lambda>', 'BitOps penalty λ of the search (default: the search\'s)')
    .option('--derive <method>', 'how the search reads its genotype off the supernet: alpha, checked or path (default: the search\'s)')
    .option('--path-sampling <when>', 'the search\'s w steps on one drawn path: none, warmup or all (default: the search\'s)')
    .option('--seed <n>', 'seed of every stage (default 1)')
    .option('--workers <n>', 'search and training split each batch over n replicas, n − 1 in worker threads (default: 2 on a machine with 2 or more cores, else 1)')
    .option('--sets <list>', 'benchmark sets to evaluate', DEFAULT_SETS)
    .option('--data <dir>', 'data root (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--json', 'print the summary as one JSON object on stdout')
    .action(async (options: RunCommandOptions) => {
      const summary = await runPipeline(io, program, options);
      if (options.json) io.stdout(JSON.stringify(summary) + '\n');
      else io.stdout(summaryTable(summary));
    });
}

async function runPipeline(io: CliIo, program: ProgramFactory, o: RunCommandOptions): Promise<RunSummary> {
  if (!PRESETS.includes(o.preset)) throw new UsageError(`--preset must be one of ${PRESETS.join(', ')}, got '${o.preset}'`);
  if (o.arch !== undefined && o.space !== undefined) throw new UsageError('--arch and --space exclude each other (--arch trains without a search)');
  if (o.arch === undefined && (o.bits !== undefined || o.channels !== undefined || o.cells !== undefined)) throw new UsageError('--bits, --channels and --cells apply to --arch only');
  if (o.arch !== undefined && (o.penalty !== undefined || o.derive !== undefined || o.pathSampling !== undefined)) throw new UsageError('--penalty, --derive and --path-sampling apply to the search; --arch has none');
  const bits = parseOptionalInteger(o.bits, '--bits', 2) ?? (o.arch !== undefined ? 8 : null);
  if (bits !== null && !(bits <= 8 || bits === 32)) throw new UsageError(`--bits must be 2..8 or 32, got ${bits}`);
  const seed = parseOptionalInteger(o.seed, '--seed', 0);
  // Both stages are mostly one-threaded tfjs-wasm: a second replica is what uses the second core.
  const workers = parseOptionalInteger(o.workers, '--workers', 1) ?? Math.min(2, availableParallelism());
  // Every stage reads the same data root, found once here (and checked before anything is written).
  const dataRoot = resolveDataRoot({ explicit: o.data, env: io.env });
  const setNames = o.sets.split(',').map((name) => name.trim()).filter((name) => name !== '');
  requireSets(dataRoot, [...new Set([...TRAINING_SETS, ...setNames, 'Set5'])]);
  const dir = resolve(o.out);
  checkOutDirectory(dir);
  mkdirSync(dir, { recursive: true });
  const dataArgs = ['--data', dataRoot];
  const common = [...(seed !== undefined ? ['--seed', String(seed)] : []), '--workers', String(workers), ...dataArgs];
  const paths = {
    search: join(dir, 'search'),
    train: join(dir, 'train'),
    model: join(dir, 'model.qnas'),
    sample: join(dir, 'sample-x4.png'),
    summary: join(dir, 'run.json'),
  };
  const fullPrecision = bits === 32;
  const stages = o.arch !== undefined ? 4 : 5;
  let index = 0;
  const stage = async (title: string, argv: string[]): Promise<StageResult> => {
    io.stderr(`quantnas run: [${++index}/${stages}] ${title}\n`);
    let captured = '';
    const stageIo: CliIo = { ...io, stdout: (text) => (captured += text), continueHint: `run \`${rerunCommand(o)}\` again to continue` };
    const started = performance.now();
    await program(stageIo).parseAsync(argv, { from: 'user' });
    const lines = captured.trim().split('\n');
    return { seconds: (performance.now() - started) / 1000, json: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
  };
  // A stage whose directory exists continues it (a finished one is read back).
  const resume = (path: string) => (existsSync(path) ? ['--resume'] : []);

  const seconds: Record<string, number> = {};
  let genotypeArgs: string[];
  let label: string;
  let space: string;
  if (o.arch === undefined) {
    space = o.space ?? DEFAULT_SPACE;
    const search = await stage(`search ${space} (${o.preset})`, [
      'search', '--space', space, '--preset', o.preset, '--out', paths.search, '--json',
      ...(o.penalty !== undefined ? ['--penalty', o.penalty] : []), ...(o.derive !== undefined ? ['--derive', o.derive] : []), ...(o.pathSampling !== undefined ? ['--path-sampling', o.pathSampling] : []), ...common, ...resume(paths.search),
    ]);
    seconds.search = stageSeconds(search);
    genotypeArgs = ['--genotype', join(paths.search, 'genotype.json')];
    label = `${space} searched${o.penalty !== undefined ? ` λ=${o.penalty}` : ''}`;
  } else {
    space = o.arch;
    genotypeArgs = ['--arch', o.arch, '--bits', String(bits), ...(o.channels !== undefined ? ['--channels', o.channels] : []), ...(o.cells !== undefined ? ['--cells', o.cells] : [])];
    label = `${o.arch} ${fullPrecision ? 'fp32' : `${bits}-bit`}`;
  }
  const train = await stage(`train (${o.preset})`, ['train', ...genotypeArgs, '--preset', o.preset, '--out', paths.train, '--json', ...common, ...resume(paths.train)]);
  seconds.train = stageSeconds(train);

  let evalModel = paths.train;
  if (!fullPrecision) {
    const exported = await stage('export', ['export', paths.train, '--out', paths.model, '--force', '--json']);
    seconds.export = exported.seconds;
    evalModel = paths.model;
  }
  const evaluated = await stage(`evaluate on ${o.sets}`, ['eval', '--model', evalModel, '--scale', '4', '--sets', o.sets, '--json', ...dataArgs]);
  seconds.eval = evaluated.seconds;
  const bicubic = await quietEval(program, io, ['eval', '--model', 'bicubic', '--scale', '4', '--sets', o.sets, '--json', ...dataArgs]);
  if (!fullPrecision) {
    const sample = await sampleImage(dataRoot);
    const up = await stage(`upscale ${sample}`, ['upscale', '--model', paths.model, sample, paths.sample, '--json']);
    seconds.upscale = up.seconds;
  }

  const evalSets = evaluated.json.sets as Record<string, { psnr: number; ssim: number }>;
  const bicubicSets = bicubic.sets as Record<string, { psnr: number }>;
  const sets = Object.fromEntries(
    Object.entries(evalSets).map(([name, s]) => {
      const b = bicubicSets[name]!.psnr;
      return [name, { psnr: s.psnr, ssim: s.ssim, bicubic_psnr: b, gain_db: round(s.psnr - b, 4) }];
    }),
  );
  const summary: RunSummary = {
    schemaVersion: 1,
    kind: o.arch === undefined ? 'searched' : 'baseline',
    label,
    preset: o.preset,
    space: String(train.json.space),
    bits,
    scale: 4,
    genotype: train.json.genotype,
    params: Number(evaluated.json.params),
    macs_per_pixel: Number(evaluated.json.macs_per_pixel),
    bitops_32x32: Number(evaluated.json.bitops_32x32),
    bitops_per_output_mp: Number(evaluated.json.bitops_per_output_mp),
    engine: String(evaluated.json.engine),
    sets,
    seconds: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(v, 1)])),
    paths: {
      ...(o.arch === undefined ? { search: paths.search, genotype: join(paths.search, 'genotype.json'), genotype_svg: join(paths.search, 'genotype.svg') } : {}),
      train: paths.train,
      // Absent for a training finished before the curve existed, read back on resume.
      ...(existsSync(join(paths.train, 'curve.svg')) ? { training_curve: join(paths.train, 'curve.svg') } : {}),
      ...(fullPrecision ? {} : { model: paths.model, sample: paths.sample }),
      summary: paths.summary,
    },
  };
  writeFileSync(paths.summary, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** A checkpointed stage's own working time (summed over resumes; a finished stage read back keeps it), else the wall time. */
function stageSeconds(stage: StageResult): number {
  const own = stage.json.seconds;
  return typeof own === 'number' ? own : stage.seconds;
}

async function quietEval(program: ProgramFactory, io: CliIo, argv: string[]): Promise<Record<string, unknown>> {
  let captured = '';
  await program({ ...io, interactive: false, stdout: (text) => (captured += text), stderr: () => {} }).parseAsync(argv, { from: 'user' });
  return JSON.parse(captured.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** The LR x4 file of Set5's first image (sorted by name), the sample every run upscales. */
async function sampleImage(root: string): Promise<string> {
  const set = await openSet(root, 'Set5', { scale: 4 });
  const first = set.pairs[0];
  if (!first?.lrPath) throw new UsageError(`${root}: Set5 has no LR x4 image to upscale`);
  return first.lrPath;
}

/** The `quantnas run` command line that continues this run: the same options, which `run` reads back from DIR. */
export function rerunCommand(o: RunCommandOptions): string {
  const args = ['quantnas', 'run', '--out', o.out, '--preset', o.preset];
  const optional: [string, string | undefined][] = [
    ['--space', o.space], ['--arch', o.arch], ['--bits', o.bits], ['--channels', o.channels], ['--cells', o.cells],
    ['--penalty', o.penalty], ['--seed', o.seed], ['--workers', o.workers], ['--data', o.data],
  ];
  for (const [flag, value] of optional) if (value !== undefined) args.push(flag, value);
  if (o.sets !== DEFAULT_SETS) args.push('--sets', o.sets);
  return args.map(shellWord).join(' ');
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function summaryTable(s: RunSummary): string {
  const rows = Object.entries(s.sets).map(([name, v]) => [name, v.psnr.toFixed(2), v.bicubic_psnr.toFixed(2), `${v.gain_db >= 0 ? '+' : ''}${v.gain_db.toFixed(2)}`, v.ssim.toFixed(4)]);
  const total = Object.values(s.seconds).reduce((a, b) => a + b, 0);
  return (
    `${s.label} (preset ${s.preset}, x${s.scale}, ${s.engine} engine)\n` +
    renderTable(['set', 'PSNR', 'bicubic', 'gain dB', 'SSIM'], rows) +
    `${s.params} params, ${Math.round(s.macs_per_pixel)} MACs per LR pixel, BitOps ${(s.bitops_32x32 / 1e9).toFixed(3)} G at 32×32 LR\n` +
    `time: ${Object.entries(s.seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}; total ${(total / 60).toFixed(1)} min\n` +
    `wrote ${Object.values(s.paths).join(', ')}\n`
  );
}
