/**
 * The compute backends a run can ask for. `auto` picks the best one available; every result
 * records the concrete backend it ran on (a `ResolvedBackend`).
 */
export const BACKEND_NAMES = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type ResolvedBackend = Exclude<BackendName, 'auto'>;

/** What a WebGPU adapter is and what it allows; every tensor must fit one storage binding. */
export interface WebGpuAdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader, Dawn's fallback adapter). */
  readonly software: boolean;
  /** Bytes; the largest tensor the backend can hold (128 MiB on lavapipe). */
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

export interface BackendInfo {
  readonly name: ResolvedBackend;
  /** What was found, e.g. the WebGPU adapter or the tfjs-node flavour. */
  readonly detail?: string;
  /** The name the caller asked for (`auto` resolves to `name`). */
  readonly requested?: BackendName;
  /** Under `auto`: why the better backends were not used. */
  readonly skipped?: readonly string[];
  readonly wasm?: { readonly simd: boolean; readonly threads: number };
  readonly webgpu?: WebGpuAdapterSummary;
  /** The package that provides the `tensorflow` backend. */
  readonly tensorflowPackage?: string;
}

export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`unknown backend '${value}' (expected one of: ${BACKEND_NAMES.join(', ')})`);
}
