import { Command } from 'commander';
import { UsageError, type CliIo } from '../io.js';
import { parseInteger, parseWith } from '../options.js';
import { renderTable } from '../table.js';
import { esrganBenchCommand } from './bench-esrgan.js';
import { latencyCheckCommand, latencyTableCommand } from './bench-latency.js';
import { runtimeBenchCommand } from './bench-runtime.js';

interface TrainStepOptions {
  backend: string;
  steps: string;
  warmup: string;
  batch?: string;
  size?: string;
  compare?: string;
  compareBatch: string;
  genotype?: string;
  space?: string;
  preset: string;
  workers: string;
  kernels: string;
  baseline: string;
  json?: boolean;
}

export function benchCommand(io: CliIo): Command {
  const bench = new Command('bench')
    .summary('measure how fast this machine trains and runs networks')
    .description(
      'Benchmarks: train-step and search-step on the compute backends of @quantnas/core-ops (wasm, cpu, ' +
        'webgpu, tensorflow); runtime: an exported model on the int8 engine against the same network in ' +
        "fp32 on tfjs-wasm; esrgan-slim: an exported model against UpscalerJS's ESRGAN Slim on the benchmark sets.",
    );
  const trainStep = new Command('train-step')
    .summary("throughput of one training step: the reference SR net, or a genotype's QAT network")
    .description(
      'Without --genotype: times one Adam step (lr 1e-3, L1 loss against a random HR target) of the fixed reference x4 net: ' +
        '3→32 conv3×3, four residual blocks x + relu(conv3×3 32→32), conv3×3 32→48, pixel shuffle ×4 ' +
        '(51,552 MACs per LR pixel).\n\nGFLOP/s counts conv work only: 2·MACs for the forward pass and ' +
        '3 × 2·MACs for a training step (forward, input gradient, filter gradient). The forward pass ' +
        'alone is timed too, on the same batch. Times are medians over --steps after --warmup steps. ' +
        '\n\nBackends: auto picks tensorflow (if @tensorflow/tfjs-node[-gpu] is installed), else WebGPU on ' +
        'a hardware GPU, else wasm.' +
        "\n\nWith --genotype G.json: times the QAT training step (Adam on L1, gradient clipping) of the genotype's " +
        "network at a training preset's batch and patch size, on the fused and the reference quantizer kernels " +
        "(alternating, in one run; kernels per step and the convolutions' share of the time from one profiled " +
        'step), and a plain baseline network (--baseline, default the ESPCN-like net at 8 bits) on the fused ' +
        'kernels, to compare the time per MAC. --workers n also times each on n data-parallel replicas, ' +
        "and the one-thread step on one replica's shard, whose ratio to the whole step is the bound column: " +
        'the speedup the replicas would reach with cores that did not slow each other and no communication.',
    )
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow', 'auto')
    .option('--steps <n>', 'timed steps', '10')
    .option('--warmup <n>', 'untimed steps first', '3')
    .option('--batch <n>', "LR patches per step (default 16, or the training preset's with --genotype)")
    .option('--size <n>', "LR patch side in pixels, HR is 4× (default 32, or the training preset's with --genotype)")
    .option(
      '--compare <backend>',
      'also time one step on another backend (e.g. cpu) and report the speedup in GFLOP/s; ' +
        'the cpu backend needs minutes for a batch-16 step, hence --compare-batch',
    )
    .option('--compare-batch <n>', 'batch for the --compare run', '2')
    .option('--genotype <file>', "time this genotype's QAT network instead (e.g. a search's genotype.json)")
    .option('--space <space>', 'with --genotype: its space id or document (default: the search beside it, else its id)')
    .option('--preset <name>', 'with --genotype: the training preset whose batch and patch size are timed (quick or cpu)', 'quick')
    .option('--workers <n>', 'with --genotype: also time on n data-parallel replicas', '1')
    .option('--kernels <list>', `with --genotype: kernel paths to time (${KERNEL_PATHS.join(', ')})`, 'fused,reference')
    .option('--baseline <space:bits>', 'with --genotype: the baseline timed for time per MAC, or none', 'espcn:8')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: TrainStepOptions) => {
      if (options.genotype !== undefined) {
        await genotypeTrainStep(io, options);
        return;
      }
      const core = await import('@quantnas/core-ops');
      const backend = parseWith(core.parseBackendName, options.backend, '--backend');
      const compare = options.compare === undefined ? undefined : parseWith(core.parseBackendName, options.compare, '--compare');
      const steps = parseInteger(options.steps, '--steps', 1);
      const warmup = parseInteger(options.warmup, '--warmup', 0);
      const batch = parseInteger(options.batch ?? '16', '--batch', 1);
      const size = parseInteger(options.size ?? '32', '--size', 1);
      const compareBatch = parseInteger(options.compareBatch, '--compare-batch', 1);
      const run = async (o: Parameters<typeof core.benchTrainStep>[0]) => {
        try {
          return await core.benchTrainStep(o);
        } catch (error) {
          // A backend this machine lacks, or a batch over the device's limits: one line, no stack.
          if (error instanceof core.BackendUnavailableError || error instanceof RangeError) throw new UsageError(error.message);
          throw error;
        }
      };
      if (io.interactive) io.stderr(`timing ${warmup} + ${steps} training steps on '${backend}'...\n`);
      const main = await run({ backend, steps, warmup, batch, size });
      let other: Awaited<ReturnType<typeof run>> | undefined;
      if (compare) {
        if (io.interactive) io.stderr(`timing 1 step on '${compare}' (batch ${compareBatch})...\n`);
        other = await run({ backend: compare, steps: 1, warmup: 0, batch: compareBatch, size });
      }
      const result = {
        ...main,
        train_forward_ratio: main.gflops / main.forward_gflops,
        ...(other
          ? {
              compare_backend: other.backend,
              [`${other.backend}_ms_per_step`]: other.ms_per_step,
              [`${other.backend}_gflops`]: other.gflops,
              [`${other.backend}_batch`]: other.batch,
              [`speedup_vs_${other.backend}`]: main.gflops / other.gflops,
            }
          : {}),
      };
      if (options.json) {
        io.stdout(JSON.stringify(result) + '\n');
        return;
      }
      const row = (r: typeof main) => [
        r.backend,
        String(r.batch),
        r.ms_per_step.toFixed(1),
        r.gflops.toFixed(2),
        r.forward_gflops.toFixed(2),
        (r.gflops / r.forward_gflops).toFixed(2),
      ];
      let text =
        `train step of the reference x4 net: batch ${batch} of ${size}×${size} LR, Adam, L1\n` +
        renderTable(['backend', 'batch', 'ms/step', 'GFLOP/s', 'fwd GFLOP/s', 'train/fwd'], [row(main), ...(other ? [row(other)] : [])]);
      if (main.backend_detail) text += `${main.backend}: ${main.backend_detail}\n`;
      for (const reason of main.backend_skipped ?? []) text += `auto skipped ${reason}\n`;
      if (other) text += `speedup vs ${other.backend}: ${(main.gflops / other.gflops).toFixed(1)}× (GFLOP/s)\n`;
      io.stdout(text);
    });
  // addCommand does not pass these on: without them a bad option would exit the process.
  trainStep.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).showHelpAfterError('(run with --help for usage)').exitOverride();
  return bench
    .addCommand(trainStep)
    .addCommand(searchStepCommand(io))
    .addCommand(kernelsCommand(io))
    .addCommand(runtimeBenchCommand(io))
    .addCommand(latencyTableCommand(io))
    .addCommand(latencyCheckCommand(io))
    .addCommand(esrganBenchCommand(io));
}

