// Times core-ops' replacement wasm kernels against what they replaced or chose not to run, on the
// shapes of the searched and trained networks, in one run: the copies (Slice, SplitV, Tile) against
// the wasm backend's own, each filter gradient against its other way. Both sides' outputs are
// compared, so the bench also says that they agree.
import { initBackend } from '../backend/select.js';
import { filterGradientPath, filterGradientTuning } from '../backend/kernels/Conv2DBackpropFilter.js';
import { depthwiseFilterGradientTuning } from '../backend/kernels/DepthwiseConv2dNativeBackpropFilter.js';
import { replacedWasmKernel } from '../backend/kernels/replaced.js';
import { tf } from '../tf.js';

export interface WasmKernelBenchOptions {
  /** Timed runs per side (alternating), after one untimed run each; the median is reported. */
  readonly reps?: number;
  /** Small shapes (tests): the same cases at a fraction of the size. */
  readonly tiny?: boolean;
}

export interface WasmKernelCase {
  readonly kernel: string;
  /** What the case is, in the networks' terms. */
  readonly label: string;
  /** The way core-ops runs it, and the way it is compared with. */
  readonly ours: string;
  readonly other: string;
  readonly oursMs: number;
  readonly otherMs: number;
  /** otherMs / oursMs. */
  readonly speedup: number;
  /** max |ours − other| / max |other|: 0 for the copies. */
  readonly relativeDifference: number;
}

export interface WasmKernelBench {
  readonly backend: 'wasm';
  readonly reps: number;
  readonly cases: readonly WasmKernelCase[];
}

interface Side {
  readonly name: string;
  /** Runs the kernel once; returns its outputs, for `release`. */
  run(): tf.TensorInfo[];
  release(outputs: tf.TensorInfo[]): void;
}

interface Case {
  readonly kernel: string;
  readonly label: string;
  readonly inputs: Record<string, number[]>;
  readonly ours: (inputs: Record<string, tf.Tensor>) => Side;
  readonly other: (inputs: Record<string, tf.Tensor>) => Side;
}

/** Runs a registered kernel with a tuning knob set for the call. */
function registered(name: string, kernel: string, attrs: object, setUp: () => () => void = () => () => undefined) {
  return (inputs: Record<string, tf.Tensor>): Side => ({
    name,
    run() {
      const restore = setUp();
      try {
        const out = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
        return Array.isArray(out) ? out : [out];
      } finally {
        restore();
      }
    },
    // Tensors the engine tracks.
    release: (outputs) => tf.dispose(outputs as tf.Tensor[]),
  });
}

/** Runs the wasm backend's own kernel that core-ops replaced. */
function backendOwn(kernel: string, attrs: object) {
  return (inputs: Record<string, tf.Tensor>): Side => {
    const own = replacedWasmKernel(kernel);
    // Its set-up (binding its wasm function) never ran: core-ops' kernel was registered in its place.
    own.setupFunc?.(tf.backend());
    return {
      name: "the wasm backend's own",
      run() {
        const out = own.kernelFunc({ inputs, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo | tf.TensorInfo[];
        return Array.isArray(out) ? out : [out];
      },
      // Bare buffers: the kernel ran outside the engine.
      release: (outputs) => {
        for (const o of outputs) tf.backend().disposeData(o.dataId);
      },
    };
  };
}

function withPath<T extends { path: string }>(tuning: T, path: T['path']): () => () => void {
  return () => {
    const before = tuning.path;
    tuning.path = path;
    return () => {
      tuning.path = before;
    };
  };
}

function filterGradientCase(label: string, x: number[], co: number, k: number): Case {
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, x[3]!, co] };
  const inputs = { x, dy: [x[0]!, x[1]!, x[2]!, co] };
  // The way 'auto' picks is timed as ours, the other way against it.
  const info = tf.backend_util.computeConv2DInfo(
    inputs.x as [number, number, number, number],
    attrs.filterShape as [number, number, number, number],
    1,
    1,
    'same',
  );
  const chosen = filterGradientPath(info);
  const name = { gemm: 'GEMM over input windows', swapped: 'swapped conv' } as const;
  const other = chosen === 'gemm' ? 'swapped' : 'gemm';
  return {
    kernel: tf.Conv2DBackpropFilter,
    label,
    inputs,
    ours: registered(name[chosen], tf.Conv2DBackpropFilter, attrs),
    other: registered(name[other], tf.Conv2DBackpropFilter, attrs, withPath(filterGradientTuning, other)),
  };
}

