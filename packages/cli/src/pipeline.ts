import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openSet, writeFileAtomicSync, writeOutputFile } from '@quantnas/data';
import type { SearchOptions, TrainOptions } from '@quantnas/search';
import { evaluateWithProgress, evaluationJson } from './commands/eval.js';
import { exportTraining } from './commands/export.js';
import { searchWithProgress, withDocumentShape } from './commands/search.js';
import { baselineOptions, TRAIN_USER_ERRORS, trainWithProgress } from './commands/train.js';
import { upscaleFile } from './commands/upscale.js';
import { UsageError, type CliIo } from './io.js';
import { checkOutDirectory } from './options.js';
import { software, type Software } from './software.js';

/** What `quantnas run` runs: checked and typed by the command, which owns the parsing. */
export interface PipelineOptions {
  readonly preset: 'smoke' | 'quick' | 'cpu';
  readonly out: string;
  /** The space to search; without `arch` only. */
  readonly space: string;
  /** A fixed architecture trained at uniform `bits` instead of a search (a baseline). */
  readonly arch?: { readonly name: string; readonly bits: number; readonly channels?: number; readonly cells?: number };
  /** Without `arch`: the channel width the searched genotype is trained at, where not the search's. */
  readonly trainChannels?: number;
  readonly penalty?: number;
  /** The search's latency table and penalty, where given. */
  readonly latency?: Pick<SearchOptions, 'latencyTable' | 'latencyPenalty'>;
  /**
   * The search's quantization mode, ADQ, α regulariser and candidate bit-widths, where not the
   * defaults. In `fp` mode `bits` holds the one bit-width every block is quantized to after the
   * search (default 8).
   */
  readonly choices?: Pick<SearchOptions, 'mode' | 'adq' | 'entropy' | 'bits'>;
  readonly derive?: SearchOptions['derive'];
  readonly pathSampling?: SearchOptions['pathSampling'];
  readonly seed?: number;
  readonly workers: number;
  readonly sets: readonly string[];
  /** The data root every stage reads, already checked for the sets they need. */
  readonly dataRoot: string;
  /** Said when a stage stops on Ctrl-C: the command that continues the run. */
  readonly continueHint: string;
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
  /** Absent in runs written before it was recorded. */
  readonly software?: Software;
}

const SCALE = 4;

/**
 * The whole pipeline in DIR: search (or a fixed architecture), QAT training, export, evaluation
 * next to bicubic, a Set5 sample upscaled; each stage with its progress, each checkpointed stage
 * continued when its folder exists. Returns the summary it writes to DIR/run.json.
 */