async function genotypeTrainStep(io: CliIo, options: TrainStepOptions): Promise<void> {
  const core = await import('@quantnas/core-ops');
  const search = await import('@quantnas/search');
  const backend = parseWith(core.parseBackendName, options.backend, '--backend');
  if (options.preset !== 'quick' && options.preset !== 'cpu') throw new UsageError(`--preset must be quick or cpu, got '${options.preset}'`);
  let baseline: { space: string; bits: number } | null = null;
  if (options.baseline !== 'none') {
    const match = /^([\w.-]+):(\d+)$/.exec(options.baseline);
    if (!match) throw new UsageError(`--baseline must be SPACE:BITS (e.g. espcn:8) or none, got '${options.baseline}'`);
    baseline = { space: match[1]!, bits: Number(match[2]) };
  }
  let bench: Awaited<ReturnType<typeof search.benchTrainStep>>;
  try {
    const target = await search.resolveTrainTarget({ genotype: options.genotype!, ...(options.space !== undefined ? { space: options.space } : {}) });
    if (io.interactive) io.stderr(`timing training steps of ${options.genotype} on '${backend}'...\n`);
    bench = await search.benchTrainStep({
      genotype: target.genotype,
      spec: target.spec,
      cells: target.cells,
      adq: target.adq,
      preset: options.preset,
      backend,
      steps: parseInteger(options.steps, '--steps', 1),
      warmup: parseInteger(options.warmup, '--warmup', 0),
      workers: parseInteger(options.workers, '--workers', 1),
      kernels: parseKernelPaths(options.kernels),
      baseline,
      ...(options.batch !== undefined ? { batch: parseInteger(options.batch, '--batch', 1) } : {}),
      ...(options.size !== undefined ? { size: parseInteger(options.size, '--size', 1) } : {}),
    });
  } catch (error) {
    if (
      error instanceof core.BackendUnavailableError ||
      (error instanceof Error && ['SpecError', 'RangeError', 'TrainError', 'GenotypeError'].includes(error.name))
    ) {
      throw new UsageError(error.message);
    }
    throw error;
  }
  const result = {
    ...comparisonJson(bench.genotype),
    macs_per_pixel: bench.genotype.macsPerPixel,
    ...(bench.baseline
      ? {
          baseline: { space: bench.baseline.space, bits: bench.baseline.bits, macs_per_pixel: bench.baseline.macsPerPixel, ...comparisonJson(bench.baseline) },
          per_mac_vs_baseline: bench.perMacVsBaseline,
        }
      : {}),
    backend: bench.backend,
    space: bench.space,
    batch: bench.batch,
    size: bench.size,
    steps: bench.steps,
    workers: bench.workers,
    fused_kernels_available: bench.fusedAvailable,
  };
  if (options.json) {
    io.stdout(JSON.stringify(result) + '\n');
    return;
  }
  const rows = [
    ...comparisonRows(`genotype (${Math.round(bench.genotype.macsPerPixel)} MACs/px)`, bench.genotype, bench.workers),
    ...(bench.baseline
      ? comparisonRows(`${bench.baseline.space} ${bench.baseline.bits}-bit (${Math.round(bench.baseline.macsPerPixel)} MACs/px)`, bench.baseline, bench.workers)
      : []),
  ];
  io.stdout(
    `QAT training step of ${options.genotype} (${bench.space}), batch ${bench.batch} of ${bench.size}×${bench.size} LR on ${bench.backend}\n` +
      renderTable(comparisonHeader('network', bench.workers), rows) +
      (bench.genotype.speedupVsReference !== undefined ? `fused kernels ${bench.genotype.speedupVsReference.toFixed(2)}× as fast as reference\n` : '') +
      (bench.perMacVsBaseline !== undefined ? `time per MAC: ${bench.perMacVsBaseline.toFixed(2)}× the baseline's\n` : '') +
      noFusedNote(bench),
  );
}

