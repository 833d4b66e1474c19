import { Command } from 'commander';
import { UsageError, type CliIo } from '../io.js';
import { parseInteger, parseWith } from '../options.js';
import { renderTable } from '../table.js';
import { esrganBenchCommand } from './bench-esrgan.js';
import { runtimeBenchCommand } from './bench-runtime.js';

interface TrainStepOptions {
  backend: string;
  steps: string;
  warmup: string;
  batch: string;
  size: string;
  compare?: string;
  compareBatch: string;
  json?: boolean;
}

export function benchCommand(io: CliIo): Command {
  const bench = new Command('bench')
    .summary('measure how fast this machine trains and runs networks')
    .description(
      'Benchmarks: train-step and search-step on the compute backends of @quantnas/core-ops (wasm, cpu, ' +
        'webgpu, tensorflow); runtime: an exported model on the int8 engine against the same network in ' +
        'fp32 on tfjs-wasm; esrgan-slim: an exported model against UpscalerJS\'s ESRGAN Slim on the benchmark sets.',
    );
  const trainStep = new Command('train-step')
    .summary('throughput of one training step of the reference SR net')
    .description(
      'Times one Adam step (lr 1e-3, L1 loss against a random HR target) of the fixed reference x4 net: ' +
        '3→32 conv3×3, four residual blocks x + relu(conv3×3 32→32), conv3×3 32→48, pixel shuffle ×4 ' +
        '(51,552 MACs per LR pixel).\n\nGFLOP/s counts conv work only: 2·MACs for the forward pass and ' +
        '3 × 2·MACs for a training step (forward, input gradient, filter gradient). The forward pass ' +
        'alone is timed too, on the same batch. Times are medians over --steps after --warmup steps. ' +
        '\n\nBackends: auto picks tensorflow (if @tensorflow/tfjs-node[-gpu] is installed), else WebGPU on ' +
        'a hardware GPU, else wasm.',
    )
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow', 'auto')
    .option('--steps <n>', 'timed steps', '10')
    .option('--warmup <n>', 'untimed steps first', '3')
    .option('--batch <n>', 'LR patches per step', '16')
    .option('--size <n>', 'LR patch side in pixels (HR is 4×)', '32')
    .option(
      '--compare <backend>',
      'also time one step on another backend (e.g. cpu) and report the speedup in GFLOP/s; ' +
        'the cpu backend needs minutes for a batch-16 step, hence --compare-batch',
    )
    .option('--compare-batch <n>', 'batch for the --compare run', '2')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: TrainStepOptions) => {
      const core = await import('@quantnas/core-ops');
      const backend = parseWith(core.parseBackendName, options.backend, '--backend');
      const compare = options.compare === undefined ? undefined : parseWith(core.parseBackendName, options.compare, '--compare');
      const steps = parseInteger(options.steps, '--steps', 1);
      const warmup = parseInteger(options.warmup, '--warmup', 0);
      const batch = parseInteger(options.batch, '--batch', 1);
      const size = parseInteger(options.size, '--size', 1);
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
  trainStep
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  return bench.addCommand(trainStep).addCommand(searchStepCommand(io)).addCommand(runtimeBenchCommand(io)).addCommand(esrganBenchCommand(io));
}

interface SearchStepOptions {
  backend: string;
  space: string;
  channels: string;
  cells: string;
  batch: string;
  size: string;
  steps: string;
  warmup: string;
  workers: string;
  modes: string;
  json?: boolean;
}

const SEARCH_STEP_MODES = ['noise', 'direct', 'fp'] as const;

