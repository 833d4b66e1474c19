import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../pipeline.js';

/** A run.json as `quantnas run` writes it, with the given cost and Set5 PSNR (Set14 follows it). */
export function fixtureRun(o: { label: string; kind?: 'searched' | 'baseline'; bitops: number; psnr: number; params?: number; dir?: string }): RunSummary {
  const kind = o.kind ?? 'searched';
  const set = (psnr: number, bicubic: number, ssim: number) => ({ psnr, ssim, bicubic_psnr: bicubic, gain_db: Math.round((psnr - bicubic) * 1e4) / 1e4 });
  const at = (p: string) => (o.dir ? join(o.dir, p) : p);
  return {
    schemaVersion: 1,
    kind,
    label: o.label,
    preset: 'quick',
    space: 'rfdn-bicubic',
    bits: kind === 'baseline' ? 4 : null,
    scale: 4,
    genotype: null,
    params: o.params ?? 13308,
    macs_per_pixel: Math.round(o.bitops / 1024 / 27.8),
    bitops_32x32: o.bitops,
    bitops_per_output_mp: Math.round((o.bitops / (128 * 128)) * 1e6),
    engine: 'int8',
    sets: { Set5: set(o.psnr, 28.43, 0.8412), Set14: set(o.psnr - 2.75, 25.99, 0.7301) },
    seconds: kind === 'searched' ? { search: 156.2, train: 401.7, export: 0.4, eval: 3.1 } : { train: 377.9, export: 0.4, eval: 3.0 },
    // Relative paths, as a sweep's jobs may record them.
    paths: { ...(kind === 'searched' ? { genotype_svg: 'search/genotype.svg' } : {}), training_curve: at('train/curve.svg'), summary: at('run.json') },
  };
}

export const FIXTURE_SVG = (text: string, fill: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="80"><rect width="240" height="80" fill="${fill}"/><text x="10" y="45" font-size="14">${text}</text></svg>\n`;

interface FixtureJob {
  readonly id: string;
  readonly group: string;
  readonly seed: number;
  /** Absent: the job has not finished (no run.json). */
  readonly run?: RunSummary;
}

/** A sweep directory as `quantnas sweep` writes it: sweep.json, and each finished job's run files. */
export function writeSweep(dir: string, name: string, jobs: readonly FixtureJob[]): void {
  mkdirSync(dir, { recursive: true });
  const sweep = {
    schemaVersion: 1,
    name,
    source: { name, runs: [] },
    jobs: jobs.map((j) => ({ id: j.id, label: `${j.group}, seed ${j.seed}`, group: j.group, options: { preset: 'quick', seed: j.seed }, dir: `jobs/${j.id}` })),
  };
  writeFileSync(join(dir, 'sweep.json'), JSON.stringify(sweep, null, 2));
  for (const j of jobs) {
    const jobDir = join(dir, 'jobs', j.id);
    mkdirSync(join(jobDir, 'train'), { recursive: true });
    if (!j.run) continue;
    writeFileSync(join(jobDir, 'run.json'), JSON.stringify(j.run, null, 2));
    writeFileSync(join(jobDir, 'train', 'curve.svg'), FIXTURE_SVG(`curve ${j.id}`, '#eef'));
    if (j.run.kind === 'searched') {
      mkdirSync(join(jobDir, 'search'), { recursive: true });
      writeFileSync(join(jobDir, 'search', 'genotype.svg'), FIXTURE_SVG(`genotype ${j.id}`, '#efe'));
    }
  }
}

/**
 * A small λ sweep: λ = 1e-3 over three seeds, λ = 1e-2 with one seed finished and one pending, and
 * the 4-bit baseline; Set5 values like the README's quick runs.
 */
export function writeLambdaSweep(dir: string, absolutePaths = false): void {
  const run = (id: string, o: Parameters<typeof fixtureRun>[0]) => fixtureRun({ ...o, ...(absolutePaths ? { dir: join(dir, 'jobs', id) } : {}) });
  writeSweep(dir, 'quick λ sweep', [
    { id: 'j1', group: 'searched λ=1e-3', seed: 1, run: run('j1', { label: 'rfdn-bicubic searched λ=0.001', bitops: 0.578e9, psnr: 29.54, params: 16827 }) },
    { id: 'j2', group: 'searched λ=1e-3', seed: 2, run: run('j2', { label: 'rfdn-bicubic searched λ=0.001', bitops: 0.438e9, psnr: 29.64, params: 14604 }) },
    { id: 'j3', group: 'searched λ=1e-3', seed: 3, run: run('j3', { label: 'rfdn-bicubic searched λ=0.001', bitops: 0.466e9, psnr: 29.47, params: 9987 }) },
    { id: 'j4', group: 'searched λ=1e-2', seed: 1, run: run('j4', { label: 'rfdn-bicubic searched λ=0.01', bitops: 0.364e9, psnr: 29.51, params: 10104 }) },
    { id: 'j5', group: 'searched λ=1e-2', seed: 2 },
    { id: 'j6', group: 'rfdn-bicubic 4-bit', seed: 1, run: run('j6', { label: 'rfdn-bicubic 4-bit', kind: 'baseline', bitops: 0.364e9, psnr: 29.56 }) },
  ]);
}