interface SearchStepOptions {
  backend: string;
  preset?: string;
  space?: string;
  channels?: string;
  cells?: string;
  batch?: string;
  size?: string;
  steps: string;
  warmup: string;
  workers: string;
  modes: string;
  kernels: string;
  json?: boolean;
}

const SEARCH_STEP_MODES = ['noise', 'direct', 'fp'] as const;
const KERNEL_PATHS = ['fused', 'reference'] as const;

type StepCost = import('@quantnas/search').StepCost;
type PathComparison = import('@quantnas/search').PathComparison;

/** A step cost in the JSON's snake_case. */
function costJson(c: StepCost) {
  return {
    ms: c.ms,
    kernels: c.kernels,
    conv_share: c.convShare,
    ...(c.parallelMs !== undefined
      ? { parallel_ms: c.parallelMs, workers_speedup: c.workerSpeedup, parallel_profile: c.parallelProfile, shard_ms: c.shardMs, workers_bound: c.workersBound }
      : {}),
  };
}

function comparisonJson(c: PathComparison) {
  return {
    ...(c.fused ? { fused: costJson(c.fused) } : {}),
    ...(c.reference ? { reference: costJson(c.reference) } : {}),
    ...(c.speedupVsReference !== undefined ? { speedup_vs_reference: c.speedupVsReference } : {}),
    ...(c.fused?.workerSpeedup !== undefined ? { workers_speedup: c.fused.workerSpeedup } : {}),
  };
}