function cases(tiny: boolean): Case[] {
  // Batch and LR side of the quick training preset (16 of 32×32), x4: HR 128×128.
  const [n, lr, hr] = tiny ? [2, 8, 16] : [16, 32, 128];
  const sliceAttrs = { begin: [0, 0, 0, 6], size: [n, lr, lr, 6] };
  const splitAttrs = { numOrSizeSplits: [6, 6, 6, 6], axis: 3 };
  const tileAttrs = { reps: [1, 1, 1, 4] };
  const depthwiseAttrs = { strides: [1, 1], pad: 'same', filterShape: [5, 5, 3, 16] };
  return [
    {
      kernel: tf.SplitV,
      label: "rfdn's channel split, 24 → 4 × 6",
      inputs: { x: [n, lr, lr, 24] },
      ours: registered('contiguous runs in place', tf.SplitV, splitAttrs),
      other: backendOwn(tf.SplitV, splitAttrs),
    },
    {
      kernel: tf.Slice,
      label: 'channels 6..11 of 24',
      inputs: { x: [n, lr, lr, 24] },
      ours: registered('contiguous runs in place', tf.Slice, sliceAttrs),
      other: backendOwn(tf.Slice, sliceAttrs),
    },
    {
      kernel: tf.Tile,
      label: "rfdn's input expansion, 3 → 12 channels",
      inputs: { x: [n, lr, lr, 3] },
      ours: registered('whole rows', tf.Tile, tileAttrs),
      other: backendOwn(tf.Tile, tileAttrs),
    },
    filterGradientCase('1×1, 12 → 12', [n, lr, lr, 12], 12, 1),
    filterGradientCase('3×3, 12 → 12', [n, lr, lr, 12], 12, 3),
    filterGradientCase('3×3, 12 → 48 (upsampling)', [n, lr, lr, 12], 48, 3),
    filterGradientCase('5×5, 12 → 12', [n, lr, lr, 12], 12, 5),
    filterGradientCase('3×3, 3 → 12 at HR (tail)', [n, hr, hr, 3], 12, 3),
    filterGradientCase('3×3, 12 → 3 at HR (tail)', [n, hr, hr, 12], 3, 3),
    {
      kernel: tf.DepthwiseConv2dNativeBackpropFilter,
      label: 'bicubic skip, 3 × 16, 5×5',
      inputs: { x: [n, lr, lr, 3], dy: [n, lr, lr, 48] },
      ours: registered('dense GEMM, diagonal blocks', tf.DepthwiseConv2dNativeBackpropFilter, depthwiseAttrs, withPath(depthwiseFilterGradientTuning, 'dense')),
      other: registered('folded depthwise conv', tf.DepthwiseConv2dNativeBackpropFilter, depthwiseAttrs, withPath(depthwiseFilterGradientTuning, 'folded')),
    },
  ];
}

async function valuesOf(outs: tf.TensorInfo[]): Promise<Float32Array[]> {
  const backend = tf.backend();
  return Promise.all(outs.map(async (o) => Float32Array.from((await backend.read(o.dataId)) as Float32Array)));
}

function relativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let scale = 0;
  for (const [i, x] of a.entries()) {
    const y = b[i]!;
    for (let j = 0; j < x.length; j++) {
      diff = Math.max(diff, Math.abs(x[j]! - y[j]!));
      scale = Math.max(scale, Math.abs(y[j]!));
    }
  }
  return scale === 0 ? diff : diff / scale;
}

const median = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)]!;

/** Ours against the other way per case, alternating, medians of `reps` runs each. */
export async function benchWasmKernels(options: WasmKernelBenchOptions = {}): Promise<WasmKernelBench> {
  const reps = options.reps ?? 10;
  if (!(Number.isInteger(reps) && reps >= 1)) throw new RangeError(`reps must be a positive integer, got ${reps}`);
  await initBackend('wasm');
  const results: WasmKernelCase[] = [];
  for (const c of cases(options.tiny ?? false)) {
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, shape], i) => [k, tf.randomUniform(shape, -1, 1, 'float32', i + 1)]));
    try {
      const sides = [c.ours(inputs), c.other(inputs)] as const;
      const first = await Promise.all(
        sides.map(async (side) => {
          const outs = side.run();
          const values = await valuesOf(outs);
          side.release(outs);
          return values;
        }),
      );
      const times: [number[], number[]] = [[], []];
      for (let r = 0; r < reps; r++) {
        for (const [i, side] of sides.entries()) {
          const t0 = performance.now();
          const outs = side.run();
          times[i]!.push(performance.now() - t0);
          side.release(outs);
        }
      }
      const [oursMs, otherMs] = [median(times[0]), median(times[1])];
      results.push({
        kernel: c.kernel,
        label: c.label,
        ours: sides[0].name,
        other: sides[1].name,
        oursMs,
        otherMs,
        speedup: otherMs / oursMs,
        relativeDifference: relativeDifference(first[0]!, first[1]!),
      });
    } finally {
      tf.dispose(Object.values(inputs));
    }
  }
  return { backend: 'wasm', reps, cases: results };
}
