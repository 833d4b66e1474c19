import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run, tinyBasicGenotype } from '../test-helpers.js';

// Tiny shapes: these check the commands, not the machine's speed.
const work = mkdtempSync(join(tmpdir(), 'quantnas-latency-'));
const tiny = ['--space', 'basic', '--channels', '6', '--cells', '1', '--size', '16', '--rounds', '1'];

describe('bench latency-table and latency-check', () => {
  it('explain themselves', async () => {
    const table = await run(['bench', 'latency-table', '--help']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/--space <space>[\s\S]*--engine <name>[\s\S]*--threads <n>[\s\S]*--out <file>/);
    const check = await run(['bench', 'latency-check', '--help']);
    expect(check.stdout).toMatch(/--table <file>[\s\S]*--genotype <file>[\s\S]*--random <n>/);
  });

  it('writes a table of every pair of every block, refuses to replace it without --force, and checks it against whole networks', async () => {
    const out = join(work, 'table.json');
    const made = await run(['bench', 'latency-table', ...tiny, '--out', out]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/latency table of basic \(C 6, 1 cell\(s\), x4\) on 16×16 LR, simd128, 1 thread\(s\)/);
    expect(made.stdout).toMatch(/^simple_3x3@4\s+[\d.]+/m);
    const table = JSON.parse(readFileSync(out, 'utf8'));
    expect(table).toMatchObject({ kind: 'quantnas-latency-table', space: 'basic', channels: 6, cells: 1, scale: 4, engine: 'simd128', threads: 1 });
    expect(Object.keys(table.groups)).toEqual(Object.keys(tinyBasicGenotype.blocks));

    expectOneLineError(await run(['bench', 'latency-table', ...tiny, '--out', out]), out, '--force');
    const again = await run(['bench', 'latency-table', ...tiny, '--out', out, '--force', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(readFileSync(out, 'utf8')));
    const latest = JSON.parse(readFileSync(out, 'utf8'));

    const genotype = join(work, 'genotype.json');
    writeFileSync(genotype, JSON.stringify({ ...tinyBasicGenotype, channels: 6 }));
    const checked = await run(['bench', 'latency-check', '--table', out, '--genotype', genotype, '--random', '2', '--rounds', '1', '--json']);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);
    const json = JSON.parse(checked.stdout);
    expect(json.rows.map((r: { name: string }) => r.name)).toEqual([genotype, 'random 1', 'random 2']);
    for (const r of json.rows) {
      expect(r.measured_ms).toBeGreaterThan(0);
      expect(r.predicted_ms).toBeGreaterThan(latest.fixed.ms);
    }
    expect(Math.abs(json.tau_table)).toBeLessThanOrEqual(1);
    const text = await run(['bench', 'latency-check', '--table', out, '--random', '2', '--rounds', '1']);
    expect(text.stdout).toMatch(/Kendall τ against the measured time: table -?[\d.]+, BitOps -?[\d.]+/);
  });

  it('says what is wrong with its input in one line', async () => {
    expectOneLineError(await run(['bench', 'latency-table', ...tiny, '--engine', 'avx', '--out', join(work, 'x.json')]), '--engine');
    expectOneLineError(await run(['bench', 'latency-table', '--space', 'nope', '--out', join(work, 'x.json')]), 'nope');
    expect(existsSync(join(work, 'x.json'))).toBe(false);
    const notTable = join(work, 'not-table.json');
    writeFileSync(notTable, '{"kind": "other"}');
    expectOneLineError(await run(['bench', 'latency-check', '--table', notTable]), 'not a latency table');
    expectOneLineError(await run(['bench', 'latency-check', '--table', join(work, 'missing.json')]), 'missing.json');
  });

  it('search: a latency penalty needs a table, and the table must be of the searched width', async () => {
    expectOneLineError(await run(['search', '--space', 'basic', '--out', join(work, 's1'), '--latency-penalty', '1']), '--latency-table');
    const out = join(work, 'table-c6.json');
    expect((await run(['bench', 'latency-table', ...tiny, '--out', out])).code).toBe(0);
    const result = await run(['search', '--space', 'basic', '--preset', 'smoke', '--out', join(work, 's2'), '--latency-table', out, '--latency-penalty', '1']);
    expectOneLineError(result, 'measured for channels 6');
  });
});
