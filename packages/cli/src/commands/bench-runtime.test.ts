import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../test-helpers.js';

let model: string;

beforeAll(async () => {
  const work = await mkdtemp(join(tmpdir(), 'quantnas-bench-runtime-'));
  model = join(work, 'tiny.qnas');
  const artifact = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 4 });
  await writeFile(model, encodeArtifact(artifact));
});

// Tiny shapes: these check the command, not the machine's speed.
describe('bench runtime', () => {
  it('explains itself', async () => {
    const result = await run(['bench', 'runtime', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: quantnas bench runtime');
    expect(result.stdout).toMatch(/--model <file>[\s\S]*--size <n>[\s\S]*--threads <n>[\s\S]*--json/);
  });

  it('prints one JSON object with the int8 and fp32 times, on 1 and 2 threads', async () => {
    const result = await run(['bench', 'runtime', '--model', model, '--size', '16', '--rounds', '1', '--threads', '2', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const json = JSON.parse(lines[0]!);
    expect(json).toMatchObject({ model, scale: 2, size: [16, 16], output: [32, 32], rounds: 1, threads: 2 });
    for (const key of ['int8_ms', 'fp32_ms', 'speedup', 'gops', 'fp32_gops', 'int8_threads_ms', 'threads_gops', 'speedup_threads', 'thread_scaling', 'macs']) {
      expect(json[key], key).toBeGreaterThan(0);
    }
    expect(json.speedup).toBeCloseTo(json.fp32_ms / json.int8_ms, 2);
    expect(json.gops).toBeCloseTo((2 * json.macs) / json.int8_ms / 1e6, 2);
    // The int8 model and its fp32 twin compute nearly the same image.
    expect(json.int8_vs_fp32_psnr === null || json.int8_vs_fp32_psnr > 15).toBe(true);
    expect(Object.keys(json.per_round_ms)).toEqual(['int8 1 thread', 'fp32 tfjs-wasm', 'int8 2 threads']);
  });

  it('prints a table', async () => {
    const result = await run(['bench', 'runtime', '--model', model, '--size', '16', '--rounds', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/engine\s+ms\s+G op\/s\s+vs fp32/);
    expect(result.stdout).toMatch(/^int8 WASM engine, 1 thread\s+[\d.]+\s+[\d.]+\s+[\d.]+×$/m);
    expect(result.stdout).toMatch(/^fp32 tfjs-wasm, same network\s+[\d.]+\s+[\d.]+\s+1\.00×$/m);
    expect(result.stdout).not.toMatch(/threads\s/);
  });

  it('profiles the one-thread upscale on request: time per layer type and the slowest layers', async () => {
    const result = await run(['bench', 'runtime', '--model', model, '--size', '16', '--rounds', '1', '--profile', '--json']);
    expect(result.code).toBe(0);
    const { profile } = JSON.parse(result.stdout);
    expect(profile.total_ms).toBeGreaterThan(0);
    expect(profile.by_op.conv).toBeGreaterThan(0);
    const inLayers = Object.values(profile.by_op as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(inLayers + profile.rest_ms).toBeCloseTo(profile.total_ms, 1);
    expect(profile.layers).toHaveLength(10);
    expect(profile.layers[0].ms).toBeGreaterThanOrEqual(profile.layers[9].ms);
    const text = await run(['bench', 'runtime', '--model', model, '--size', '16', '--rounds', '1', '--profile']);
    expect(text.stdout).toMatch(/where one thread's upscale goes[\s\S]*^conv\s+[\d.]+\s+\d+ %[\s\S]*slowest layers:/m);
  });

  it('names a missing model, a bad count and an image too small, in one line', async () => {
    for (const [argv, mention] of [
      [['--model', join(tmpdir(), 'absent-model.qnas')], 'no such file'],
      [['--model', model, '--size', 'big'], "--size must be an integer ≥ 1, got 'big'"],
      [['--model', model, '--size', '4'], 'too small'],
    ] as const) {
      const result = await run(['bench', 'runtime', ...argv, '--rounds', '1', '--json']);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(mention);
    }
  });
});
