import { tf } from '../tf.js';
import type { WebGpuBackendLike } from './webgpu-program.js';

// Fused kernels run as plain loops over Float32Arrays, on the cpu backend's arrays and directly on
// the wasm backend's heap (no copies), optionally with SIMD loops from a WebAssembly module that
// imports the wasm backend's memory: each replaces a chain of small tfjs kernels whose dispatch,
// not arithmetic, dominated a training step. On webgpu a kernel may give the same computation as
// WGSL programs (`FusedKernel.webgpu`, webgpu-program.ts).

type TensorInfo = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;

/** The backends that run fused kernels. */
export const FUSED_BACKENDS = ['cpu', 'wasm'] as const;
type FusedBackend = (typeof FUSED_BACKENDS)[number];

/** On wasm: the kernel's SIMD loops and the heap offsets of its inputs and outputs. */
export interface SimdContext<S> {
  readonly k: S;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

export interface FusedKernel<S = never> {
  readonly name: string;
  /** SIMD loops instantiated on the wasm backend's memory (null where unavailable). */
  readonly simd?: (memory: WebAssembly.Memory) => S | null;
  /** Input names in the order `compute` receives them. */
  inputNames(attrs: Attrs): readonly string[];
  /** Output shapes, from the input shapes (in `inputNames` order). */
  outputShapes(inputShapes: readonly (readonly number[])[], attrs: Attrs): number[][];
  /**
   * Fills every element of every output (wasm outputs start uninitialised), with the SIMD loops
   * where `simd` is given and the kernel has them.
   */
  compute(
    inputs: readonly Float32Array[],
    outputs: readonly Float32Array[],
    inputShapes: readonly (readonly number[])[],
    attrs: Attrs,
    simd: SimdContext<S> | null,
  ): void;
  /**
   * The same computation as WGSL programs on the webgpu backend (see webgpu-program.ts): returns
   * the outputs, in `outputShapes` order, from the inputs in `inputNames` order.
   */
  readonly webgpu?: (backend: WebGpuBackendLike, inputs: readonly TensorInfo[], attrs: Attrs) => TensorInfo[];
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: { asm?: { memory?: unknown } };
}

/** The wasm backend's heap, when it exposes it. */
function memoryOf(b: WasmBackendLike): WebAssembly.Memory | null {
  const memory = b.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

/** The kernel's inputs in `inputNames` order, each present and float32. */
function checkedInputs<S>(kernel: FusedKernel<S>, inputs: tf.NamedTensorInfoMap, attrs: Attrs): TensorInfo[] {
  return kernel.inputNames(attrs).map((name) => {
    const t = (inputs as Record<string, TensorInfo | undefined>)[name];
    if (!t) throw new Error(`${kernel.name}: missing input '${name}'`);
    if (t.dtype !== 'float32') throw new Error(`${kernel.name}: input '${name}' must be float32, got ${t.dtype}`);
    return t;
  });
}

function kernelFunc<S>(kernel: FusedKernel<S>, backendName: FusedBackend): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a = (attrs ?? {}) as Attrs;
    const infos = checkedInputs(kernel, inputs, a);
    const shapes = infos.map((t) => t.shape);
    const outShapes = kernel.outputShapes(shapes, a);
    const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
    if (backendName === 'wasm') {
      const b = backend as unknown as WasmBackendLike;
      // Allocate first: an allocation may grow the heap and detach views taken before it.
      const outs = outShapes.map((s) => b.makeOutput(s, 'float32'));
      const memory = kernel.simd ? memoryOf(b) : null;
      const k = memory ? kernel.simd!(memory) : null;
      const offset = (t: TensorInfo) => b.dataIdMap.get(t.dataId)!.memoryOffset;
      kernel.compute(
        infos.map((t) => b.typedArrayFromHeap(t)),
        outs.map((t) => b.typedArrayFromHeap(t)),
        shapes,
        a,
        k ? { k, inputs: infos.map(offset), outputs: outs.map(offset) } : null,
      );
      return outs.length === 1 ? outs[0]! : outs;
    }
    const b = backend as unknown as CpuBackendLike;
    const outValues = outShapes.map((s) => new Float32Array(size(s)));
    kernel.compute(
      infos.map((t) => b.data.get(t.dataId).values as Float32Array),
      outValues,
      shapes,
      a,
      null,
    );
    const outs = outShapes.map((s, i) => b.makeTensorInfo(s, 'float32', outValues[i]!));
    return outs.length === 1 ? outs[0]! : outs;
  };
}

function webgpuKernelFunc<S>(kernel: FusedKernel<S>): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a = (attrs ?? {}) as Attrs;
    const infos = checkedInputs(kernel, inputs, a);
    const outs = kernel.webgpu!(backend as unknown as WebGpuBackendLike, infos, a);
    return outs.length === 1 ? outs[0]! : outs;
  };
}

const registered = new Set<string>();
/** Registered fused kernels with no WGSL implementation: while any exists, webgpu takes the composed path. */
const withoutWebGpu = new Set<string>();

/**
 * Registers a fused kernel for every fused backend, and for webgpu when it has a WGSL
 * implementation (idempotent); returns its name.
 */
export function registerFusedKernel<S>(kernel: FusedKernel<S>): string {
  if (registered.has(kernel.name)) return kernel.name;
  for (const backendName of FUSED_BACKENDS) {
    if (!tf.getKernel(kernel.name, backendName)) tf.registerKernel({ kernelName: kernel.name, backendName, kernelFunc: kernelFunc(kernel, backendName) });
  }
  if (kernel.webgpu) {
    if (!tf.getKernel(kernel.name, 'webgpu')) tf.registerKernel({ kernelName: kernel.name, backendName: 'webgpu', kernelFunc: webgpuKernelFunc(kernel) });
  } else {
    withoutWebGpu.add(kernel.name);
  }
  registered.add(kernel.name);
  return kernel.name;
}

/** Registers a gradient once (tfjs warns on a second registration). */
export function registerFusedGradient(config: tf.GradConfig): void {
  if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
}

/**
 * Whether the current backend runs the fused kernels (else callers take the composed path): cpu
 * and wasm, and webgpu while every fused kernel registered has a WGSL implementation (all of
 * quant's and search's do; one without would send webgpu back to the composed path as a whole).
 */
export function fusedKernelsAvailable(): boolean {
  const backend = tf.getBackend();
  if (backend === 'webgpu') return withoutWebGpu.size === 0;
  return (FUSED_BACKENDS as readonly string[]).includes(backend);
}

/** SIMD loops instantiated on the current backend's heap, or null (not wasm, or no SIMD). */
export function simdOnCurrentBackend<S>(load: (memory: WebAssembly.Memory) => S | null): S | null {
  if (tf.getBackend() !== 'wasm') return null;
  const memory = memoryOf(tf.backend() as unknown as WasmBackendLike);
  return memory ? load(memory) : null;
}

export function runFused(name: string, inputs: tf.NamedTensorMap, attrs: Attrs): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
}

export function runFusedMulti(name: string, inputs: tf.NamedTensorMap, attrs: Attrs): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs) as unknown as tf.Tensor[];
}
