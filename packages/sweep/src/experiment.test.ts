import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expandExperiment, jobId, parseExperiment, readExperiment, runArgs } from './experiment.js';

const ablations = {
  schemaVersion: 1,
  name: 'ablations',
  defaults: { preset: 'quick', space: 'rfdn-bicubic' },
  grid: { seed: [1, 2, 3], penalty: [0, 0.001] },
  variants: [{ name: 'joint' }, { name: 'direct quantization', mode: 'direct' }],
  baselines: [{ arch: 'espcn', bits: [4, 8] }],
};

describe('experiment files', () => {
  it('expands variants × grid, and baselines × bits × seeds without the search keys', () => {
    const jobs = expandExperiment(parseExperiment(ablations, 'a.json'));
    expect(jobs).toHaveLength(2 * 3 * 2 + 2 * 3);
    expect(jobs[0]).toEqual({
      id: jobId({ penalty: 0, preset: 'quick', seed: 1, space: 'rfdn-bicubic' }),
      label: 'joint, penalty 0, seed 1',
      group: 'joint, penalty 0',
      options: { penalty: 0, preset: 'quick', seed: 1, space: 'rfdn-bicubic' },
    });
    expect(jobs.map((j) => j.label)).toContain('direct quantization, penalty 0.001, seed 3');
    const baseline = jobs.find((j) => j.label === 'espcn 4-bit, seed 2')!;
    expect(baseline.options).toEqual({ arch: 'espcn', bits: 4, preset: 'quick', seed: 2 });
    expect(baseline.group).toBe('espcn 4-bit');
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    expect(jobs.every((j) => /^[0-9a-f]{12}$/.test(j.id))).toBe(true);
    // Seeds of one configuration share a group.
    expect(jobs.filter((j) => j.group === 'joint, penalty 0.001').map((j) => j.options.seed)).toEqual([1, 2, 3]);
  });

  it('gives the same job the same id whatever the key order or the spelling of adq', () => {
    expect(jobId({ seed: 1, preset: 'quick', adq: 'on' })).toBe(jobId({ adq: 'on', preset: 'quick', seed: 1 }));
    const a = expandExperiment(parseExperiment({ schemaVersion: 1, name: 'x', defaults: { adq: true, seed: 1 } }, 'x'));
    const b = expandExperiment(parseExperiment({ schemaVersion: 1, name: 'y', defaults: { seed: 1, adq: 'on' } }, 'y'));
    expect(a[0]!.id).toBe(b[0]!.id);
    expect(a[0]!.label).toBe('searched, seed 1');
  });

  it('maps options 1:1 onto quantnas run flags', () => {
    expect(
      runArgs({ preset: 'smoke', pathSampling: 'all', adq: 'off', penalty: 0.001, bits: '4,8', seed: 2, workers: 1, sets: 'Set5', entropy: 'none' }),
    ).toEqual([
      '--preset',
      'smoke',
      '--bits',
      '4,8',
      '--penalty',
      '0.001',
      '--adq',
      'off',
      '--entropy',
      'none',
      '--path-sampling',
      'all',
      '--seed',
      '2',
      '--workers',
      '1',
      '--sets',
      'Set5',
    ]);
  });

  it.each([
    [{ ...ablations, seeds: [1] }, "unknown key 'seeds'"],
    [{ ...ablations, defaults: { preset: 'quick', penalt: 1 } }, "unknown key 'defaults.penalt'"],
    [{ ...ablations, grid: { seed: '1' } }, "'grid.seed' must be a non-empty array"],
    [{ ...ablations, grid: { seed: [1.5] } }, "'grid.seed[0]' must be an integer ≥ 0, got 1.5"],
    [{ ...ablations, defaults: { penalty: '0.1' } }, '\'defaults.penalty\' must be a number ≥ 0, got "0.1"'],
    [{ ...ablations, variants: [{ name: 'a', penalty: 0.1 }] }, "'variants[0].penalty' is also a grid axis"],
    [{ ...ablations, variants: [{ mode: 'direct' }] }, "'variants[0].name' must be a non-empty string"],
    [{ ...ablations, baselines: [{ arch: 'espcn', penalty: 1 }] }, "'baselines[0].penalty' applies to a search"],
    [{ ...ablations, baselines: [{ arch: 'espcn', bits: ['x'] }] }, "'baselines[0].bits[0]' must be a bit-width"],
    [{ ...ablations, defaults: { adq: 'yes' } }, '\'defaults.adq\' must be true, false, "on" or "off"'],
    [{ ...ablations, schemaVersion: 2 }, "'schemaVersion' must be 1, got 2"],
  ])('refuses %j in one line naming the file and the key', (doc, message) => {
    expect(() => expandExperiment(parseExperiment(doc, 'exp.json'))).toThrow(message);
    try {
      parseExperiment(doc, 'exp.json');
    } catch (error) {
      expect((error as Error).message).toMatch(/^exp\.json: [^\n]+$/);
    }
  });

  it('runs no search with `variants: []`: baselines only', () => {
    const doc = { schemaVersion: 1, name: 'b', grid: { seed: [1, 2] }, variants: [], baselines: [{ arch: 'fsrcnn', bits: 32 }] };
    expect(expandExperiment(parseExperiment(doc, 'b.json')).map((j) => j.label)).toEqual(['fsrcnn fp32, seed 1', 'fsrcnn fp32, seed 2']);
  });

  it("measures a baseline on its own seeds where it names them, the others on the grid's", () => {
    const doc = {
      schemaVersion: 1,
      name: 'b',
      grid: { seed: [1, 2, 3] },
      variants: [],
      baselines: [
        { arch: 'espcn', bits: [4, 8], seed: 1 },
        { arch: 'fsrcnn', bits: 8, seed: [2, 3] },
        { arch: 'rfdn-bicubic', bits: 4 },
      ],
    };
    expect(expandExperiment(parseExperiment(doc, 'b.json')).map((j) => j.label)).toEqual([
      'espcn 4-bit, seed 1',
      'espcn 8-bit, seed 1',
      'fsrcnn 8-bit, seed 2',
      'fsrcnn 8-bit, seed 3',
      'rfdn-bicubic 4-bit, seed 1',
      'rfdn-bicubic 4-bit, seed 2',
      'rfdn-bicubic 4-bit, seed 3',
    ]);
    expect(() => parseExperiment({ ...doc, baselines: [{ arch: 'espcn', seed: [] }] }, 'b.json')).toThrow(
      "b.json: 'baselines[0].seed' must not be an empty list",
    );
    expect(() => parseExperiment({ ...doc, baselines: [{ arch: 'espcn', seed: [0.5] }] }, 'b.json')).toThrow(
      "'baselines[0].seed[0]' must be an integer ≥ 0, got 0.5",
    );
  });

  it('passes a latency table and its penalty to the search, and keeps them from baselines', () => {
    expect(runArgs({ preset: 'quick', latencyTable: 'quick.json', latencyPenalty: 0.01, seed: 1 })).toEqual([
      '--preset',
      'quick',
      '--latency-table',
      'quick.json',
      '--latency-penalty',
      '0.01',
      '--seed',
      '1',
    ]);
    const doc = {
      schemaVersion: 1,
      name: 'l',
      defaults: { preset: 'quick', latencyTable: 't.json', latencyPenalty: 0.01 },
      baselines: [{ arch: 'espcn', bits: 8 }],
    };
    const jobs = expandExperiment(parseExperiment(doc, 'l.json'));
    expect(jobs.map((j) => j.options)).toEqual([
      { preset: 'quick', latencyTable: 't.json', latencyPenalty: 0.01 },
      { preset: 'quick', arch: 'espcn', bits: 8 },
    ]);
    expect(() => parseExperiment({ ...doc, baselines: [{ arch: 'espcn', latencyPenalty: 1 }] }, 'l.json')).toThrow(
      "'baselines[0].latencyPenalty' applies to a search",
    );
  });

  it("parses and expands the repository's experiment files", () => {
    const dir = fileURLToPath(new URL('../../../experiments/', import.meta.url));
    const counts = Object.fromEntries(
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => [f, expandExperiment(readExperiment(join(dir, f)).experiment, f).length]),
    );
    expect(counts).toMatchObject({ 'ablations.json': 18, 'search-wins.json': 15, 'search-wins-wide.json': 6 });
  });

  it('refuses two variants that are the same run', () => {
    const doc = { schemaVersion: 1, name: 'x', variants: [{ name: 'a' }, { name: 'b' }] };
    expect(() => expandExperiment(parseExperiment(doc, 'x.json'), 'x.json')).toThrow("x.json: 'a' and 'b' are the same run");
  });

  it('reads a file, naming it when it is missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-exp-'));
    writeFileSync(join(dir, 'bad.json'), '{ "schemaVersion": 1,');
    expect(() => readExperiment(join(dir, 'bad.json'))).toThrow(/bad\.json: not valid JSON/);
    expect(() => readExperiment(join(dir, 'none.json'))).toThrow(/none\.json: no such file/);
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(ablations));
    expect(readExperiment(join(dir, 'ok.json')).source).toEqual(ablations);
  });
});