function searchStepCommand(io: CliIo): Command {
  const command = new Command('search-step')
    .summary('time one search step in noise and in direct quantization mode')
    .description(
      'Times the search\'s step (an α step with L1 + entropy + BitOps penalty, then a weight step with ' +
        'gradient clipping and Adam) of the same supernet built in noise mode (quantization noise, one ' +
        'convolution per op) and in direct mode (LSQ/HWGQ per bit-width, mixed), on the same random batch, ' +
        'in one process. Medians over --steps after --warmup steps. The paper reports noise about 1.3× faster.' +
        '\n\nWith --workers n the same step is also timed data-parallel over n replicas (this thread and n − 1 ' +
        'worker threads), alternating with the one-thread step so that both see the same machine load; the JSON ' +
        'then holds worker_speedup (ratio of step rates) and parallel_profile (ms per step: sending, own shard, ' +
        'waiting for the workers, reducing, optimiser; the workers\' assign, compute and pack times).',
    )
    .option('--backend <name>', 'auto, wasm, cpu, webgpu or tensorflow', 'wasm')
    .option('--space <space>', 'search space id or document path', 'rfdn')
    .option('--channels <n>', 'supernet width C (rfdn needs a multiple of 6)', '12')
    .option('--cells <n>', 'cells', '1')
    .option('--batch <n>', 'LR patches per step', '4')
    .option('--size <n>', 'LR patch side in pixels (rfdn needs ≥ 15)', '16')
    .option('--steps <n>', 'timed steps per mode', '3')
    .option('--warmup <n>', 'untimed steps first', '1')
    .option('--workers <n>', 'also time the step data-parallel over n replicas (n − 1 worker threads) and report the speedup', '1')
    .option('--modes <list>', `comma-separated modes to time (${SEARCH_STEP_MODES.join(', ')})`, 'noise,direct')
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
      const run = {
        modes: modes as (typeof SEARCH_STEP_MODES)[number][],
        backend,
        space: options.space,
        channels: parseInteger(options.channels, '--channels', 1),
        cells: parseInteger(options.cells, '--cells', 1),
        batch: parseInteger(options.batch, '--batch', 1),
        size: parseInteger(options.size, '--size', 1),
        steps: parseInteger(options.steps, '--steps', 1),
        warmup: parseInteger(options.warmup, '--warmup', 0),
        workers: parseInteger(options.workers, '--workers', 1),
      };
      if (io.interactive) io.stderr(`timing ${run.warmup} + ${run.steps} search steps per mode on '${backend}'...\n`);
      let bench: Awaited<ReturnType<typeof benchSearchStep>>;
      try {
        bench = await benchSearchStep(run);
      } catch (error) {
        if (error instanceof core.BackendUnavailableError || (error instanceof Error && ['SpecError', 'RangeError'].includes(error.name))) {
          throw new UsageError(error.message);
        }
        throw error;
      }
      const noise = bench.ms.noise;
      const direct = bench.ms.direct;
      const result = {
        ...Object.fromEntries(Object.entries(bench.ms).map(([mode, t]) => [`${mode}_ms`, t])),
        ...(noise !== undefined && direct !== undefined ? { speedup: direct / noise } : {}),
        backend: bench.backend,
        space: bench.space,
        channels: bench.channels,
        cells: bench.cells,
        batch: bench.batch,
        size: bench.size,
        steps: bench.steps,
        ...(bench.workerSpeedup
          ? { workers: bench.workers, parallel_ms: bench.parallelMs, worker_speedup: bench.workerSpeedup, parallel_profile: bench.parallelProfile }
          : {}),
      };
      if (options.json) {
        io.stdout(JSON.stringify(result) + '\n');
        return;
      }
      io.stdout(
        `search step (α + w) of ${bench.space} C=${bench.channels} cells=${bench.cells}, batch ${bench.batch} of ${bench.size}×${bench.size} LR on ${bench.backend}\n` +
          renderTable(
            bench.parallelMs ? ['mode', 'ms/step', `ms/step on ${bench.workers}`, 'speedup'] : ['mode', 'ms/step'],
            Object.entries(bench.ms).map(([mode, t]) => {
              const p = bench.parallelMs?.[mode as keyof typeof bench.ms];
              return [mode, t!.toFixed(1), ...(p !== undefined ? [p.toFixed(1), `${(t! / p).toFixed(2)}×`] : [])];
            }),
          ) +
          (noise !== undefined && direct !== undefined ? `noise is ${(direct / noise).toFixed(2)}× as fast as direct\n` : ''),
      );
    });
  return command
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}