/** Table rows, one per path, for text output. */
function comparisonRows(label: string, c: PathComparison, workers: number): string[][] {
  return KERNEL_PATHS.flatMap((path) => {
    const cost = c[path];
    if (!cost) return [];
    return [
      [
        label,
        path,
        cost.ms.toFixed(1),
        String(cost.kernels),
        `${(100 * cost.convShare).toFixed(0)}%`,
        ...(workers > 1 ? [cost.parallelMs!.toFixed(1), `${cost.workerSpeedup!.toFixed(2)}×`, `${cost.workersBound!.toFixed(2)}×`] : []),
      ],
    ];
  });
}

function comparisonHeader(first: string, workers: number): string[] {
  return [first, 'kernels', 'ms/step', 'kernels/step', 'conv share', ...(workers > 1 ? [`ms/step on ${workers}`, 'speedup', 'bound'] : [])];
}

function noFusedNote(bench: { backend: string; fusedAvailable: boolean }): string {
  return bench.fusedAvailable ? '' : `${bench.backend} has no fused kernels: its fused path ran the composed ops\n`;
}

function parseKernelPaths(value: string): ('fused' | 'reference')[] {
  const paths = value.split(',').map((m) => m.trim());
  if (paths.length === 0 || new Set(paths).size !== paths.length || paths.some((p) => !(KERNEL_PATHS as readonly string[]).includes(p))) {
    throw new UsageError(`--kernels must list distinct paths among ${KERNEL_PATHS.join(', ')}, got '${value}'`);
  }
  return paths as ('fused' | 'reference')[];
}

