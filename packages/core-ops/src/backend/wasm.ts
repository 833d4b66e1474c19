import { tf } from '../tf.js';
import type { BackendInfo } from '../backend.js';
import { registerWasmTrainingKernels } from './kernels/index.js';
import { BackendUnavailableError, isNode, messageOf, resolveOptional } from './optional-module.js';

export interface WasmOptions {
  /**
   * Where the .wasm binaries are served from: a directory or URL prefix ending in '/'. Default in
   * Node: the installed package's own dist directory; in a browser: next to the bundled script.
   */
  readonly wasmPaths?: string;
}

/**
 * tfjs-backend-wasm with its SIMD build, and the gradient kernels it lacks (or runs slowly)
 * replaced by ones built from its XNNPACK forward conv.
 */
export async function initWasm(options: WasmOptions = {}): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const prefix = options.wasmPaths ?? (await packageDistDir());
  if (prefix) wasm.setWasmPaths(prefix);
  // tfjs-backend-wasm cannot start its thread pool in Node (no Blob workers); say so explicitly.
  if (isNode()) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  registerWasmTrainingKernels();
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } catch (error) {
    throw new BackendUnavailableError('wasm', `the wasm backend failed to start: ${messageOf(error)}`, { cause: error });
  }
  if (!ok) {
    throw new BackendUnavailableError('wasm', `the wasm backend failed to start (could not load its .wasm binary from ${prefix ?? 'the script directory'})`);
  }
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threads = wasm.getThreadsCount();
  return {
    name: 'wasm',
    detail: `tfjs-backend-wasm ${wasm.version_wasm}, ${simd ? 'SIMD' : 'no SIMD (slow build)'}, ${threads} thread${threads === 1 ? '' : 's'}, XNNPACK conv gradients`,
    wasm: { simd, threads },
  };
}

async function packageDistDir(): Promise<string | undefined> {
  if (!isNode()) return undefined;
  const main = await resolveOptional('@tensorflow/tfjs-backend-wasm');
  if (!main) return undefined;
  const { dirname, sep } = await import('node:path');
  return dirname(main) + sep;
}