export async function runPipeline(io: CliIo, o: PipelineOptions): Promise<RunSummary> {
  // A width the space's candidates cannot take would fail only after the search: refused first.
  if (o.arch === undefined && o.trainChannels !== undefined) {
    const search = await import('@quantnas/search');
    try {
      await search.checkTrainWidth(o.space, o.trainChannels);
    } catch (error) {
      if (error instanceof Error && TRAIN_USER_ERRORS.has(error.name)) throw new UsageError(error.message);
      throw error;
    }
  }
  const dir = resolve(o.out);
  checkOutDirectory(dir);
  mkdirSync(dir, { recursive: true });
  const paths = {
    search: join(dir, 'search'),
    train: join(dir, 'train'),
    model: join(dir, 'model.qnas'),
    sample: join(dir, 'sample-x4.png'),
    summary: join(dir, 'run.json'),
  };
  const fullPrecision = o.arch?.bits === 32;
  const stages = o.arch !== undefined ? 4 : 5;
  let index = 0;
  // The checkpointed stages report a stop in one line that names the command that continues the run.
  const stageIo: CliIo = { ...io, stdout: () => {}, continueHint: o.continueHint };
  const stage = async <T>(title: string, work: () => Promise<T>): Promise<{ value: T; seconds: number }> => {
    io.stderr(`quantnas run: [${++index}/${stages}] ${title}\n`);
    const started = performance.now();
    const value = await work();
    return { value, seconds: (performance.now() - started) / 1000 };
  };
  // A stage whose directory exists continues it (a finished one is read back).
  const resume = (path: string) => (existsSync(path) ? { resume: true } : {});
  const common = { ...(o.seed !== undefined ? { seed: o.seed } : {}), workers: o.workers, dataRoot: o.dataRoot, preset: o.preset };

  const seconds: Record<string, number> = {};
  let target: Partial<TrainOptions>;
  if (o.arch === undefined) {
    // A full-precision search has op@32 candidates only; its bits are those of the training after it.
    const fpBits = o.choices?.mode === 'fp' ? (o.choices.bits?.[0] ?? 8) : undefined;
    const { bits: candidateBits, ...rest } = o.choices ?? {};
    const searchChoices = fpBits === undefined && candidateBits !== undefined ? { ...rest, bits: candidateBits } : rest;
    const searchOptions = await withDocumentShape({
      space: o.space,
      out: paths.search,
      ...common,
      ...(o.penalty !== undefined ? { penalty: o.penalty } : {}),
      ...o.latency,
      ...searchChoices,
      ...(o.derive !== undefined ? { derive: o.derive } : {}),
      ...(o.pathSampling !== undefined ? { pathSampling: o.pathSampling } : {}),
      ...resume(paths.search),
    });
    checkOutDirectory(paths.search);
    // Its own working time, summed over resumes (a finished search read back keeps it).
    seconds.search = (
      await stage(`search ${o.space} (${o.preset})`, () => searchWithProgress(stageIo, searchOptions, { title: `search ${o.space}`, json: true }))
    ).value.seconds;
    target = {
      genotype: fpBits === undefined ? join(paths.search, 'genotype.json') : quantizedGenotype(paths.search, dir, fpBits),
      ...(o.trainChannels !== undefined ? { channels: o.trainChannels } : {}),
    };
  } else {
    const { name, bits, channels, cells } = o.arch;
    target = {
      ...(cells !== undefined ? { cells } : {}),
      ...(await baselineOptions(
        {
          arch: name,
          bits: String(bits),
          ...(channels !== undefined ? { channels: String(channels) } : {}),
          ...(cells !== undefined ? { cells: String(cells) } : {}),
        },
        await import('@quantnas/search'),
      )),
    };
  }
  checkOutDirectory(paths.train);
  const trained = (
    await stage(`train (${o.preset})`, () =>
      trainWithProgress(stageIo, { out: paths.train, ...common, ...target, ...resume(paths.train) }, { title: 'train', json: true }),
    )
  ).value;
  seconds.train = trained.seconds;

  let evalModel = paths.train;
  if (!fullPrecision) {
    const exported = await stage('export', async () => {
      const { bytes } = await exportTraining(paths.train, { checkpoint: 'best' });
      await writeOutputFile(paths.model, bytes, { force: true });
    });
    seconds.export = exported.seconds;
    evalModel = paths.model;
  }
  const setList = o.sets.join(',');
  const evaluated = await stage(`evaluate on ${setList}`, () => evaluateWithProgress(io, { model: evalModel, scale: SCALE, sets: o.sets, root: o.dataRoot }));
  seconds.eval = evaluated.seconds;
  const evaluation = evaluationJson(evaluated.value.result, false, evaluated.value.loaded);
  const bicubicRun = await evaluateWithProgress(io, { model: 'bicubic', scale: SCALE, sets: o.sets, root: o.dataRoot, quiet: true });
  const bicubic = evaluationJson(bicubicRun.result, false, bicubicRun.loaded);
  if (!fullPrecision) {
    const sample = await sampleImage(o.dataRoot);
    const up = await stage(`upscale ${sample}`, () =>
      upscaleFile(stageIo, sample, paths.sample, { model: paths.model, engine: 'int8', threads: '1', tile: '128', force: true }),
    );
    seconds.upscale = up.seconds;
  }

  const sets = Object.fromEntries(
    Object.entries(evaluation.sets).map(([name, s]) => {
      const b = bicubic.sets[name]!.psnr;
      return [name, { psnr: s.psnr, ssim: s.ssim, bicubic_psnr: b, gain_db: round(s.psnr - b, 4) }];
    }),
  );
  const summary: RunSummary = {
    schemaVersion: 1,
    kind: o.arch === undefined ? 'searched' : 'baseline',
    label:
      o.arch === undefined
        ? `${o.space} searched${o.penalty !== undefined ? ` λ=${o.penalty}` : ''}${o.latency?.latencyPenalty ? ` latency λ=${o.latency.latencyPenalty}` : ''}${choicesLabel(o.choices, o.trainChannels)}`
        : `${o.arch.name} ${fullPrecision ? 'fp32' : `${o.arch.bits}-bit`}`,
    preset: o.preset,
    space: trained.space,
    bits: o.arch?.bits ?? null,
    scale: SCALE,
    genotype: trained.genotype,
    params: Number(evaluation.params),
    macs_per_pixel: Number(evaluation.macs_per_pixel),
    bitops_32x32: Number(evaluation.bitops_32x32),
    bitops_per_output_mp: Number(evaluation.bitops_per_output_mp),
    engine: String(evaluation.engine),
    sets,
    seconds: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(v, 1)])),
    software: software(),
    paths: {
      ...(o.arch === undefined
        ? { search: paths.search, genotype: join(paths.search, 'genotype.json'), genotype_svg: join(paths.search, 'genotype.svg') }
        : {}),
      train: paths.train,
      // Absent for a training finished before the curve existed, read back on resume.
      ...(existsSync(join(paths.train, 'curve.svg')) ? { training_curve: join(paths.train, 'curve.svg') } : {}),
      ...(fullPrecision ? {} : { model: paths.model, sample: paths.sample }),
      summary: paths.summary,
    },
  };
  writeFileAtomicSync(paths.summary, JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The full-precision search's genotype with every block at `bits`, written to DIR/genotype-quantized.json; its path. */
function quantizedGenotype(searchDir: string, dir: string, bits: number): string {
  const genotype = JSON.parse(readFileSync(join(searchDir, 'genotype.json'), 'utf8')) as { blocks: Record<string, { op: string; bits: number }> };
  for (const choice of Object.values(genotype.blocks)) choice.bits = bits;
  const path = join(dir, 'genotype-quantized.json');
  writeFileAtomicSync(path, JSON.stringify(genotype, null, 2) + '\n');
  return path;
}

/** The search choices that differ from the defaults and a training width, as a label's tail: ` (direct, ADQ off, bits 8, trained at C 24)`. */
function choicesLabel(c: PipelineOptions['choices'] = {}, trainChannels?: number): string {
  const parts = [
    ...(c.mode !== undefined && c.mode !== 'noise' ? [c.mode] : []),
    ...(c.adq === false ? ['ADQ off'] : []),
    ...(c.entropy !== undefined && c.entropy !== 'entropy' ? [`entropy ${c.entropy}`] : []),
    ...(c.mode === 'fp' ? [`quantized to ${c.bits?.[0] ?? 8} bits`] : c.bits !== undefined && c.bits !== null ? [`bits ${c.bits.join(',')}`] : []),
    ...(trainChannels !== undefined ? [`trained at C ${trainChannels}`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The LR x4 file of Set5's first image (sorted by name), the sample every run upscales. */
async function sampleImage(root: string): Promise<string> {
  const set = await openSet(root, 'Set5', { scale: SCALE });
  const first = set.pairs[0];
  if (!first?.lrPath) throw new UsageError(`${root}: Set5 has no LR x4 image to upscale`);
  return first.lrPath;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
