// Throughput of one training step (forward, L1, backward, Adam) of the reference net on a backend,
// and of the forward pass alone, in conv GFLOP/s. Only `await t.data()` reads values: the same code
// runs on webgpu, where synchronous reads fail.
import { tf } from '../tf.js';
import type { BackendInfo, BackendName } from '../backend.js';
import { trainableVariables, type Module } from '../module.js';
import { initBackend, type InitBackendOptions } from '../backend/select.js';
import { createReferenceNet, REFERENCE_NET } from './reference-net.js';

export interface TrainStepBenchOptions {
  readonly backend?: BackendName;
  /** Timed steps (default 10). */
  readonly steps?: number;
  /** Untimed steps first: heap growth, kernel setup, shader compilation (default 3). */
  readonly warmup?: number;
  /** LR patches per step (default 16). */
  readonly batch?: number;
  /** LR patch side in pixels (default 32); HR is 4× that. */
  readonly size?: number;
  readonly backendOptions?: InitBackendOptions;
}

export interface TrainStepBench {
  readonly backend: BackendInfo['name'];
  readonly backend_detail?: string;
  /** Under `auto`: why the preferred backends were not used. */
  readonly backend_skipped?: readonly string[];
  /** Median wall time of the timed steps, including reading the loss back. */
  readonly ms_per_step: number;
  /** Training conv FLOPs per second: 3 × 2 × MACs per step (forward, input and filter gradients). */
  readonly gflops: number;
  /** Forward-only throughput of the same net and batch: 2 × MACs per pass. */
  readonly forward_gflops: number;
  /** Median wall time of a forward pass, including reading the output back. */
  readonly forward_ms: number;
  readonly steps: number;
  readonly warmup: number;
  readonly batch: number;
  readonly size: number;
  readonly macs_per_step: number;
  /** Mean L1 loss after the last step (the net does train). */
  readonly final_loss: number;
}

export interface TrainStep {
  /** One Adam step; resolves to the loss once the step has completed on the device. */
  step(): Promise<number>;
  /** A forward pass alone; resolves once its output has been read back. */
  forward(): Promise<void>;
  dispose(): void;
}

/**
 * The training step the benchmark times, on the active backend: L1 between the upscaled random LR
 * batch and a random HR target, Adam with learning rate 1e-3.
 */
export function createTrainStep(options: { batch: number; size: number; seed?: number; net?: Module }): TrainStep {
  const { batch, size } = options;
  const seed = options.seed ?? 1;
  const net = options.net ?? createReferenceNet(seed);
  const hrSize = size * REFERENCE_NET.scale;
  const lr = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed + 100) as tf.Tensor4D;
  const hr = tf.randomUniform([batch, hrSize, hrSize, 3], 0, 1, 'float32', seed + 101) as tf.Tensor4D;
  const optimizer = tf.train.adam(1e-3);
  const vars = trainableVariables(net);
  const ctx = { training: true };
  return {
    async step() {
      const loss = optimizer.minimize(() => tf.mean(tf.abs(tf.sub(net.apply(lr, ctx), hr))) as tf.Scalar, true, vars);
      const value = (await loss!.data())[0]!;
      loss!.dispose();
      return value;
    },
    async forward() {
      const out = net.apply(lr, { training: false });
      await out.data();
      out.dispose();
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([lr, hr]);
      if (!options.net) net.dispose();
    },
  };
}

/** Times the reference net's training step (and forward pass) on a backend. */
export async function benchTrainStep(options: TrainStepBenchOptions = {}): Promise<TrainStepBench> {
  const steps = positiveInt('steps', options.steps ?? 10);
  const warmup = nonNegativeInt('warmup', options.warmup ?? 3);
  const batch = positiveInt('batch', options.batch ?? 16);
  const size = positiveInt('size', options.size ?? 32);
  const info = await initBackend(options.backend ?? 'auto', options.backendOptions);
  if (info.webgpu) {
    const largest = 4 * batch * size * size * Math.max(3 * REFERENCE_NET.scale ** 2, REFERENCE_NET.width);
    if (largest > info.webgpu.maxStorageBufferBindingSize) {
      throw new RangeError(
        `batch ${batch} of ${size}×${size} needs ${largest} bytes in one tensor, over this adapter's ` +
          `maxStorageBufferBindingSize (${info.webgpu.maxStorageBufferBindingSize}): use a smaller batch or size`,
      );
    }
  }
  const run = createTrainStep({ batch, size });
  try {
    for (let i = 0; i < warmup; i++) await run.step();
    let loss = NaN;
    const stepMs: number[] = [];
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      loss = await run.step();
      stepMs.push(performance.now() - start);
    }
    if (warmup > 0) await run.forward();
    const forwardMs: number[] = [];
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      await run.forward();
      forwardMs.push(performance.now() - start);
    }
    const msPerStep = median(stepMs);
    const forwardMsPerPass = median(forwardMs);
    const macs = REFERENCE_NET.macsPerLrPixel * batch * size * size;
    return {
      backend: info.name,
      ...(info.detail ? { backend_detail: info.detail } : {}),
      ...(info.skipped ? { backend_skipped: info.skipped } : {}),
      ms_per_step: msPerStep,
      gflops: (6 * macs) / (msPerStep * 1e6),
      forward_gflops: (2 * macs) / (forwardMsPerPass * 1e6),
      forward_ms: forwardMsPerPass,
      steps,
      warmup,
      batch,
      size,
      macs_per_step: macs,
      final_loss: loss,
    };
  } finally {
    run.dispose();
  }
}

/** Robust to the odd step slowed by other processes on a shared machine. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}
