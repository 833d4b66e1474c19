import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { DataError, resolveDataRoot, writeOutputFile } from '@quantnas/data';
import { evaluate, standardProtocol, type EvaluationResult } from '@quantnas/metrics';
import type { CardSetResult, CardTraining, ModelCard } from '@quantnas/models';
import { UsageError, type CliIo } from '../io.js';
import { loadModelFile } from '../model-file.js';
import { checkOutDirectory, parseSetList } from '../options.js';
import { createProgress } from '../progress.js';
import { renderTable } from '../table.js';
import { loadModel, type LoadedModel } from './eval.js';

/** The space `quantnas run` searches without --space. */
const RUN_DEFAULT_SPACE = 'rfdn-bicubic';
/** How `quantnas search` derives its genotype without --derive. */
const DEFAULT_DERIVE = 'alpha';

interface CardOptions {
  model: string;
  run: string;
  out: string;
  name?: string;
  sets: string;
  data?: string;
  force?: boolean;
  json?: boolean;
}

export function cardCommand(io: CliIo): Command {
  return new Command('card')
    .summary('write the model card of an exported model: card.json and card.md, measured, not typed')
    .description(
      'Evaluates an exported model (.qnas) with the integer engine on the benchmark sets (PSNR and SSIM as ' +
        '`quantnas eval --engine int8` measures them, next to bicubic), reads its params, MACs, BitOps and ' +
        'genotype from its header, and how it was made from the `quantnas run` directory that produced it ' +
        '(run.json, search/summary.json, train/summary.json): the command that reproduces it, its seed, ' +
        'worker count and training sets. Writes OUT/card.json and OUT/card.md, and copies the model to ' +
        "OUT/model.qnas unless it is that file already. The model must be the run's (same genotype and cost).",
    )
    .requiredOption('--model <file>', 'exported model (.qnas)')
    .requiredOption('--run <dir>', 'the quantnas run directory that made the model (or its run.json)')
    .requiredOption('--out <dir>', 'folder for card.json, card.md and model.qnas')
    .option('--name <name>', "the model's name in the card (default: the --out folder's name)")
    .option('--sets <list>', 'benchmark sets to evaluate', 'Set5,Set14,B100')
    .option('--data <dir>', 'data root holding the sets (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--force', 'replace an existing card')
    .option('--json', 'print card.json on stdout')
    .action(async (options: CardOptions) => {
      const card = await writeCard(io, options);
      if (options.json) io.stdout(JSON.stringify(card) + '\n');
      else io.stdout(cardSummary(card, options.out));
    });
}

/** Reads a JSON file of the run; a missing or malformed one is one line naming it. */
function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${path}: cannot read the ${what}: ${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)}`, path);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new DataError(`${path}: the ${what} is not valid JSON: ${(error as Error).message.split('\n')[0]}`, path);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** JSON with object keys sorted: two genotypes are the same when these strings are. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** A penalty as a user types it: 0.001 → 1e-3, 0.5 → 0.5. */
function formatNumber(value: number): string {
  const plain = String(value);
  const exp = value.toExponential().replace('e+', 'e');
  return exp.length <= plain.length && value < 1 ? exp : plain;
}

/** The run's records: run.json and the two stage summaries beside it. */
function readRun(runArg: string) {
  // A folder (the run's --out) or its run.json.
  const isFile = runArg.endsWith('.json') && !(existsSync(runArg) && statSync(runArg).isDirectory());
  const runJson = isFile ? runArg : join(runArg, 'run.json');
  const run = readJson(runJson, 'run summary');
  if (run.schemaVersion !== 1 || (run.kind !== 'searched' && run.kind !== 'baseline')) {
    throw new DataError(`${runJson}: not the run.json of \`quantnas run\` (kind ${JSON.stringify(run.kind)})`, runJson);
  }
  const dir = dirname(runJson);
  const train = readJson(join(dir, 'train', 'summary.json'), 'training summary');
  const search = run.kind === 'searched' ? readJson(join(dir, 'search', 'summary.json'), 'search summary') : undefined;
  return { runJson, run, train, search };
}

