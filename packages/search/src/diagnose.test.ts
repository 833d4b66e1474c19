import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@quantnas/core-ops';
import { resolveDataRoot } from '@quantnas/data';
import { kendallTau } from '@quantnas/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagnoseSearch, type DiagnoseEvent, type DiagnoseOptions } from './diagnose.js';
import { runSearch } from './search.js';
import { tinySearchOptions } from './test-helpers.js';

const dataRoot = resolveDataRoot();
const work = mkdtempSync(join(tmpdir(), 'quantnas-diagnose-'));
const searchDir = join(work, 'search');

// A tiny basic-space search (C = 6, 1 cell) and stand-alone trainings of 2 steps on 8×8 patches.
const options = (out: string): DiagnoseOptions => ({
  search: searchDir,
  out,
  dataRoot,
  random: 2,
  steps: 2,
  patches: 2,
  training: { batchSize: 2, lrPatchSize: 8, validationPatchSize: 8, trainSets: ['T91'] },
});

beforeAll(async () => {
  await initBackend('wasm');
  const result = await runSearch(tinySearchOptions(searchDir, dataRoot, { seed: 3 }));
  expect(result.completed).toBe(true);
}, 120_000);

describe('diagnoseSearch', () => {
  it('trains the fixed set and the searched genotype and ranks them by α and by path', async () => {
    const out = join(work, 'diagnosis');
    const events: DiagnoseEvent[] = [];
    const d = await diagnoseSearch(options(out), { onEvent: (e) => events.push(e) });
    const groups = d.sensitivities.length;
    expect(groups).toBe(8); // the basic space's α groups, one bit drop each
    // baseline@8, baseline@4, one bit drop per group, 2 random, then searched, α's arg-max and the path descent's.
    expect(d.genotypes.map((g) => g.kind)).toEqual([
      'baseline',
      'baseline',
      ...Array(groups).fill('bits'),
      'random',
      'random',
      'derived',
      'derived',
      'derived',
    ]);
    expect(d.genotypes.slice(-3).map((g) => g.name)).toEqual(['searched', 'alpha', 'path']);
    expect(d.bits).toEqual({ high: 8, low: 4 });
    // The searched genotype is the arg-max of α in every group: no genotype is more probable.
    const searched = d.genotypes.at(-3)!;
    // This search derived by α: its genotype is α's arg-max.
    expect(d.genotypes.at(-2)!.genotype.blocks).toEqual(searched.genotype.blocks);
    for (const g of d.genotypes) expect(g.alphaLogProbability).toBeLessThanOrEqual(searched.alphaLogProbability + 1e-6);
    expect(searched.genotype.blocks).toEqual(JSON.parse(readFileSync(join(searchDir, 'genotype.json'), 'utf8')).blocks);
    // A uniform 4-bit network costs less than the 8-bit one; each one-block drop lies in between.
    const [b8, b4] = d.genotypes;
    expect(b4!.bitops).toBeLessThan(b8!.bitops);
    for (const g of d.genotypes.filter((x) => x.kind === 'bits')) {
      expect(g.bitops).toBeLessThan(b8!.bitops);
      expect(g.bitops).toBeGreaterThan(b4!.bitops);
    }
    // The τ are those of the reported columns.
    const fixed = d.genotypes.filter((g) => g.kind !== 'derived');
    for (const g of d.genotypes.slice(-3)) expect(d.ranks[g.name]).toBe(1 + fixed.filter((f) => f.standalonePsnr > g.standalonePsnr).length);
    const tau = (a: number[], b: number[]) => kendallTau(a, b);
    const same = (x: number, y: number) => (Number.isNaN(y) ? expect(x).toBeNaN() : expect(x).toBeCloseTo(y, 12));
    same(
      d.tau.alpha,
      tau(
        fixed.map((g) => g.alphaLogProbability),
        fixed.map((g) => g.standalonePsnr),
      ),
    );
    same(
      d.tau.path,
      tau(
        fixed.map((g) => g.pathPsnr),
        fixed.map((g) => g.standalonePsnr),
      ),
    );
    same(
      d.tau.bitsPath,
      tau(
        d.sensitivities.map((s) => s.pathDrop),
        d.sensitivities.map((s) => s.standaloneDrop),
      ),
    );
    for (const s of d.sensitivities) {
      const g = d.genotypes.find((x) => x.block === s.block)!;
      expect(s.standaloneDrop).toBeCloseTo(b8!.standalonePsnr - g.standalonePsnr, 10);
    }
    expect(JSON.parse(readFileSync(join(out, 'diagnosis.json'), 'utf8')).tau).toEqual(JSON.parse(JSON.stringify(d.tau)));
    // Trained once per distinct genotype: a later duplicate (α's arg-max is the searched one) is reused.
    const reused = events.flatMap((e) => (e.status === 'genotype' ? [e.reused] : []));
    const seen = d.genotypes.map((g, i) => d.genotypes.slice(0, i).some((h) => JSON.stringify(h.genotype.blocks) === JSON.stringify(g.genotype.blocks)));
    expect(reused).toEqual(seen);

    // A second diagnosis reuses every stand-alone run and scores the same.
    const again: DiagnoseEvent[] = [];
    const d2 = await diagnoseSearch(options(out), { onEvent: (e) => again.push(e) });
    expect(again.filter((e) => e.status === 'genotype').every((e) => e.status === 'genotype' && e.reused)).toBe(true);
    expect(again.some((e) => e.status === 'train' && e.event.status === 'step')).toBe(false);
    expect(d2.genotypes.map((g) => [g.standalonePsnr, g.pathPsnr])).toEqual(d.genotypes.map((g) => [g.standalonePsnr, g.pathPsnr]));
  }, 180_000);

  it('says clearly when the directory holds no finished search', async () => {
    const empty = join(work, 'empty');
    await expect(diagnoseSearch({ ...options(join(work, 'x')), search: empty })).rejects.toThrow(/holds no finished search/);
    expect(existsSync(join(work, 'x'))).toBe(false);
  });
});