function searchStepCommand(io: CliIo): Command {
  const command = new Command('search-step')
    .summary('time one search step: fused against reference kernels, noise against direct quantization')
    .description(
      "Times the search's step (an α step with L1 + entropy + BitOps penalty, then a weight step with " +
        'gradient clipping and Adam) of a supernet per mode (noise: quantization noise, one convolution per op; ' +
        'direct: LSQ/HWGQ per bit-width, mixed) and per kernel path (fused: one kernel per quantizer, noise mix ' +
        'and mixed-op sum, and one per gradient; reference: the same math in composed tfjs ops), on the same ' +
        "random batch, in one process. The paths' steps alternate so that both see the same machine load; " +
        'times are medians over --steps after --warmup steps. One more step per path runs under the tfjs ' +
        'profiler: kernels/step counts its kernels, conv share is the share of its time in convolution kernels.' +
        '\n\n--preset quick|cpu times the supernet that `quantnas run --preset P` searches (rfdn-bicubic at the ' +
        "preset's width, cells, batch and patch size); the size options override it." +
        '\n\nWith --workers n each path is also timed data-parallel over n replicas (this thread and n − 1 ' +
        'worker threads), alternating with the one-thread step; the JSON then holds workers_speedup (ratio of ' +
        'step rates) and parallel_profile (ms per step: sending, own shard, waiting for the workers, reducing, ' +
        "optimiser; the workers' assign, compute and pack times). " +
        "The one-thread step on one replica's shard of the batch is timed too (shard_ms): the bound column " +
        '(workers_bound) is the step over the shard step, the speedup if every replica ran its shard as fast as ' +
        'one thread alone and nothing were sent; the gap between bound and speedup is the cores slowing each ' +
        'other (shared caches and memory) and the communication.',
    )
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow', 'wasm')
    .option('--preset <name>', 'time the supernet of a search preset: quick or cpu')
    .option('--space <space>', 'search space id or document path (default: rfdn, or rfdn-bicubic with --preset)')
    .option('--channels <n>', "supernet width C (rfdn needs a multiple of 12; default 12 or the preset's)")
    .option('--cells <n>', "cells (default 1 or the preset's)")
    .option('--batch <n>', "LR patches per step (default 4 or the preset's)")
    .option('--size <n>', "LR patch side in pixels, rfdn needs ≥ 15 (default 16 or the preset's)")
    .option('--steps <n>', 'timed steps per mode and path', '3')
    .option('--warmup <n>', 'untimed steps first', '1')
    .option('--workers <n>', 'also time the step data-parallel over n replicas (n − 1 worker threads) and report the speedup', '1')
    .option('--modes <list>', `comma-separated modes to time (${SEARCH_STEP_MODES.join(', ')})`, 'noise,direct')
    .option('--kernels <list>', `comma-separated kernel paths to time (${KERNEL_PATHS.join(', ')})`, 'fused,reference')
    .option('--json', 'print one JSON object on stdout instead of text')
    .action(async (options: SearchStepOptions) => {
      const core = await import('@quantnas/core-ops');
      const { benchSearchStep } = await import('@quantnas/search');
      const backend = parseWith(core.parseBackendName, options.backend, '--backend');
      const modes = options.modes.split(',').map((m) => m.trim());
      const unknown = modes.filter((m) => !(SEARCH_STEP_MODES as readonly string[]).includes(m));
      if (modes.length === 0 || unknown.length > 0 || new Set(modes).size !== modes.length) {
        throw new UsageError(`--modes must list distinct modes among ${SEARCH_STEP_MODES.join(', ')}, got '${options.modes}'`);
      }
      if (options.preset !== undefined && options.preset !== 'quick' && options.preset !== 'cpu') {
        throw new UsageError(`--preset must be quick or cpu, got '${options.preset}'`);
      }
      const optional = (value: string | undefined, name: string) => (value === undefined ? undefined : parseInteger(value, name, 1));
      const sizes = {
        channels: optional(options.channels, '--channels'),
        cells: optional(options.cells, '--cells'),
        batch: optional(options.batch, '--batch'),
        size: optional(options.size, '--size'),
      };
      const run = {
        modes: modes as (typeof SEARCH_STEP_MODES)[number][],
        kernels: parseKernelPaths(options.kernels),
        backend,
        ...(options.preset !== undefined ? { preset: options.preset as 'quick' | 'cpu' } : {}),
        ...(options.space !== undefined ? { space: options.space } : {}),
        ...Object.fromEntries(Object.entries(sizes).filter(([, v]) => v !== undefined)),
        steps: parseInteger(options.steps, '--steps', 1),
        warmup: parseInteger(options.warmup, '--warmup', 0),
        workers: parseInteger(options.workers, '--workers', 1),
      };
      if (io.interactive) io.stderr(`timing ${run.warmup} + ${run.steps} search steps per mode and kernel path on '${backend}'...\n`);
      let bench: Awaited<ReturnType<typeof benchSearchStep>>;
      try {
        bench = await benchSearchStep(run);
      } catch (error) {
        if (error instanceof core.BackendUnavailableError || (error instanceof Error && ['SpecError', 'RangeError'].includes(error.name))) {
          throw new UsageError(error.message);
        }
        throw error;
      }
      const first = bench.modes[run.modes[0]!]!;
      const path = (c: PathComparison | undefined) => c?.fused ?? c?.reference;
      const noise = path(bench.modes.noise)?.ms;
      const direct = path(bench.modes.direct)?.ms;
      const result = {
        ...comparisonJson(first),
        ...Object.fromEntries(Object.entries(bench.modes).map(([mode, c]) => [`${mode}_ms`, path(c)!.ms])),
        ...(noise !== undefined && direct !== undefined ? { speedup: direct / noise } : {}),
        backend: bench.backend,
        space: bench.space,
        preset: bench.preset,
        channels: bench.channels,
        cells: bench.cells,
        batch: bench.batch,
        size: bench.size,
        steps: bench.steps,
        workers: bench.workers,
        fused_kernels_available: bench.fusedAvailable,
        modes: Object.fromEntries(Object.entries(bench.modes).map(([mode, c]) => [mode, comparisonJson(c)])),
      };
      if (options.json) {
        io.stdout(JSON.stringify(result) + '\n');
        return;
      }
      const lines = Object.entries(bench.modes).flatMap(([mode, c]) =>
        c.speedupVsReference !== undefined
          ? [
              `${mode}: fused kernels ${c.speedupVsReference.toFixed(2)}× as fast as reference, ${(c.reference!.kernels / c.fused!.kernels).toFixed(1)}× fewer kernels\n`,
            ]
          : [],
      );
      io.stdout(
        `search step (α + w) of ${bench.space}${bench.preset ? ` (preset ${bench.preset})` : ''} C=${bench.channels ?? 'space'} cells=${bench.cells ?? 'space'}, batch ${bench.batch} of ${bench.size}×${bench.size} LR on ${bench.backend}\n` +
          renderTable(
            comparisonHeader('mode', bench.workers),
            Object.entries(bench.modes).flatMap(([mode, c]) => comparisonRows(mode, c, bench.workers)),
          ) +
          lines.join('') +
          (noise !== undefined && direct !== undefined
            ? `noise is ${(direct / noise).toFixed(2)}× as fast as direct (${path(bench.modes.noise) === bench.modes.noise?.fused ? 'fused' : 'reference'} kernels)\n`
            : '') +
          noFusedNote(bench),
      );
    });
  return command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).showHelpAfterError('(run with --help for usage)').exitOverride();
}

