import { resolve } from 'node:path';
import { Command } from 'commander';
import type { DiagnoseEvent, Diagnosis } from '@quantnas/search';
import { UsageError, type CliIo } from '../io.js';
import { parseOptionalInteger, parseWith } from '../options.js';
import { createProgress } from '../progress.js';
import { renderTable } from '../table.js';

interface DiagnoseCommandOptions {
  out: string;
  random?: string;
  steps?: string;
  seed?: string;
  patches?: string;
  workers?: string;
  backend?: string;
  data?: string;
  json?: boolean;
}

const USER_ERRORS = new Set(['SearchError', 'TrainError', 'CheckpointError', 'SpecError', 'GenotypeError']);

export function diagnoseCommand(io: CliIo): Command {
  return new Command('diagnose')
    .summary("measure whether a search's preferences predict trained quality (Kendall τ)")
    .description(
      "Trains a fixed set of genotypes of the searched space stand-alone for --steps steps: the space's " +
        'baseline ops at each uniform bit-width, the high-bit baseline with one block at a time at the ' +
        "lowest bits, --random random genotypes, and three read off the search: its genotype.json, α's arg-max and the path descent of --derive path. Then ranks them by what the " +
        'finished supernet says (its α, and its validation PSNR with the path fixed to each genotype) and ' +
        'prints Kendall τ-b between those and the stand-alone PSNR: 1 means the search orders them as ' +
        'training does, 0 no better than chance. Per block, the same for the bit choice (the PSNR lost when ' +
        'that block drops to the lowest bits).\n\nStand-alone runs are kept in --out and reused, so a second ' +
        "search of the same space costs only its own result's training. Writes --out/diagnosis.json.",
    )
    .argument('<search-dir>', "a finished search (quantnas search --out DIR, or a run's search/ folder)")
    .requiredOption('--out <dir>', 'output directory (report and cached stand-alone runs)')
    .option('--random <n>', 'random genotypes (default 6)')
    .option('--steps <n>', 'training steps of each stand-alone genotype (default 300)')
    .option('--seed <n>', 'seed of the random genotypes and of every stand-alone training (default 1)')
    .option('--patches <n>', 'held-out patches for the PSNRs (default 64)')
    .option('--workers <n>', 'worker threads of each training, as quantnas train (default 1; 2 on a 2-core machine)')
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow (default wasm)')
    .option('--data <dir>', 'data root holding T91 and BSD200 (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--json', 'print the diagnosis as one JSON object on stdout')
    .action(async (searchDir: string, options: DiagnoseCommandOptions) => {
      const search = await import('@quantnas/search');
      const core = await import('@quantnas/core-ops');
      const random = parseOptionalInteger(options.random, '--random', 0);
      const steps = parseOptionalInteger(options.steps, '--steps', 1);
      const seed = parseOptionalInteger(options.seed, '--seed', 0);
      const patches = parseOptionalInteger(options.patches, '--patches', 1);
      const workers = parseOptionalInteger(options.workers, '--workers', 1);
      const backend =
        options.backend === undefined
          ? undefined
          : (parseWith(core.parseBackendName, options.backend, '--backend') as import('@quantnas/core-ops').BackendName);
      const dataRoot = options.data ?? io.env.QUANTNAS_DATA;
      const progress = createProgress(io, 'diagnose');
      let current = '';
      const onEvent = (event: DiagnoseEvent) => {
        if (event.status === 'genotype') current = `${event.name} (${event.index + 1} of ${event.total}${event.reused ? ', reused' : ''})`;
        if (event.status === 'train' && event.event.status === 'step' && event.event.totalSteps !== undefined) {
          progress.update(event.event.step, event.event.totalSteps, current);
        }
      };
      let diagnosis: Diagnosis;
      try {
        diagnosis = await search.diagnoseSearch(
          {
            search: resolve(searchDir),
            out: resolve(options.out),
            ...(random !== undefined ? { random } : {}),
            ...(steps !== undefined ? { steps } : {}),
            ...(seed !== undefined ? { seed } : {}),
            ...(patches !== undefined ? { patches } : {}),
            ...(workers !== undefined ? { workers } : {}),
            ...(backend !== undefined ? { backend } : {}),
            ...(dataRoot !== undefined ? { dataRoot } : {}),
          },
          { onEvent },
        );
      } catch (error) {
        if (error instanceof Error && USER_ERRORS.has(error.name)) throw new UsageError(error.message.split('\n')[0]!);
        throw error;
      } finally {
        progress.stop();
      }
      if (options.json) {
        io.stdout(JSON.stringify(diagnosis) + '\n');
        return;
      }
      io.stdout(formatDiagnosis(diagnosis));
    });
}

/** The genotype table, the per-block bit table and the four τ, as text. */
export function formatDiagnosis(d: Diagnosis): string {
  const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const genotypes = renderTable(
    ['genotype', 'BitOps 32×32', 'stand-alone PSNR', 'log P under α', 'supernet path PSNR'],
    d.genotypes.map((g) => [g.name, `${(g.bitops / 1e9).toFixed(3)} G`, f(g.standalonePsnr), f(g.alphaLogProbability), f(g.pathPsnr)]),
  );
  const blocks = renderTable(
    ['block', `stand-alone drop at ${d.bits.low} bits`, `α: log P(${d.bits.high}) − log P(${d.bits.low})`, 'supernet path drop'],
    d.sensitivities.map((s) => [s.block, f(s.standaloneDrop, 3), f(s.alphaPreference), f(s.pathDrop, 3)]),
  );
  const fixed = d.genotypes.filter((g) => g.kind !== 'derived').length;
  return (
    `diagnosis of ${d.search} (space ${d.space}): ${d.genotypes.length} genotypes trained stand-alone for ${d.steps} steps (seed ${d.seed}), ${d.seconds.toFixed(0)} s\n\n` +
    genotypes +
    '\n' +
    (d.sensitivities.length > 0 ? blocks + '\n' : '') +
    `Kendall τ against stand-alone PSNR over the ${fixed} fixed genotypes: α ${f(d.tau.alpha)}, supernet path ${f(d.tau.path)}\n` +
    `Kendall τ of the bit choice over ${d.sensitivities.length} blocks: α ${f(d.tau.bitsAlpha)}, supernet path ${f(d.tau.bitsPath)}\n` +
    `rank by stand-alone PSNR among the ${fixed} fixed genotypes (1 = best): ${Object.entries(d.ranks)
      .map(([name, rank]) => `${name} ${rank}`)
      .join(', ')}\n`
  );
}