/** What the card says about how the model was made, and the command that makes it again. */
async function trainingOf(records: ReturnType<typeof readRun>): Promise<CardTraining> {
  const { run, train, search } = records;
  const trainConfig = isObject(train.config) ? train.config : {};
  const searchConfig = search && isObject(search.config) ? search.config : undefined;
  const preset = String(run.preset);
  const space = String(run.space);
  const seed = num(trainConfig.seed);
  const workers = num(trainConfig.workers);
  if (seed === null || workers === null) throw new DataError(`${records.runJson}: the training summary records no seed or worker count`, records.runJson);
  const penalty = searchConfig ? num(searchConfig.penalty) : null;
  const args = ['quantnas', 'run', '--preset', preset];
  let searchOptions: Record<string, unknown> | null = null;
  if (run.kind === 'searched') {
    if (space !== RUN_DEFAULT_SPACE) args.push('--space', space);
    if (penalty !== null) args.push('--penalty', formatNumber(penalty));
    const { PRESETS } = await import('@quantnas/search');
    const presetSampling = (PRESETS as Record<string, { pathSampling?: string }>)[preset]?.pathSampling;
    if (searchConfig?.derive !== undefined && searchConfig.derive !== DEFAULT_DERIVE) args.push('--derive', String(searchConfig.derive));
    if (searchConfig?.pathSampling !== undefined && searchConfig.pathSampling !== presetSampling)
      args.push('--path-sampling', String(searchConfig.pathSampling));
    // A latency-penalised search read its table from a file the run does not keep; its summary holds the table.
    const latencyPenalty = num(searchConfig?.latencyPenalty);
    if (latencyPenalty !== null && latencyPenalty > 0) args.push('--latency-table', 'TABLE.json', '--latency-penalty', formatNumber(latencyPenalty));
    // Searched at one width and trained at another (`run --channels`).
    const trainedChannels = isObject(train.genotype) ? num(train.genotype.channels) : null;
    const searchedChannels = num(searchConfig?.channels);
    if (trainedChannels !== null && searchedChannels !== null && trainedChannels !== searchedChannels) args.push('--channels', String(trainedChannels));
    // One --workers serves both stages: a run whose stages ran on different counts has no command.
    const searchWorkers = num(searchConfig?.workers);
    if (searchWorkers !== null && searchWorkers !== workers)
      throw new DataError(
        `${records.runJson}: its search ran on ${searchWorkers} worker(s) and its training on ${workers}; no one \`quantnas run\` makes this model again`,
        records.runJson,
      );
    searchOptions = Object.fromEntries(
      ['mode', 'adq', 'bits', 'pathSampling', 'derive', 'channels', 'cells', 'epochs', 'batchSize', 'lrPatchSize', 'latencyPenalty']
        .filter((k) => searchConfig?.[k] !== undefined && !(k === 'latencyPenalty' && searchConfig[k] === 0))
        .map((k) => [k, searchConfig![k]]),
    );
  } else {
    args.push('--arch', space, '--bits', String(run.bits));
    const genotype = isObject(train.genotype) ? train.genotype : {};
    if (num(genotype.channels) !== null) args.push('--channels', String(genotype.channels));
    if (num(train.cells) !== null) args.push('--cells', String(train.cells));
  }
  // The worker count is always written out: without it, run takes min(2, cores), and the worker
  // count changes how each batch is split, so the numbers.
  args.push('--seed', String(seed), '--workers', String(workers), '--out', 'DIR');
  const sets = [
    ...(Array.isArray(searchConfig?.trainSets) ? (searchConfig.trainSets as unknown[]) : []),
    ...(Array.isArray(trainConfig.trainSets) ? (trainConfig.trainSets as unknown[]) : []),
  ].map(String);
  return {
    command: args.join(' '),
    preset,
    space,
    seed,
    penalty,
    workers,
    trainSets: [...new Set(sets)],
    searchSteps: search ? num(search.steps) : null,
    trainSteps: num(train.steps) ?? 0,
    bestEpoch: num(train.bestEpoch),
    validationPsnr: num(train.bestValidationPsnr),
    search: searchOptions,
  };
}

