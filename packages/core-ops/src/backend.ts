/**
 * The compute backends a run can ask for. `auto` picks the best one available; every result
 * records the concrete backend it ran on (a `ResolvedBackend`).
 */
export const BACKEND_NAMES = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type ResolvedBackend = Exclude<BackendName, 'auto'>;

export interface BackendInfo {
  readonly name: ResolvedBackend;
  /** What was found, e.g. the WebGPU adapter or the tfjs-node flavour. */
  readonly detail?: string;
}

export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new Error(`unknown backend '${value}' (expected one of: ${BACKEND_NAMES.join(', ')})`);
}
