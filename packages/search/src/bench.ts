import { currentBackend, initBackend, tf, type BackendName } from '@quantnas/core-ops';
import { createSupernet, loadSpec, type SearchMode } from '@quantnas/search-spaces';
import { createAdam } from './adam.js';
import { alphaStep, weightStep } from './search.js';

export interface SearchStepBenchOptions {
  readonly space?: string;
  readonly channels?: number;
  readonly cells?: number;
  readonly batch?: number;
  /** LR patch side. */
  readonly size?: number;
  readonly steps?: number;
  readonly warmup?: number;
  readonly backend?: BackendName;
  readonly modes?: readonly SearchMode[];
  readonly seed?: number;
}

export interface SearchStepBench {
  readonly backend: string;
  readonly space: string;
  readonly channels: number | null;
  readonly cells: number | null;
  readonly batch: number;
  readonly size: number;
  readonly steps: number;
  /** Median milliseconds of one search step (α step + w step) per mode. */
  readonly ms: Readonly<Partial<Record<SearchMode, number>>>;
}

/**
 * Times the search's step (an α step with the full objective, then a w step with gradient
 * clipping and Adam) of one supernet per mode, on the same batch, in one process. Medians of
 * `steps` timed steps after `warmup` untimed ones.
 */
export async function benchSearchStep(options: SearchStepBenchOptions = {}): Promise<SearchStepBench> {
  const space = options.space ?? 'rfdn';
  const batch = options.batch ?? 4;
  const size = options.size ?? 16;
  const steps = options.steps ?? 3;
  const warmup = options.warmup ?? 1;
  const seed = options.seed ?? 1;
  const backend = options.backend ? (await initBackend(options.backend)).name : await current();
  const spec = await loadSpec(space);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
  const scale = spec.scale;
  const y = tf.randomUniform([batch, size * scale, size * scale, 3], 0, 1, 'float32', seed + 1) as tf.Tensor4D;
  const ms: Partial<Record<SearchMode, number>> = {};
  try {
    for (const mode of options.modes ?? ['noise', 'direct']) {
      const net = createSupernet(spec, {
        mode,
        adq: true,
        seed,
        ...(options.channels !== undefined ? { channels: options.channels } : {}),
        ...(options.cells !== undefined ? { cells: options.cells } : {}),
      });
      const wAdam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: 3e-8 });
      const aAdam = createAdam({ beta1: 0.5, beta2: 0.999 });
      const weights = net.weightVariables();
      const alphas = net.alphaVariables();
      const b0 = (await net.expectedBitops().data())[0]!;
      const step = async () => {
        await alphaStep(net, alphas, aAdam, tf.clone(x), tf.clone(y), { entropy: 'entropy', entropyWeight: 1e-3, penalty: 1e-4, b0, lr: 3e-4 });
        await net.updateSkippedOps();
        await weightStep(net, weights, wAdam, tf.clone(x), tf.clone(y), 1e-3, 5);
      };
      try {
        for (let i = 0; i < warmup; i++) await step();
        const times: number[] = [];
        for (let i = 0; i < steps; i++) {
          const t0 = performance.now();
          await step();
          times.push(performance.now() - t0);
        }
        times.sort((a, b) => a - b);
        ms[mode] = times[Math.floor(times.length / 2)]!;
      } finally {
        net.dispose();
        wAdam.dispose();
        aAdam.dispose();
      }
    }
  } finally {
    tf.dispose([x, y]);
  }
  return { backend, space: spec.id, channels: options.channels ?? null, cells: options.cells ?? null, batch, size, steps, ms };
}

async function current(): Promise<string> {
  try {
    return currentBackend().name;
  } catch {
    return (await initBackend('wasm')).name;
  }
}
