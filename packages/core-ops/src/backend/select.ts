// The single place where the compute backend is chosen. Everything that runs tensors calls
// `initBackend` first and records the `BackendInfo` it returns.
import { tf } from '../tf.js';
import { parseBackendName, type BackendInfo, type BackendName, type ResolvedBackend } from '../backend.js';
import { BackendUnavailableError, messageOf } from './optional-module.js';
import { findTensorflowPackage, initTensorflow } from './tensorflow.js';
import { shareSavedTensors } from './saved-tensors.js';
import { initWasm, type WasmOptions } from './wasm.js';
import { initWebGpu, probeWebGpu, type WebGpuOptions } from './webgpu.js';

export interface InitBackendOptions extends WasmOptions, WebGpuOptions {}

/** Concrete backends started in this process; starting one again is free. */
const started = new Map<ResolvedBackend, BackendInfo>();
let autoChoice: BackendInfo | undefined;
let current: BackendInfo | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Selects (and on first use starts) a backend and makes it tfjs's active one.
 * - `wasm`: tfjs-backend-wasm, SIMD, with XNNPACK-based conv gradient kernels. The CPU default.
 * - `cpu`: tfjs-backend-cpu, pure JS; slow, the correctness oracle.
 * - `webgpu`: tfjs-backend-webgpu through Dawn in Node (or the browser's WebGPU); any adapter,
 *   software ones included.
 * - `tensorflow`: libtensorflow through @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, when the
 *   user has installed one.
 * - `auto`: tensorflow if installed, else webgpu on a hardware adapter, else wasm; `skipped` says why.
 * Idempotent: the same name gives the same result; options apply when a backend is first started.
 * Calls are serialised. Throws `BackendUnavailableError` when the backend cannot run here.
 */
export function initBackend(name: BackendName = 'auto', options: InitBackendOptions = {}): Promise<BackendInfo> {
  const run = queue.then(() => select(name, options));
  queue = run.catch(() => undefined);
  return run;
}

/** What a run without an explicit choice runs on: wasm, the CPU backend every machine has. */
export const DEFAULT_BACKEND: ResolvedBackend = 'wasm';

/**
 * The one backend decision for runs: the backend asked for, else the one already selected in this
 * process (a caller, a test or an earlier run chose it), else `DEFAULT_BACKEND`. Every caller
 * records the `BackendInfo` it returns.
 */
export async function ensureBackend(requested?: BackendName, options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (requested !== undefined) return initBackend(requested, options);
  if (current && tf.getBackend() === current.name) return current;
  return initBackend(DEFAULT_BACKEND, options);
}

/** The backend the last `initBackend` selected; throws when none was. */
export function currentBackend(): BackendInfo {
  if (!current) throw new Error('no backend selected yet: call initBackend() first');
  const active = tf.getBackend();
  if (active !== current.name) {
    throw new Error(`the active tfjs backend is '${active}' but initBackend selected '${current.name}': select backends only through initBackend()`);
  }
  return current;
}

async function select(requested: BackendName, options: InitBackendOptions): Promise<BackendInfo> {
  parseBackendName(requested); // Callers from JavaScript or the command line may pass anything.
  let info: BackendInfo;
  if (requested === 'auto') {
    autoChoice ??= await chooseAuto(options);
    info = { ...(await start(autoChoice.name, options)), requested, ...(autoChoice.skipped ? { skipped: autoChoice.skipped } : {}) };
  } else {
    info = { ...(await start(requested, options)), requested };
  }
  current = info;
  return info;
}

async function start(name: ResolvedBackend, options: InitBackendOptions): Promise<BackendInfo> {
  shareSavedTensors();
  const known = started.get(name);
  if (known) {
    if (tf.getBackend() !== name && !(await tf.setBackend(name))) {
      throw new BackendUnavailableError(name, `backend '${name}' could not be re-selected`);
    }
    return known;
  }
  let info: BackendInfo;
  switch (name) {
    case 'wasm':
      info = await initWasm(options);
      break;
    case 'webgpu':
      info = await initWebGpu(options);
      break;
    case 'tensorflow':
      info = await initTensorflow();
      break;
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new BackendUnavailableError('cpu', 'the cpu backend failed to start');
      // Its first write prints advice to install tfjs-node; backend choice is made here instead.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      info = { name: 'cpu', detail: `tfjs-backend-cpu ${tf.version_core} (pure JavaScript)` };
      break;
  }
  started.set(name, info);
  return info;
}

/** tensorflow if installed and working, else webgpu on a hardware adapter, else wasm. */
async function chooseAuto(options: InitBackendOptions): Promise<BackendInfo> {
  const skipped: string[] = [];
  const tfNode = await findTensorflowPackage();
  if (tfNode) {
    try {
      return await start('tensorflow', options);
    } catch (error) {
      skipped.push(`tensorflow: ${messageOf(error)}`);
    }
  } else {
    skipped.push('tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed');
  }
  const probe = await probeWebGpu({ ...options, requireDriver: true });
  if (probe.found && !probe.adapter.software) {
    try {
      return await start('webgpu', options);
    } catch (error) {
      skipped.push(`webgpu: ${messageOf(error)}`);
    }
  } else if (probe.found) {
    skipped.push(`webgpu: '${probe.adapter.description || probe.adapter.device}' is a software adapter, slower than wasm`);
  } else {
    skipped.push(`webgpu: ${probe.reason}`);
  }
  const wasm = await start('wasm', options);
  return { ...wasm, skipped };
}