async function evaluateWith(loaded: LoadedModel, scale: number, sets: string[], root: string, io: CliIo, label: string): Promise<EvaluationResult> {
  const progress = createProgress(io, label);
  try {
    return await evaluate({
      model: loaded.model,
      scale,
      sets,
      root,
      protocol: standardProtocol(scale),
      onProgress: (event) => {
        if (event.status === 'image') progress.update(event.index + 1, event.total, `${event.set}/${event.image}`);
      },
    });
  } finally {
    progress.stop();
    await loaded.dispose();
  }
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Measures the model and writes the card; returns it. */
export async function writeCard(io: CliIo, options: CardOptions): Promise<ModelCard> {
  const sets = parseSetList(options.sets);
  const outDir = resolve(options.out);
  checkOutDirectory(outDir);
  const name = options.name ?? basename(outDir);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new UsageError(`--name must be lower-case letters, digits, '.', '_' or '-', got '${name}'`);
  const target = join(outDir, 'model.qnas');
  const sameFile = existsSync(target) && realpathSync(target) === realpathSync(resolve(options.model));
  for (const file of ['card.json', 'card.md', ...(sameFile ? [] : ['model.qnas'])]) {
    if (existsSync(join(outDir, file)) && !options.force) throw new UsageError(`${join(outDir, file)} exists; --force replaces it`);
  }

  const model = await loadModelFile(options.model);
  const header = model.artifact.header;
  const metadata = isObject(header.metadata) ? header.metadata : {};
  const cost = isObject(metadata.cost) ? metadata.cost : {};
  const records = readRun(options.run);
  const { run } = records;
  if (canonical(metadata.genotype) !== canonical(run.genotype)) {
    throw new UsageError(`${options.model} is not the model of ${records.runJson}: their genotypes differ`);
  }
  const costInput = isObject(cost.costInput) ? cost.costInput : {};
  const params = num(cost.params);
  const macs = num(cost.macsPerLrPixel);
  const bitOps32 = costInput.height === 32 && costInput.width === 32 ? num(cost.bitOps) : null;
  const bitOpsMp = num(cost.bitOpsPerOutputMegapixel);
  if (params === null || macs === null || bitOps32 === null || bitOpsMp === null) {
    throw new DataError(`${options.model}: the header states no cost (params, MACs per LR pixel, BitOps at 32×32); export it again`, options.model);
  }
  if (params !== run.params || bitOps32 !== run.bitops_32x32) {
    throw new UsageError(
      `${options.model} is not the model of ${records.runJson}: params ${params} and BitOps ${bitOps32} against the run's ${String(run.params)} and ${String(run.bitops_32x32)}`,
    );
  }
  const training = await trainingOf(records);

  const scale = header.scale;
  const root = resolveDataRoot({ explicit: options.data, env: io.env });
  const measured = await evaluateWith(await loadModel({ model: options.model, engine: 'int8' }, scale), scale, sets, root, io, `card: ${name} x${scale}`);
  const bicubic = await evaluateWith(await loadModel({ model: 'bicubic' }, scale), scale, sets, root, io, `card: bicubic x${scale}`);
  const setResults: Record<string, CardSetResult> = {};
  for (const [set, r] of Object.entries(measured.sets)) {
    const b = bicubic.sets[set]!;
    setResults[set] = { images: r.images, psnr: round(r.psnr, 4), ssim: round(r.ssim, 5), bicubicPsnr: round(b.psnr, 4), bicubicSsim: round(b.ssim, 5) };
  }
  const bytes = readFileSync(options.model);
  const card: ModelCard = {
    schemaVersion: 1,
    name,
    file: 'model.qnas',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    scale,
    space: typeof metadata.space === 'string' ? metadata.space : null,
    channels: num(metadata.channels),
    cells: num(metadata.cells),
    genotype: isObject(metadata.genotype) ? metadata.genotype : null,
    params,
    macsPerLrPixel: macs,
    bitOps32x32: bitOps32,
    bitOpsPerOutputMegapixel: bitOpsMp,
    training,
    evaluation: { engine: 'int8', protocol: { ...measured.protocol }, sets: setResults },
  };
  mkdirSync(outDir, { recursive: true });
  if (!sameFile) copyFileSync(options.model, target);
  await writeOutputFile(join(outDir, 'card.json'), Buffer.from(`${JSON.stringify(card, null, 2)}\n`), { force: true });
  await writeOutputFile(join(outDir, 'card.md'), Buffer.from(cardMarkdown(card)), { force: true });
  return card;
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
const giga = (n: number) => `${(n / 1e9).toFixed(3)} G`;

/** The card as markdown: what the model is, how it was made, what it scores. */
export function cardMarkdown(card: ModelCard): string {
  const t = card.training;
  const e = card.evaluation;
  const lines: string[] = [];
  lines.push(`# ${card.name}`, '');
  lines.push(
    `A x${card.scale} super-resolution model${card.space ? ` of the \`${card.space}\` space` : ''}` +
      `${card.channels !== null ? ` (C ${card.channels}${card.cells !== null ? `, ${card.cells} cell${card.cells === 1 ? '' : 's'}` : ''})` : ''}, ` +
      `${t.penalty !== null ? `found by the quantization-aware search at λ = ${formatNumber(t.penalty)}` : 'a fixed architecture'} and trained with QAT, ` +
      `exported as an integer model (\`${card.file}\`, ${thousands(card.bytes)} bytes) for \`@quantnas/runtime\`. ` +
      'Generated by `quantnas card` from the model and the run that made it; every number below is measured.',
    '',
  );
  lines.push('## Quality', '');
  lines.push(
    `Integer engine (\`quantnas eval --engine ${e.engine}\`), PSNR on the BT.601 Y channel, ${e.protocol.shave} pixels shaved, ` +
      'output rounded to uint8; bicubic on the same LR images.',
    '',
  );
  lines.push('| set | images | PSNR dB | SSIM | bicubic PSNR | gain dB | bicubic SSIM |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const [set, r] of Object.entries(e.sets)) {
    const gain = r.psnr - r.bicubicPsnr;
    lines.push(
      `| ${set} | ${r.images} | ${r.psnr.toFixed(2)} | ${r.ssim.toFixed(4)} | ${r.bicubicPsnr.toFixed(2)} | ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} | ${r.bicubicSsim.toFixed(4)} |`,
    );
  }
  lines.push('', '## Cost', '');
  lines.push(
    `- ${thousands(card.params)} parameters`,
    `- ${thousands(card.macsPerLrPixel)} MACs per LR pixel`,
    `- BitOps ${giga(card.bitOps32x32)} for a 32×32 LR input; ${giga(card.bitOpsPerOutputMegapixel)} per output megapixel`,
    `- SHA-256 of \`${card.file}\`: \`${card.sha256}\``,
  );
  if (card.genotype && isObject(card.genotype.blocks)) {
    lines.push('', '## Architecture', '', '| block | op | bits |', '|---|---|---:|');
    for (const [block, choice] of Object.entries(card.genotype.blocks)) {
      const c = isObject(choice) ? choice : {};
      lines.push(`| ${block} | ${String(c.op)} | ${String(c.bits)} |`);
    }
  }
  lines.push('', '## Training', '', '```sh', t.command, '```', '');
  if (t.command.includes('TABLE.json')) {
    lines.push("`TABLE.json`: the search's latency table, as recorded in the run's `search/summary.json` (`config.latencyTable`).", '');
  }
  lines.push(
    `- preset \`${t.preset}\`, seed ${t.seed}, ${t.workers} worker${t.workers === 1 ? '' : 's'} (the same seed and worker count give the same model)`,
    `- training data: ${t.trainSets.join(' + ')}`,
    ...(t.searchSteps !== null ? [`- search: ${t.searchSteps} steps${t.search ? ` (${searchOptionsText(t.search)})` : ''}`] : []),
    `- QAT training: ${t.trainSteps} steps${t.bestEpoch !== null ? `, best validation at epoch ${t.bestEpoch}` : ''}${t.validationPsnr !== null ? ` (${t.validationPsnr.toFixed(2)} dB on held-out training patches)` : ''}`,
    `- evaluation sets: ${Object.keys(e.sets).join(', ')} (never trained on)`,
  );
  lines.push('', '## Use', '', '```sh', `npx quantnas upscale --model ${card.file} in.png out.png`, '```', '');
  return lines.join('\n');
}

/** `mode noise, adq on, pathSampling all, ...`: the recorded options, unset ones left out. */
function searchOptionsText(options: Readonly<Record<string, unknown>>): string {
  return Object.entries(options)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === 'boolean' ? (v ? 'on' : 'off') : Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(', ');
}

function cardSummary(card: ModelCard, out: string): string {
  const rows = Object.entries(card.evaluation.sets).map(([set, r]) => [set, r.psnr.toFixed(2), r.ssim.toFixed(4), r.bicubicPsnr.toFixed(2)]);
  return (
    `${card.name}: x${card.scale}, ${card.params} params, ${Math.round(card.macsPerLrPixel)} MACs per LR pixel, BitOps ${giga(card.bitOps32x32)} at 32×32 LR\n` +
    renderTable(['set', 'PSNR', 'SSIM', 'bicubic'], rows) +
    `trained by: ${card.training.command}\n` +
    `wrote ${join(out, 'card.json')}, ${join(out, 'card.md')}\n`
  );
}
