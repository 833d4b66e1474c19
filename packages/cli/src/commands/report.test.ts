import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { groupRuns } from '../report/aggregate.js';
import { reportHtml } from '../report/html.js';
import type { ReportRun } from '../report/inputs.js';
import { reportSvg } from '../report/plot.js';
import { fixtureRun, writeLambdaSweep } from '../report/test-helpers.js';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-report-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const reportRun = (label: string, bitops: number, psnr: number, kind: 'searched' | 'baseline' = 'baseline'): ReportRun => ({
  dir: `/runs/${label}`,
  id: label,
  label,
  groupKey: label,
  group: label,
  seed: null,
  run: fixtureRun({ label, kind, bitops, psnr }),
  files: {},
});

describe('reportSvg', () => {
  it('keeps the labels of nearby groups apart', () => {
    // Three runs within a few pixels of each other, as a searched model and two baselines often are.
    const runs = [
      reportRun('searched at a long label', 3.1e8, 29.03),
      reportRun('fsrcnn 4-bit', 3.3e8, 29.04),
      reportRun('espcn 4-bit', 3.2e8, 29.05),
      reportRun('far', 3e9, 30.2),
    ];
    const svg = reportSvg(groupRuns(runs, 'Set5'), 'Set5');
    const boxes = [...svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)" text-anchor="(start|end)" fill="#1f77b4">([^<]+)<\/text>/g)].map(
      ([, x, y, anchor, text]) => {
        const w = text!.length * 6.6;
        const x0 = anchor === 'start' ? Number(x) : Number(x) - w;
        return { text, x0, x1: x0 + w, y0: Number(y) - 11, y1: Number(y) + 3 };
      },
    );
    expect(boxes.map((b) => b.text).sort()).toEqual(['espcn 4-bit', 'far', 'fsrcnn 4-bit', 'searched at a long label']);
    for (const a of boxes)
      for (const b of boxes) if (a !== b) expect(a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1, `${a.text} / ${b.text}`).toBe(false);
  });
});

describe('reportHtml', () => {
  it('escapes the text it takes from the runs and embeds their drawings as data images', () => {
    const r = { ...reportRun('a <b> & "c"', 3e8, 29.1, 'searched'), files: { genotypeSvg: '/g.svg' } };
    const groups = groupRuns([r], 'Set5');
    const html = reportHtml(
      { title: '<script>x</script>', set: 'Set5', groups, runs: [r], pending: [] },
      reportSvg(groups, 'Set5'),
      () => '<svg><script/></svg>',
    );
    expect(html).not.toContain('<script');
    expect(html).toContain('<title>&lt;script&gt;x&lt;/script&gt;</title>');
    expect(html).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(html).toContain(`src="data:image/svg+xml;base64,${Buffer.from('<svg><script/></svg>').toString('base64')}"`);
  });
});

