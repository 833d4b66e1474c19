// tfjs WebGPU, in Node through Dawn (the `webgpu` package). The order below matters: tfjs-backend-webgpu
// registers itself only if `navigator.gpu` exists when it is loaded, so Dawn's globals go on
// globalThis, an adapter is requested, and only when one exists is `navigator.gpu` defined and the
// backend loaded.
import { tf } from '../tf.js';
import type { BackendInfo, WebGpuAdapterSummary } from '../backend.js';
import { addNChunkSize, chunkedAddNConfig } from './kernels/AddN.webgpu.js';
import { BackendUnavailableError, importFile, isNode, messageOf, resolveOptional } from './optional-module.js';

export interface WebGpuOptions {
  /** Which adapter to ask for; default 'high-performance'. */
  readonly powerPreference?: 'high-performance' | 'low-power';
}

export type WebGpuProbe = { readonly found: true; readonly adapter: WebGpuAdapterSummary } | { readonly found: false; readonly reason: string };

// Minimal structural types: the WebGPU typings are not part of this package's public surface.
interface AdapterLike {
  readonly info?: Record<string, unknown>;
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

const webgpuBackendSpecifier = '@tensorflow/tfjs-backend-webgpu';
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|softpipe/i;
const probes = new Map<string, Promise<WebGpuProbe>>();
/** Dawn's GPU object; held so that it lives as long as the backend. */
let gpu: GpuLike | undefined;
/** The chunked AddN once registered (see kernels/AddN.webgpu.ts). */
let chunkedAddN: tf.KernelConfig | undefined;

/** True for adapters that run on the CPU: on these WebGPU is a correctness path, not a fast one. */
export function isSoftwareAdapter(info: {
  architecture?: string;
  device?: string;
  description?: string;
  vendor?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (info.isFallbackAdapter) return true;
  if (info.architecture === 'software' || info.architecture === 'cpu') return true;
  return SOFTWARE_ADAPTER.test(`${info.device ?? ''} ${info.description ?? ''}`);
}

/**
 * Looks for a WebGPU adapter without starting the tfjs backend. With `requireDriver`, a Linux
 * machine with no Vulkan driver manifest at all is answered without loading Dawn (which would
 * print a warning): that is what `auto` uses.
 */
export function probeWebGpu(options: WebGpuOptions & { requireDriver?: boolean } = {}): Promise<WebGpuProbe> {
  const key = `${options.powerPreference ?? 'high-performance'}:${Boolean(options.requireDriver)}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = doProbe(options);
    probes.set(key, probe);
  }
  return probe;
}

async function doProbe(options: WebGpuOptions & { requireDriver?: boolean }): Promise<WebGpuProbe> {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  let candidate = gpu ?? nav?.gpu;
  if (!candidate) {
    if (!isNode()) return { found: false, reason: 'this environment has no navigator.gpu' };
    if (options.requireDriver && !(await hasVulkanDriver())) {
      return { found: false, reason: 'no Vulkan driver is installed (no ICD manifest found)' };
    }
    const dawnPath = await resolveOptional('webgpu');
    if (!dawnPath) {
      return { found: false, reason: "the 'webgpu' package (Dawn for Node) is not installed: npm install webgpu@0.6.2" };
    }
    try {
      const dawn = (await importFile(dawnPath)) as { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
      for (const [key, value] of Object.entries(dawn.globals)) {
        if (!(key in globalThis)) (globalThis as Record<string, unknown>)[key] = value;
      }
      candidate = dawn.create([]);
    } catch (error) {
      return { found: false, reason: `Dawn (the 'webgpu' package) failed to load: ${messageOf(error)}` };
    }
  }
  const powerPreference = options.powerPreference ?? 'high-performance';
  let adapter: AdapterLike | null;
  try {
    adapter = await candidate.requestAdapter({ powerPreference });
  } catch (error) {
    return { found: false, reason: `requestAdapter failed: ${messageOf(error)}` };
  }
  if (!adapter) {
    return {
      found: false,
      reason: 'no WebGPU adapter: Dawn found no usable Vulkan driver (install one, or point VK_ICD_FILENAMES at its manifest)',
    };
  }
  gpu = candidate;
  return { found: true, adapter: summarize(adapter) };
}

function summarize(adapter: AdapterLike): WebGpuAdapterSummary {
  const info = adapter.info ?? {};
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const fallback = adapter.isFallbackAdapter ?? (info['isFallbackAdapter'] as boolean | undefined) ?? false;
  const fields = { vendor: text('vendor'), architecture: text('architecture'), device: text('device'), description: text('description') };
  return {
    ...fields,
    software: isSoftwareAdapter({ ...fields, isFallbackAdapter: fallback }),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/** Starts tfjs-backend-webgpu on the adapter a probe found; a clear error when there is none. */
export async function initWebGpu(options: WebGpuOptions = {}): Promise<BackendInfo> {
  const probe = await probeWebGpu(options);
  if (!probe.found) throw new BackendUnavailableError('webgpu', `backend 'webgpu' is not available: ${probe.reason}`);
  const nav = ((globalThis as { navigator?: object }).navigator ??= {}) as { gpu?: GpuLike };
  if (nav.gpu !== gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true });
  if (!tf.findBackendFactory('webgpu')) {
    const path = isNode() ? await resolveOptional(webgpuBackendSpecifier) : null;
    if (isNode() && !path) {
      throw new BackendUnavailableError(
        'webgpu',
        "backend 'webgpu' needs @tensorflow/tfjs-backend-webgpu, which is not installed: npm install @tensorflow/tfjs-backend-webgpu@4.22.0",
      );
    }
    try {
      if (path) await importFile(path);
      else await import(/* @vite-ignore */ webgpuBackendSpecifier);
    } catch (error) {
      throw new BackendUnavailableError('webgpu', `@tensorflow/tfjs-backend-webgpu failed to load: ${messageOf(error)}`, { cause: error });
    }
    if (!tf.findBackendFactory('webgpu')) {
      throw new BackendUnavailableError(
        'webgpu',
        '@tensorflow/tfjs-backend-webgpu did not register itself: it was loaded before navigator.gpu existed, ' +
          'or it uses another copy of @tensorflow/tfjs-core (check `npm ls @tensorflow/tfjs-core`)',
      );
    }
  }
  // The backend's own factory requests the adapter again with this preference.
  tf.env().set('WEBGPU_USE_LOW_POWER_GPU', options.powerPreference === 'low-power');
  let ok = false;
  let failure: unknown;
  try {
    ok = await tf.setBackend('webgpu');
  } catch (error) {
    failure = error;
  }
  if (!ok) {
    // Otherwise tfjs keeps reporting webgpu and later ops throw.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    const why = failure ? `: ${messageOf(failure)}` : ' (device creation failed)';
    throw new BackendUnavailableError('webgpu', `backend 'webgpu' failed to start on '${probe.adapter.description}'${why}`, { cause: failure });
  }
  const addN = registerWebGpuAddN();
  const a = probe.adapter;
  const mib = Math.floor(a.maxStorageBufferBindingSize / 2 ** 20);
  return {
    name: 'webgpu',
    detail: `${a.description || a.device || a.vendor}${a.software ? ' (software adapter)' : ''}, max tensor ${mib} MiB, ${addN}`,
    webgpu: a,
  };
}

/**
 * Replaces the webgpu backend's AddN by one that sums in chunks its device can bind (idempotent;
 * other backends are untouched). QUANTNAS_WEBGPU_ADDN=raw keeps the backend's own AddN, which fails
 * validation beyond maxStorageBuffersPerShaderStage − 1 inputs. Call it with webgpu active; it says
 * which AddN runs, for `BackendInfo.detail`.
 */
function registerWebGpuAddN(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.['QUANTNAS_WEBGPU_ADDN'] === 'raw') return "tfjs' own AddN (QUANTNAS_WEBGPU_ADDN=raw)";
  const current = tf.getKernel(tf.AddN, 'webgpu');
  if (!current) return 'no AddN kernel';
  if (current !== chunkedAddN) {
    chunkedAddN = chunkedAddNConfig(current);
    // Unregister first: registerKernel would replace it too, but with a console warning.
    tf.unregisterKernel(tf.AddN, 'webgpu');
    tf.registerKernel(chunkedAddN);
  }
  return `AddN in chunks of ${addNChunkSize(tf.backend())}`;
}

/** Whether a Vulkan loader could find any driver (Linux); elsewhere assume it can. */
async function hasVulkanDriver(): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  const env = process.env;
  if (env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES) return true;
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const home = env.HOME ?? '/nonexistent';
  // The Vulkan loader's manifest search path.
  const roots = [
    env.XDG_CONFIG_HOME || join(home, '.config'),
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    '/usr/local/etc',
    '/etc',
    env.XDG_DATA_HOME || join(home, '.local/share'),
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ];
  for (const root of roots) {
    try {
      if ((await readdir(join(root, 'vulkan', 'icd.d'))).some((f) => f.endsWith('.json'))) return true;
    } catch {
      // Not there.
    }
  }
  return false;
}
