import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { checkOutputPath, writeOutputFile } from '@quantnas/data';
import { UsageError, type CliIo } from '../io.js';
import { groupRuns } from '../report/aggregate.js';
import { reportHtml } from '../report/html.js';
import { readReportInputs } from '../report/inputs.js';
import { reportMarkdown, runFront, type ReportContent } from '../report/markdown.js';
import { BITOPS_AXIS, latencyAxis } from '../report/cost.js';
import { measureRunLatencies } from '../report/latency.js';
import { reportSvg } from '../report/plot.js';
import { parseInteger } from '../options.js';

interface ReportCommandOptions {
  out: string;
  set: string;
  x: string;
  size: string;
  threads: string;
  rounds: string;
  engine: string;
  title?: string;
  force?: boolean;
  json?: boolean;
}

export function reportCommand(io: CliIo): Command {
  return new Command('report')
    .summary('compare runs and sweeps: a markdown table, an SVG plot of PSNR against BitOps, an HTML page')
    .description(
      'Reads the run.json of each run directory given (written by quantnas run, searched models and baselines alike) ' +
        'and of each finished job of each sweep directory given (written by quantnas sweep; unfinished jobs are counted ' +
        'as pending). Runs of one configuration (a sweep job group; for run directories, the label, preset and search ' +
        'options) are one group, their seeds aggregated. Writes OUT.md (one row per group: seeds, params, BitOps, PSNR ' +
        'mean ± std and SSIM on every set, search and training time, the groups on the quality/BitOps front marked; ' +
        'then one row per run), OUT.svg (PSNR on --set against BitOps at 32×32 LR, log scale: group means with ±std, ' +
        'each seed faint, bicubic as a line) and OUT.html (one self-contained page: the tables, the plot, each ' +
        "group's genotype drawing and training curve). With --x latency the x axis, the order and the front are each " +
        "run's model timed on the integer engine when the report is made (--rounds rounds over the models, each timed " +
        'alone after one untimed upscale; median), for a user who runs the models rather than counts their BitOps.',
    )
    .argument('<dirs...>', 'run directories (each holds run.json) or sweep directories (each holds sweep.json)')
    .requiredOption('--out <prefix>', 'output path without extension: writes PREFIX.md, PREFIX.svg and PREFIX.html')
    .option('--set <name>', 'set plotted against BitOps and used for the front', 'Set5')
    .option(
      '--x <quantity>',
      "the x axis and the front's cost: bitops (BitOps at 32×32 LR, from run.json) or latency (each run's model timed now on the integer engine: --size, --threads, --engine, --rounds)",
      'bitops',
    )
    .option('--size <n>', 'with --x latency: LR image side in pixels', '256')
    .option('--threads <n>', 'with --x latency: worker threads of the engine', '1')
    .option('--engine <name>', 'with --x latency: simd128 or relaxed (needs a Node with relaxed SIMD)', 'simd128')
    .option('--rounds <n>', 'with --x latency: timed rounds over all models (median)', '3')
    .option('--title <text>', 'the page\'s title (default: the sweeps\' names, or "QuantNAS report")')
    .option('--force', 'replace existing PREFIX.md, PREFIX.svg and PREFIX.html')
    .option('--json', 'print the groups and runs as JSON on stdout')
    .action(async (dirs: string[], options: ReportCommandOptions) => {
      if (options.x !== 'bitops' && options.x !== 'latency') throw new UsageError(`--x must be bitops or latency, got '${options.x}'`);
      if (options.engine !== 'simd128' && options.engine !== 'relaxed') throw new UsageError(`--engine must be simd128 or relaxed, got '${options.engine}'`);
      const latency = {
        size: parseInteger(options.size, '--size', 16),
        threads: parseInteger(options.threads, '--threads', 1, 64),
        rounds: parseInteger(options.rounds, '--rounds', 1),
        engine: options.engine as 'simd128' | 'relaxed',
      };
      const inputs = readReportInputs(dirs);
      const { pending, sweeps } = inputs;
      let runs = inputs.runs;
      if (runs.length === 0) throw new UsageError(`no finished run to report (pending: ${pending.length})`);
      for (const { dir, run } of runs) {
        if (!(options.set in run.sets))
          throw new UsageError(`${dir}: the run was not evaluated on ${options.set} (it has ${Object.keys(run.sets).join(', ')})`);
      }
      const out = resolve(options.out);
      const output = { force: options.force === true, inputs: runs.map((r) => join(r.dir, 'run.json')) };
      const files = ['md', 'svg', 'html'].map((ext) => `${out}.${ext}`);
      for (const file of files) await checkOutputPath(file, output);
      let axis = BITOPS_AXIS;
      if (options.x === 'latency') {
        runs = await measureRunLatencies(io, runs, latency);
        axis = latencyAxis(latency.size, latency.threads, latency.engine);
      }
      mkdirSync(dirname(out), { recursive: true });
      const groups = groupRuns(runs, options.set, axis);
      const title = options.title ?? (sweeps.length > 0 ? sweeps.join(', ') : 'QuantNAS report');
      const content: ReportContent = { title, set: options.set, groups, runs, pending, axis };
      const svg = reportSvg(groups, options.set, axis);
      const read = (path: string) => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return undefined;
        }
      };
      const text = new TextEncoder();
      await writeOutputFile(files[0]!, text.encode(reportMarkdown(content, `${basename(out)}.svg`)), output);
      await writeOutputFile(files[1]!, text.encode(svg), output);
      await writeOutputFile(files[2]!, text.encode(reportHtml(content, svg, read)), output);
      const front = groups.filter((g) => g.pareto).length;
      if (options.json) {
        io.stdout(JSON.stringify(reportJson(content, files)) + '\n');
      } else {
        const waiting = pending.length > 0 ? `; pending: ${pending.length}` : '';
        io.stdout(`wrote ${files[0]}, ${files[1]} and ${files[2]} (${runs.length} runs in ${groups.length} groups, ${front} on the front${waiting})\n`);
      }
    });
}

/** `--json`: the groups, their seeds aggregated, and every run in the order given (with its own front mark; `label`: the
 * sweep job's label for a sweep's run). */
function reportJson(content: ReportContent, [markdown, svg, html]: string[]) {
  const runs = content.runs;
  const front = runFront(runs, content.set, content.axis);
  return {
    markdown,
    svg,
    html,
    title: content.title,
    pending: content.pending,
    groups: content.groups.map(({ runs: members, key: _key, ...g }) => ({ ...g, n: members.length, runs: members.map((r) => r.id) })),
    runs: runs.map((r, i) => ({
      dir: r.dir,
      id: r.id,
      group: r.group,
      seed: r.seed,
      pareto: front[i],
      ...r.run,
      label: r.label,
      ...(r.latencyMs !== undefined ? { latency_ms: r.latencyMs } : {}),
    })),
  };
}
