import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkOutputPath, writeOutputFile } from '@quantnas/data';
import type { LatencyCheck, LatencyTable } from '@quantnas/search';
import { UsageError, type CliIo } from '../io.js';
import { parseInteger, parseOptionalInteger } from '../options.js';
import { createProgress } from '../progress.js';
import { runtimeFiles } from '../runtime-files.js';
import { renderTable } from '../table.js';

/** Errors of the user's input that the latency commands report as one line. */
const USER_ERRORS = ['SearchError', 'SpecError', 'GenotypeError', 'LatencyTableError', 'TrainError', 'RangeError'];

async function userErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error && USER_ERRORS.includes(error.name)) throw new UsageError(error.message);
    throw error;
  }
}

interface TableOptions {
  space: string;
  preset: string;
  channels?: string;
  cells?: string;
  scale: string;
  size: string;
  engine: string;
  threads: string;
  rounds: string;
  out: string;
  force?: boolean;
  json?: boolean;
}

interface CheckOptions {
  table: string;
  genotype: string[];
  random: string;
  seed: string;
  rounds: string;
  space?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
}

const writeJson = (path: string, value: unknown, force: boolean) => writeOutputFile(path, Buffer.from(JSON.stringify(value, null, 2) + '\n'), { force });

/** The runtime's kernels and worker script, in the form the latency measurements take. */
function engineFiles(): { kernels?: { source?: URL | string; relaxedSource?: URL | string }; workerUrl?: URL | string } {
  const { kernels, workerUrl } = runtimeFiles();
  const files = kernels && !('exports' in kernels) ? { kernels: { source: kernels.source as URL, relaxedSource: kernels.relaxedSource as URL } } : {};
  return { ...files, ...(workerUrl !== undefined ? { workerUrl } : {}) };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function latencyTableCommand(io: CliIo): Command {
  return new Command('latency-table')
    .summary("every candidate (op, bits) of a space's blocks, timed on this machine's integer engine")
    .description(
      "Measures how long the runtime's integer engine spends in each searchable block of a space with each " +
        'of its candidate pairs (op, bit-width), at the space width, cells and scale of a preset (or as given), ' +
        'on an LR image of --size × --size. One network per pair index (every block at its i-th pair) is ' +
        'exported with its initial weights (the time does not depend on their values); --rounds rounds go over all ' +
        'of them, each network timed alone on an engine instance of its own after one untimed upscale (as a ' +
        "deployed process runs one model; the rounds spread the machine's drift over every network); each upscale is profiled layer by layer and a block gets the " +
        'time of its own layers, the rest of the network (fixed layers, copies between passes) the remainder. ' +
        'The table keeps the median and range of each entry and records the engine, threads, CPU and Node. ' +
        'With --threads n, each block keeps its share of the one-thread profile, scaled to the wall time on n ' +
        'worker threads. --engine relaxed needs a Node with relaxed SIMD (Node 20: node ' +
        '--experimental-wasm-relaxed-simd). The search reads the table with --latency-table and ' +
        '--latency-penalty; quantnas bench latency-check measures how well it predicts whole networks.',
    )
    .requiredOption('--space <space>', 'space id (rfdn-bicubic, rfdn, espcn, fsrcnn, basic) or space document')
    .option('--preset <name>', 'the search preset whose width and cells are timed: quick or cpu (a document: its own)', 'quick')
    .option('--channels <n>', "the width C (default: the preset's)")
    .option('--cells <n>', "cells of a space with cells (default: the preset's)")
    .option('--scale <n>', 'upscaling factor', '4')
    .option('--size <n>', 'LR image side in pixels', '256')
    .option('--engine <name>', 'simd128 (plain SIMD kernels) or relaxed (relaxed-SIMD kernels)', 'simd128')
    .option('--threads <n>', 'worker threads of the engine', '1')
    .option('--rounds <n>', 'timed rounds (each entry: their median and range)', '5')
    .requiredOption('--out <file>', 'where to write the table (JSON)')
    .option('--force', 'replace an existing --out file')
    .option('--json', 'print the table as JSON on stdout instead of a summary')
    .action(async (options: TableOptions) => {
      const search = await import('@quantnas/search');
      const core = await import('@quantnas/core-ops');
      if (options.preset !== 'quick' && options.preset !== 'cpu') throw new UsageError(`--preset must be quick or cpu, got '${options.preset}'`);
      if (options.engine !== 'simd128' && options.engine !== 'relaxed') throw new UsageError(`--engine must be simd128 or relaxed, got '${options.engine}'`);
      const size = parseInteger(options.size, '--size', 16);
      const threads = parseInteger(options.threads, '--threads', 1, 64);
      const rounds = parseInteger(options.rounds, '--rounds', 1);
      const scale = parseInteger(options.scale, '--scale', 2, 8);
      await checkOutputPath(options.out, { force: options.force === true });
      const table = await userErrors(async () => {
        const { spec, channels, cells } = await search.latencySpace(options.space, {
          preset: options.preset as 'quick' | 'cpu',
          channels: parseOptionalInteger(options.channels, '--channels', 1),
          cells: parseOptionalInteger(options.cells, '--cells', 1),
        });
        await core.initBackend('wasm');
        const progress = createProgress(io, 'latency table', 'run');
        try {
          return await search.measureLatencyTable(spec, {
            ...(channels !== undefined ? { channels } : {}),
            ...(cells !== undefined ? { cells } : {}),
            scale,
            width: size,
            height: size,
            engine: options.engine as 'simd128' | 'relaxed',
            threads,
            rounds,
            ...engineFiles(),
            onProgress: (done, total, what) => progress.update(done, total, what),
          });
        } finally {
          progress.stop();
        }
      });
      await writeJson(options.out, table, options.force === true);
      if (options.json) io.stdout(JSON.stringify(table) + '\n');
      else io.stdout(formatLatencyTable(table) + `written to ${options.out}\n`);
    })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

/** The table as text: one row per pair, one column per group (ms, median of the rounds). */
export function formatLatencyTable(table: LatencyTable): string {
  const groups = Object.keys(table.groups);
  const pairs = [...new Set(groups.flatMap((g) => Object.keys(table.groups[g]!)))];
  const rows = pairs.map((p) => [p, ...groups.map((g) => (table.groups[g]![p] ? ms(table.groups[g]![p]!.ms) : '—'))]);
  const entries = groups.flatMap((g) => Object.values(table.groups[g]!));
  const spread = Math.max(...entries.map((e) => (e.ms > 0 ? (e.max - e.min) / e.ms : 0)));
  return (
    `latency table of ${table.space} (C ${table.channels}, ${table.cells} cell(s), x${table.scale}) on ${table.input.width}×${table.input.height} LR, ` +
    `${table.engine}, ${table.threads} thread(s), ${table.machine.cpu}, Node ${table.machine.node}; ms, median of ${entries[0]?.rounds ?? 0} rounds\n` +
    renderTable(['op@bits', ...groups], rows) +
    `rest of the network: ${ms(table.fixed.ms)} ms (${ms(table.fixed.min)}–${ms(table.fixed.max)}); widest range of an entry: ${(spread * 100).toFixed(0)} % of its median\n`
  );
}

export function latencyCheckCommand(io: CliIo): Command {
  return new Command('latency-check')
    .summary("how well a latency table, and BitOps, predict whole networks' measured time")
    .description(
      "Exports each genotype (--genotype, repeatable: a search's genotype.json or a run's train/genotype.json; " +
        "--random n more drawn uniformly from the table's space) with its initial weights, times it whole on the " +
        "table's engine, threads and image size, as the table's networks are (rounds over all, each timed alone; median), and " +
        "compares with the table's prediction (the rest of the network plus each block's pair) and with BitOps " +
        '(32×32 LR): Kendall τ of each against the measured times, and the mean relative error of the table and of ' +
        'BitOps scaled to milliseconds by their least-squares factor. Run it on the machine and engine the table ' +
        'was measured on.',
    )
    .requiredOption('--table <file>', 'latency table (quantnas bench latency-table)')
    .option('--genotype <file>', 'a genotype to include (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--random <n>', 'random genotypes of the space to add', '10')
    .option('--seed <n>', 'seed of the random genotypes', '1')
    .option('--rounds <n>', 'timed rounds', '3')
    .option('--space <space>', "the space document, when the table's space is not a built-in id")
    .option('--out <file>', 'also write the result (JSON)')
    .option('--force', 'replace an existing --out file')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: CheckOptions) => {
      const search = await import('@quantnas/search');
      const core = await import('@quantnas/core-ops');
      const random = parseInteger(options.random, '--random', 0);
      const seed = parseInteger(options.seed, '--seed', 0);
      const rounds = parseInteger(options.rounds, '--rounds', 1);
      if (options.out !== undefined) await checkOutputPath(options.out, { force: options.force === true });
      const check = await userErrors(async () => {
        let json: unknown;
        try {
          json = JSON.parse(readFileSync(options.table, 'utf8'));
        } catch (error) {
          throw new UsageError(`--table ${options.table}: ${error instanceof Error ? error.message : String(error)}`);
        }
        const table = search.parseLatencyTable(json, options.table);
        const { spec } = await search.latencySpace(options.space ?? table.space);
        const genotypes = await search.latencyCheckGenotypes(spec, table, options.genotype, random, seed);
        await core.initBackend('wasm');
        const progress = createProgress(io, 'latency check', 'run');
        try {
          return await search.checkLatencyTable(spec, table, genotypes, {
            rounds,
            ...engineFiles(),
            onProgress: (done, total, what) => progress.update(done, total, what),
          });
        } finally {
          progress.stop();
        }
      });
      const result = latencyCheckJson(check);
      if (options.out !== undefined) await writeJson(options.out, result, options.force === true);
      if (options.json) io.stdout(JSON.stringify(result) + '\n');
      else io.stdout(formatLatencyCheck(check));
    })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

function latencyCheckJson(check: LatencyCheck) {
  return {
    tau_table: check.tauTable,
    tau_bitops: check.tauBitops,
    table_error: check.tableError,
    bitops_error: check.bitopsError,
    machine: check.machine,
    rows: check.rows.map((r) => ({ name: r.name, predicted_ms: r.predictedMs, measured_ms: r.measuredMs, bitops: r.bitops, blocks: r.genotype.blocks })),
  };
}

export function formatLatencyCheck(check: LatencyCheck): string {
  const rows = [...check.rows]
    .sort((a, b) => a.measuredMs - b.measuredMs)
    .map((r) => [
      r.name,
      ms(r.measuredMs),
      ms(r.predictedMs),
      `${(((r.predictedMs - r.measuredMs) / r.measuredMs) * 100).toFixed(1)} %`,
      (r.bitops / 1e9).toFixed(3),
    ]);
  return (
    renderTable(['genotype', 'measured ms', 'table ms', 'table error', 'GBitOps'], rows) +
    `Kendall τ against the measured time: table ${check.tauTable.toFixed(3)}, BitOps ${check.tauBitops.toFixed(3)}\n` +
    `mean relative error: table ${(check.tableError * 100).toFixed(1)} %, BitOps (least-squares ms per BitOp) ${(check.bitopsError * 100).toFixed(1)} %\n`
  );
}
