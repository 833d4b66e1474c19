import { simdOnCurrentBackend } from '@quantnas/core-ops';
import { SIMD_MODULE_BASE64 } from './simd-binary.js';

/** The SIMD loops of assembly/fused.ts; pointers are byte offsets in the tfjs wasm heap. */
export interface SimdKernels {
  range(x: number, n: number, relu: boolean): number;
  noiseMix(x: number, out: number, n: number, relu: boolean, scale: number, count: number, k0: number, c0: number, k1: number, c1: number): void;
  scaleMasked(dy: number, x: number, out: number, n: number, g: number, relu: boolean): void;
  noiseMixSums(dy: number, x: number, n: number, relu: boolean, count: number, k0: number, k1: number): void;
  sumDot(): number;
  sumNoise0(): number;
  sumNoise1(): number;
  axpy(y: number, out: number, n: number, w: number, first: boolean): void;
  dot(a: number, b: number, n: number): number;
  hwgq(x: number, out: number, n: number, step: number, clip: number): void;
  passInside(dy: number, x: number, out: number, n: number, clip: number): void;
}

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

function compile(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = Uint8Array.from(atob(SIMD_MODULE_BASE64), (c) => c.charCodeAt(0));
    compiled = new WebAssembly.Module(bytes);
  } catch {
    // No SIMD in this engine: the kernels keep their plain loops.
    compiled = null;
  }
  return compiled;
}

/** The loops instantiated on `memory` (one instance per heap), or null where SIMD is unavailable. */
export function simdKernels(memory: WebAssembly.Memory): SimdKernels | null {
  if (instances.has(memory)) return instances.get(memory)!;
  const module = compile();
  let kernels: SimdKernels | null = null;
  if (module) {
    try {
      kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      kernels = null;
    }
  }
  instances.set(memory, kernels);
  return kernels;
}

/** Whether fused kernels on the current backend run these SIMD loops (wasm with SIMD). */
export function fusedSimdActive(): boolean {
  return simdOnCurrentBackend(simdKernels) !== null;
}