describe('quantnas report over a sweep', () => {
  const sweep = join(work, 'sweep');
  writeLambdaSweep(sweep);

  it('groups the seeds, counts the pending jobs, and writes the table, the plot and the page', async () => {
    const result = await run(['report', sweep, '--out', join(work, 'r'), '--json']);
    expect(result.stderr).toBe('');
    // An output prefix in folders that do not exist yet: they are made.
    expect((await run(['report', sweep, '--out', join(work, 'new', 'nested', 'r')])).code).toBe(0);
    expect(existsSync(join(work, 'new', 'nested', 'r.html'))).toBe(true);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.title).toBe('quick λ sweep');
    expect(parsed.pending).toEqual([{ sweep: 'quick λ sweep', id: 'j5', label: 'searched λ=1e-2, seed 2' }]);
    expect(parsed.groups.map((g: any) => [g.name, g.n, g.pareto])).toEqual([
      ['rfdn-bicubic 4-bit', 1, true],
      ['searched λ=1e-2', 1, false],
      ['searched λ=1e-3', 3, false],
    ]);
    expect(parsed.runs.map((r: any) => [r.id, r.seed])).toEqual([
      ['j1', 1],
      ['j2', 2],
      ['j3', 3],
      ['j4', 1],
      ['j6', 1],
    ]);
    const md = readFileSync(join(work, 'r.md'), 'utf8');
    // (29.54 + 29.64 + 29.47) / 3 = 29.55, sample std 0.0854; BitOps (0.578 + 0.438 + 0.466) / 3.
    expect(md).toContain('| searched λ=1e-3 | searched | quick | 3 | 13,806 (9,987–16,827) | 0.494 (0.438–0.578) | 29.55 ± 0.09 | 0.8412 | 26.80 ± 0.09 |');
    expect(md).toMatch(/\| rfdn-bicubic 4-bit \| baseline \| quick \| 1 \| 13,308 \| 0\.364 \| 29\.56 ± — \|[^\n]*\| – \| 378 \| ★ \|/);
    expect(md).toContain('Pending: 1 (searched λ=1e-2, seed 2)');
    expect(md).toContain('| searched λ=1e-3, seed 2 | searched | quick | 2 |');
    const svg = readFileSync(join(work, 'r.svg'), 'utf8');
    expect([...svg.matchAll(/class="run seed" data-job="(j\d)"/g)].map((m) => m[1]).sort()).toEqual(['j1', 'j2', 'j3', 'j4', 'j6']);
    expect(svg.match(/class="group"/g)).toHaveLength(3);
    expect(svg.match(/class="errorbar"/g)).toHaveLength(1);
    const html = readFileSync(join(work, 'r.html'), 'utf8');
    expect(html).toContain('<h1>quick λ sweep</h1>');
    expect(html).toContain(svg.trimEnd());
    // The drawings of the five finished runs: four genotypes (searched) and five curves.
    expect(html.match(/<img alt="genotype, /g)).toHaveLength(4);
    expect(html.match(/<img alt="training curve, /g)).toHaveLength(5);
    expect(html).not.toContain(work);
    expect((await run(['report', sweep, '--out', join(work, 'r')])).stdout).toBe('');
  });

  it('writes the same bytes for the same runs, whether paths are relative or absolute and in any order', async () => {
    const copy = join(work, 'copy');
    writeLambdaSweep(copy, true);
    const outputs = [];
    for (const [name, dirs] of [
      ['a', [sweep]],
      ['b', [copy]],
    ] as const) {
      mkdirSync(join(work, name));
      expect((await run(['report', ...dirs, '--out', join(work, name, 'report')])).code).toBe(0);
      outputs.push(['md', 'svg', 'html'].map((ext) => readFileSync(join(work, name, `report.${ext}`), 'utf8')));
    }
    expect(outputs[1]).toEqual(outputs[0]);
    // Written again over the same runs: the same bytes.
    expect((await run(['report', sweep, '--out', join(work, 'a', 'report'), '--force'])).code).toBe(0);
    expect(['md', 'svg', 'html'].map((ext) => readFileSync(join(work, 'a', `report.${ext}`), 'utf8'))).toEqual(outputs[0]);
    // Hand-given run directories: the same groups (by label), whatever their order.
    const runs = ['j1', 'j2', 'j3'].map((id) => join(sweep, 'jobs', id));
    await run(['report', ...runs, '--out', join(work, 'c')]);
    await run(['report', ...[...runs].reverse(), '--out', join(work, 'd')]);
    expect(readFileSync(join(work, 'd.svg'), 'utf8')).toBe(readFileSync(join(work, 'c.svg'), 'utf8'));
    expect(readFileSync(join(work, 'c.md'), 'utf8')).toContain('| rfdn-bicubic searched λ=0.001 | searched | quick | 3 |');
  });

  it('groups hand-given run directories by label, preset and recorded search options, and reads their seeds', async () => {
    const dirs: string[] = [];
    for (const [name, seed, derive] of [
      ['s1', 1, 'alpha'],
      ['s2', 2, 'alpha'],
      ['p1', 1, 'path'],
    ] as const) {
      const dir = join(work, 'hand', name);
      mkdirSync(join(dir, 'search'), { recursive: true });
      mkdirSync(join(dir, 'train'), { recursive: true });
      writeFileSync(
        join(dir, 'run.json'),
        JSON.stringify(fixtureRun({ label: 'rfdn-bicubic searched λ=0.001', bitops: 5e8 + seed * 1e7, psnr: 29.5 + seed / 10 })),
      );
      writeFileSync(join(dir, 'search', 'summary.json'), JSON.stringify({ config: { seed, derive, pathSampling: 'all', trainSets: ['T91'] } }));
      writeFileSync(join(dir, 'train', 'summary.json'), JSON.stringify({ config: { seed, workers: 2 } }));
      dirs.push(dir);
    }
    const result = await run(['report', ...dirs, '--out', join(work, 'hand', 'report'), '--json']);
    expect(result.stderr).toBe('');
    const parsed = JSON.parse(result.stdout);
    expect(parsed.groups.map((g: any) => [g.name, g.runs])).toEqual([
      ['rfdn-bicubic searched λ=0.001 (derive path)', ['p1']],
      ['rfdn-bicubic searched λ=0.001 (derive alpha)', ['s1', 's2']],
    ]);
    expect(parsed.runs.map((r: any) => r.seed)).toEqual([1, 2, 1]);
    expect(parsed.groups[1].sets.Set5.psnr.mean).toBeCloseTo(29.65, 12);
    expect(parsed.groups[1].sets.Set5.psnr.std).toBeCloseTo(0.1 / Math.SQRT2, 12);

    // Baselines of one label trained at two widths are two configurations, not two seeds.
    const widths = [12, 24].map((channels) => {
      const dir = join(work, 'hand', `w${channels}`);
      mkdirSync(join(dir, 'train'), { recursive: true });
      const summary = fixtureRun({ label: 'rfdn-bicubic 4-bit', kind: 'baseline', bitops: 3e7 * channels, psnr: 29 + channels / 40 });
      writeFileSync(join(dir, 'run.json'), JSON.stringify({ ...summary, genotype: { space: 'rfdn-bicubic', channels, blocks: {} } }));
      writeFileSync(join(dir, 'train', 'summary.json'), JSON.stringify({ config: { seed: 1, workers: 2 } }));
      return dir;
    });
    const byWidth = JSON.parse((await run(['report', ...widths, '--out', join(work, 'hand', 'widths'), '--json'])).stdout);
    expect(byWidth.groups.map((g: any) => g.name)).toEqual(['rfdn-bicubic 4-bit (width 12)', 'rfdn-bicubic 4-bit (width 24)']);
  });

  it("--x latency times each run's model and ranks by it: a model of fewer BitOps but more work is slower", async () => {
    const dirs = (
      [
        ['small', { channels: 12, cells: 1 }, 9e8],
        ['large', { channels: 48, cells: 4 }, 3e8],
      ] as const
    ).map(([name, shape, bitops]) => {
      const dir = join(work, 'timed', name);
      mkdirSync(join(dir, 'train'), { recursive: true });
      // The run.json claims the reverse of the models' real cost: the axis must come from timing them.
      writeFileSync(join(dir, 'run.json'), JSON.stringify(fixtureRun({ label: name, kind: 'baseline', bitops, psnr: 29.5 })));
      const model = syntheticRfdn({ ...shape, scale: 4, seed: 3 });
      writeFileSync(join(dir, 'model.qnas'), encodeArtifact(model.header, model.blob));
      return dir;
    });
    const result = await run(['report', ...dirs, '--out', join(work, 'timed', 'report'), '--x', 'latency', '--size', '32', '--rounds', '1', '--json']);
    expect(result.stderr).toBe('');
    const parsed = JSON.parse(result.stdout);
    expect(parsed.groups.map((g: any) => g.name)).toEqual(['small', 'large']);
    const [small, large] = parsed.runs.sort((a: any, b: any) => a.latency_ms - b.latency_ms);
    expect(small.label).toBe('small');
    expect(large.latency_ms).toBeGreaterThan(small.latency_ms);
    // The small model is faster and as good: it alone is on the front.
    expect(parsed.groups.map((g: any) => g.pareto)).toEqual([true, false]);
    const svg = readFileSync(join(work, 'timed', 'report.svg'), 'utf8');
    expect(svg).toContain('PSNR against int8 time');
    expect(svg).toContain('int8 engine, ms per upscale (32×32 LR, simd128, 1 thread; log scale)');
    expect(readFileSync(join(work, 'timed', 'report.md'), 'utf8')).toContain('| ms (32×32 LR, simd128, 1 thread) |');

    rmSync(join(dirs[1]!, 'model.qnas'));
    expectOneLineError(await run(['report', ...dirs, '--out', join(work, 'timed', 'again'), '--x', 'latency', '--size', '32']), 'no model.qnas');
    expectOneLineError(await run(['report', ...dirs, '--out', join(work, 'timed', 'again'), '--x', 'watts']), '--x must be bitops or latency');
  });

  it('reports a corrupt sweep.json, a wrong schema version and a bad job in one line naming the file', async () => {
    const bad = join(work, 'bad');
    cpSync(sweep, bad, { recursive: true });
    const file = join(bad, 'sweep.json');
    const original = JSON.parse(readFileSync(file, 'utf8'));
    for (const [text, message] of [
      ['{"schemaVersion": 1, "jobs": [', 'not valid JSON'],
      [JSON.stringify({ ...original, schemaVersion: 2 }), 'not a sweep of this version (schemaVersion 2'],
      [JSON.stringify({ ...original, jobs: [{ id: 'x' }] }), 'jobs[0] is not a job'],
    ]) {
      writeFileSync(file, text!);
      expectOneLineError(await run(['report', bad, '--out', join(work, 'e')]), file, message!);
    }
    // A finished job whose run.json is damaged is an error too, not a pending job.
    writeFileSync(file, JSON.stringify(original));
    writeFileSync(join(bad, 'jobs', 'j2', 'run.json'), '{');
    expectOneLineError(await run(['report', bad, '--out', join(work, 'e')]), join(bad, 'jobs', 'j2', 'run.json'), 'not valid JSON');
    // Nothing finished yet.
    const empty = join(work, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'sweep.json'), JSON.stringify({ ...original, jobs: original.jobs.map((j: any) => ({ ...j, dir: 'none' })) }));
    expectOneLineError(await run(['report', empty, '--out', join(work, 'e')]), 'no finished run', 'pending: 6');
  });
});
