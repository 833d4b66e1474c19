import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage, Session } from '@quantnas/runtime';
import { median } from '../commands/bench-runtime.js';
import { UsageError, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { runtimeFiles } from '../runtime-files.js';
import type { ReportRun } from './inputs.js';

export interface LatencyOptions {
  readonly size: number;
  readonly threads: number;
  readonly rounds: number;
  readonly engine: 'simd128' | 'relaxed';
}

/** The exported model of a run: model.qnas in its directory, else the path its run.json names. */
function modelOf(r: ReportRun): string {
  const beside = join(r.dir, 'model.qnas');
  if (existsSync(beside)) return beside;
  const named = r.run.paths?.model;
  if (typeof named === 'string' && existsSync(named)) return named;
  throw new UsageError(`${r.dir}: no model.qnas to time (--x latency times each run's exported model)`);
}

/**
 * Times every run's model on the integer engine in this process: `rounds` rounds over all the
 * models, each timed alone after one untimed upscale; the median of each. Returns the runs with
 * `latencyMs` set.
 */
export async function measureRunLatencies(io: CliIo, runs: readonly ReportRun[], o: LatencyOptions): Promise<ReportRun[]> {
  const runtime = await import('@quantnas/runtime');
  const files = runtimeFiles();
  const kernels = {
    ...(files.kernels && !('exports' in files.kernels) ? files.kernels : {}),
    relaxedSimd: o.engine === 'relaxed' ? ('require' as const) : ('off' as const),
  };
  const data = new Uint8Array(o.size * o.size * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const image: RgbImage = { width: o.size, height: o.size, channels: 3, data };
  const progress = createProgress(io, 'timing models', 'upscale');
  const total = runs.length * o.rounds;
  let done = 0;
  const models = runs.map((r) => new Uint8Array(readFileSync(modelOf(r))));
  const times: number[][] = runs.map(() => []);
  try {
    // Rounds over all the models, each timed alone on an engine instance of its own after one
    // untimed upscale: as latency tables time their networks (docs/method.md §7.1).
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < runs.length; i++) {
        let session: Session;
        try {
          session = await runtime.createSession(models[i]!, { threads: o.threads, kernels, ...(files.workerUrl ? { workerUrl: files.workerUrl } : {}) });
        } catch (error) {
          if (error instanceof Error && /relaxed SIMD/.test(error.message)) throw new UsageError(`--engine relaxed: ${error.message}`);
          throw error;
        }
        try {
          await session.upscale(image);
          const t0 = performance.now();
          await session.upscale(image);
          times[i]!.push(performance.now() - t0);
        } finally {
          await session.dispose();
        }
        progress.update(++done, total, runs[i]!.label);
      }
    }
    return runs.map((r, i) => ({ ...r, latencyMs: median(times[i]!) }));
  } finally {
    progress.stop();
  }
}
