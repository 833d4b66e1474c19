import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOneLineError, runCli as run, tinyBasicGenotype } from '../test-helpers.js';

// Tiny shapes: these check the command, not the machine's speed.
const tiny = ['--steps', '1', '--warmup', '0', '--batch', '1', '--size', '8'];

describe('bench train-step', () => {
  it('explains itself', async () => {
    const result = await run(['bench', 'train-step', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: quantnas bench train-step');
    expect(result.stdout).toMatch(/--backend <name>[\s\S]*--steps <n>[\s\S]*--compare <backend>[\s\S]*--json/);
    expect(result.stdout).toContain('51,552 MACs per LR pixel');
  });

  it('prints one JSON object with the throughput and the backend it ran on', async () => {
    const result = await run(['bench', 'train-step', '--backend', 'wasm', ...tiny, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ backend: 'wasm', steps: 1, batch: 1, size: 8 });
    for (const key of ['ms_per_step', 'gflops', 'forward_gflops', 'train_forward_ratio']) expect(json[key]).toBeGreaterThan(0);
  });

  it('prints a table, with the cpu backend alongside on request', async () => {
    const result = await run(['bench', 'train-step', '--backend', 'wasm', ...tiny, '--compare', 'cpu', '--compare-batch', '1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/backend\s+batch\s+ms\/step\s+GFLOP\/s/);
    expect(result.stdout).toMatch(/^wasm\s+1\s+[\d.]+/m);
    expect(result.stdout).toMatch(/^cpu\s+1\s+[\d.]+/m);
    expect(result.stdout).toMatch(/speedup vs cpu: [\d.]+×/);
  });

  it('names an unknown backend in one line', async () => {
    const result = await run(['bench', 'train-step', '--backend', 'tpu', '--json']);
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain("unknown backend 'tpu'");
  });

  it('rejects a bad count in one line', async () => {
    const result = await run(['bench', 'train-step', '--steps', 'ten']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("quantnas: --steps must be an integer ≥ 1, got 'ten'\n");
  });
});

describe('bench train-step --genotype', () => {
  it("times the genotype's QAT step on fused and reference kernels and the baseline per MAC", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qnas-bench-'));
    try {
      const file = join(dir, 'genotype.json');
      writeFileSync(file, JSON.stringify(tinyBasicGenotype));
      const result = await run(['bench', 'train-step', '--genotype', file, ...tiny, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const json = JSON.parse(result.stdout);
      expect(json).toMatchObject({ backend: 'wasm', space: 'basic', batch: 1, size: 8, steps: 1 });
      for (const path of ['fused', 'reference']) {
        expect(json[path].ms).toBeGreaterThan(0);
        expect(json[path].conv_share).toBeGreaterThan(0);
      }
      expect(json.fused.kernels).toBeLessThan(json.reference.kernels);
      expect(json.speedup_vs_reference).toBeCloseTo(json.reference.ms / json.fused.ms, 10);
      expect(json.baseline).toMatchObject({ space: 'espcn', bits: 8 });
      expect(json.per_mac_vs_baseline).toBeCloseTo(json.fused.ms / json.macs_per_pixel / (json.baseline.fused.ms / json.baseline.macs_per_pixel), 10);
      expectOneLineError(await run(['bench', 'train-step', '--genotype', file, '--baseline', 'espcn']), '--baseline must be SPACE:BITS');
      expectOneLineError(await run(['bench', 'train-step', '--genotype', join(dir, 'missing.json')]), 'missing.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench train-step --backend tensorflow', () => {
  it('runs when tfjs-node is installed, else says which packages to install, in one line', async () => {
    const result = await run(['bench', 'train-step', '--backend', 'tensorflow', ...tiny, '--json']);
    if (result.code === 0) return;
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/@tensorflow\/tfjs-node-gpu.*@tensorflow\/tfjs-node/);
  });
});

describe('bench kernels', () => {
  it('prints every case with both sides, their speedup and agreement', async () => {
    const result = await run(['bench', 'kernels', '--tiny', '--reps', '1', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ backend: 'wasm', reps: 1 });
    expect(json.cases.length).toBeGreaterThanOrEqual(10);
    for (const c of json.cases) expect(c.speedup).toBeCloseTo(c.other_ms / c.ours_ms, 10);
    const text = await run(['bench', 'kernels', '--tiny', '--reps', '1']);
    expect(text.stdout).toContain("the wasm backend's own");
    expect(text.stdout).toContain('times mean nothing');
    expectOneLineError(await run(['bench', 'kernels', '--reps', '0']), '--reps');
  });
});
