import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend } from '@quantnas/core-ops';
import { supportsRelaxedSimd } from '@quantnas/runtime';
import { getSpace, resolveSpace } from '@quantnas/search-spaces';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkLatencyTable, measureLatencyTable, randomGenotypes } from './measure.js';
import { checkTableFits, latencyPairCosts, LatencyTableError, pairKey, parseLatencyTable, predictLatency, uniformLatency, type LatencyTable } from './table.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const runtimeDist = join(dirname(createRequire(import.meta.url).resolve('@quantnas/runtime/package.json')), 'dist');
const kernels = { source: pathToFileURL(join(runtimeDist, 'kernels.wasm')), relaxedSource: pathToFileURL(join(runtimeDist, 'kernels-relaxed.wasm')) };

const spec = getSpace('espcn');
const shape = { channels: 8, scale: 2 };
let table: LatencyTable;

describe('latency table', () => {
  beforeAll(async () => {
    table = await measureLatencyTable(spec, { ...shape, width: 16, height: 16, rounds: 2, kernels });
  }, 60_000);

  it('has every pair of every group, measured every round, with the machine it ran on', () => {
    const plan = resolveSpace(spec, shape);
    expect(Object.keys(table.groups).sort()).toEqual(plan.groups.map((g) => g.id).sort());
    for (const g of plan.groups) {
      for (const pair of g.pairs) {
        const e = table.groups[g.id]![pairKey(pair)]!;
        expect(e.rounds, `${g.id} ${pairKey(pair)}`).toBe(2);
        expect(e.ms).toBeGreaterThan(0);
        expect(e.min).toBeLessThanOrEqual(e.ms);
        expect(e.max).toBeGreaterThanOrEqual(e.ms);
      }
    }
    expect(table.fixed.rounds).toBe(2 * Math.max(...plan.groups.map((g) => g.pairs.length)));
    expect(table).toMatchObject({ space: 'espcn', channels: 8, cells: plan.cells, scale: 2, engine: 'simd128', threads: 1, input: { width: 16, height: 16 } });
    expect(table.machine.node).toBe(process.version);
    expect(parseLatencyTable(JSON.parse(JSON.stringify(table)))).toEqual(table);
  });

  it('predicts a genotype as the rest plus its pairs, and gives the penalty its costs', () => {
    const plan = resolveSpace(spec, shape);
    const [genotype] = randomGenotypes(plan, 1, 3);
    const sum = Object.entries(genotype!.blocks).reduce((s, [g, p]) => s + table.groups[g]![pairKey(p)]!.ms, table.fixed.ms);
    expect(predictLatency(table, genotype!)).toBeCloseTo(sum, 9);
    const costs = latencyPairCosts(table, plan);
    for (const g of plan.groups) expect(costs[g.id]).toEqual(g.pairs.map((p) => table.groups[g.id]![pairKey(p)]!.ms));
    const mean = plan.groups.reduce((s, g) => s + costs[g.id]!.reduce((a, b) => a + b, 0) / g.pairs.length, 0);
    expect(uniformLatency(costs)).toBeCloseTo(mean, 9);
  });

  it('checks its predictions against whole exported networks', async () => {
    const plan = resolveSpace(spec, shape);
    const genotypes = randomGenotypes(plan, 3, 5).map((genotype, i) => ({ name: `random${i + 1}`, genotype }));
    const check = await checkLatencyTable(spec, table, genotypes, { rounds: 1, kernels });
    expect(check.rows.map((r) => r.name)).toEqual(['random1', 'random2', 'random3']);
    for (const r of check.rows) {
      expect(r.measuredMs).toBeGreaterThan(0);
      expect(r.predictedMs).toBeCloseTo(predictLatency(table, r.genotype), 9);
      expect(r.bitops).toBeGreaterThan(0);
    }
    for (const tau of [check.tauTable, check.tauBitops]) expect(Math.abs(tau)).toBeLessThanOrEqual(1);
    expect(check.tableError).toBeGreaterThanOrEqual(0);
    await expect(checkLatencyTable(spec, table, genotypes.slice(0, 1))).rejects.toThrow(/at least 2 genotypes/);
  }, 60_000);

  it('refuses a table of another width, one that lacks a pair, and documents that are not tables', () => {
    expect(() => checkTableFits(table, resolveSpace(spec, { ...shape, channels: 16 }))).toThrow(/measured for channels 8, the search is at 16/);
    const group = Object.keys(table.groups)[0]!;
    const [dropped, ...rest] = Object.keys(table.groups[group]!);
    const partial = { ...table, groups: { ...table.groups, [group]: Object.fromEntries(rest.map((k) => [k, table.groups[group]![k]!])) } };
    expect(() => checkTableFits(partial, resolveSpace(spec, shape))).toThrow(new RegExp(`no entry for '${dropped}'`));
    expect(() => parseLatencyTable({ ...table, kind: 'other' }, 't.json')).toThrow(/t.json: not a latency table/);
    expect(() => parseLatencyTable({ ...table, fixed: { ms: -1, min: 0, max: 0, rounds: 1 } })).toThrow(/'fixed'.ms must be a finite number ≥ 0/);
    expect(() => parseLatencyTable([])).toThrow(LatencyTableError);
  });

  it('measures on the relaxed kernels where this Node has them, and says how to get them where not', async () => {
    const run = measureLatencyTable(spec, { ...shape, width: 16, height: 16, rounds: 1, engine: 'relaxed', kernels });
    if (supportsRelaxedSimd()) await expect(run).resolves.toMatchObject({ engine: 'relaxed' });
    else await expect(run).rejects.toThrow(/no relaxed SIMD; on Node 20 run it with --experimental-wasm-relaxed-simd/);
  }, 60_000);
});