interface KernelsOptions {
  reps: string;
  tiny?: boolean;
  json?: boolean;
}

function kernelsCommand(io: CliIo): Command {
  return new Command('kernels')
    .summary("time core-ops' replacement wasm kernels against what they replaced or chose not to run")
    .description(
      "Times, on the wasm backend and on the shapes of the quick training preset's networks (batch 16 of " +
        '32×32 LR, HR 128×128), each kernel core-ops registers against the alternative in the same run: ' +
        "Slice, SplitV and Tile against the wasm backend's own, each conv filter gradient against the way " +
        'its shape did not choose (a GEMM over windows of the input, or the swapped conv), the depthwise ' +
        'filter gradient of the bicubic skip through the dense conv against the folded depthwise conv. ' +
        "The sides alternate; times are medians over --reps runs after one untimed run each. Both sides' " +
        'outputs are compared: `agree` is max |ours − other| / max |other| (0 for the copies).',
    )
    .option('--reps <n>', 'timed runs per side', '10')
    .option('--tiny', 'small shapes: checks that the bench runs, its times mean nothing')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: KernelsOptions) => {
      const { benchWasmKernels } = await import('@quantnas/core-ops');
      const bench = await benchWasmKernels({ reps: parseInteger(options.reps, '--reps', 1), tiny: Boolean(options.tiny) });
      if (options.json) {
        io.stdout(
          JSON.stringify({
            backend: bench.backend,
            reps: bench.reps,
            cases: bench.cases.map((c) => ({
              kernel: c.kernel,
              label: c.label,
              ours: c.ours,
              other: c.other,
              ours_ms: c.oursMs,
              other_ms: c.otherMs,
              speedup: c.speedup,
              relative_difference: c.relativeDifference,
            })),
          }) + '\n',
        );
        return;
      }
      const rows = bench.cases.map((c) => [
        c.kernel,
        c.label,
        c.ours,
        c.oursMs.toFixed(2),
        c.other,
        c.otherMs.toFixed(2),
        `${c.speedup.toFixed(2)}×`,
        c.relativeDifference.toExponential(1),
      ]);
      io.stdout(
        `wasm kernels, medians of ${bench.reps} run${bench.reps === 1 ? '' : 's'}${options.tiny ? ' (tiny shapes: times mean nothing)' : ''}\n` +
          renderTable(['kernel', 'case', 'ours', 'ms', 'other', 'ms', 'speedup', 'agree'], rows, [1, 2, 4]),
      );
    })
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}
