import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import type { BackendName } from '../backend.js';
import { BackendUnavailableError } from './optional-module.js';
import { currentBackend, initBackend } from './select.js';
import { findTensorflowPackage } from './tensorflow.js';
import { isSoftwareAdapter, probeWebGpu } from './webgpu.js';

const tensorflowInstalled = (await findTensorflowPackage()) !== null;

describe('initBackend', () => {
  it('has nothing to report before the first selection', () => {
    expect(() => currentBackend()).toThrow(/call initBackend\(\) first/);
  });

  it('starts wasm with SIMD and the replaced gradient kernels, and records it', async () => {
    const info = await initBackend('wasm');
    expect(info).toMatchObject({ name: 'wasm', requested: 'wasm', wasm: { simd: true, threads: 1 } });
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe(info);
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
  });

  it('is idempotent and switches between started backends', async () => {
    const first = await initBackend('wasm');
    expect(await initBackend('wasm')).toEqual(first);
    const cpu = await initBackend('cpu');
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(currentBackend().name).toBe('cpu');
    expect(await initBackend('wasm')).toEqual(first);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('serialises concurrent calls', async () => {
    const infos = await Promise.all([initBackend('cpu'), initBackend('wasm'), initBackend('cpu')]);
    expect(infos.map((i) => i.name)).toEqual(['cpu', 'wasm', 'cpu']);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('names an unknown backend in its error', async () => {
    await expect(initBackend('gpu' as BackendName)).rejects.toThrow(/unknown backend 'gpu' \(expected one of: auto, wasm, cpu, webgpu, tensorflow\)/);
  });

  it.skipIf(tensorflowInstalled)('explains how to get the tensorflow backend when neither tfjs-node is installed', async () => {
    const attempt = initBackend('tensorflow');
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toThrow(/@tensorflow\/tfjs-node-gpu.*@tensorflow\/tfjs-node.*npm install @tensorflow\/tfjs-node/);
  });

  it('auto picks tensorflow, then a hardware WebGPU adapter, then wasm, and says what it skipped', async () => {
    const probe = await probeWebGpu({ requireDriver: true });
    const info = await initBackend('auto');
    expect(info.requested).toBe('auto');
    if (tensorflowInstalled) {
      expect(info.name).toBe('tensorflow');
    } else if (probe.found && !probe.adapter.software) {
      expect(info.name).toBe('webgpu');
    } else {
      expect(info.name).toBe('wasm');
      expect(info.skipped?.join('\n')).toMatch(/tensorflow: neither/);
      expect(info.skipped?.join('\n')).toMatch(/webgpu: /);
    }
    expect(await initBackend('auto')).toEqual(info);
  });

  it('webgpu: a clear error without an adapter, the adapter limits with one', async () => {
    const probe = await probeWebGpu({ requireDriver: true });
    if (!probe.found) {
      await expect(initBackend('webgpu')).rejects.toThrow(/backend 'webgpu' is not available: /);
      return;
    }
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(info.webgpu?.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27);
    expect(info.detail).toMatch(/max tensor \d+ MiB/);
  });
});

describe('isSoftwareAdapter', () => {
  it.each([
    [{ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15', description: 'llvmpipe: Mesa 25.0.7' }, true],
    [{ description: 'SwiftShader Device (Subzero)' }, true],
    [{ description: 'Some adapter', isFallbackAdapter: true }, true],
    [{ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA H200' }, false],
    [{ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900' }, false],
  ])('%j → %s', (info, software) => {
    expect(isSoftwareAdapter(info)).toBe(software);
  });
});
