import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStageLine, runEmbedded, type JobExecution } from './engine.js';
import { expandExperiment, parseExperiment } from './experiment.js';
import { packResults, readSweepManifest, unpackResults, writeSweepManifest } from './sweep-dir.js';

const source = {
  schemaVersion: 1,
  name: 'tiny',
  defaults: { preset: 'smoke' },
  grid: { seed: [1, 2] },
  variants: [{ name: 'a' }, { name: 'b', mode: 'direct' }],
};
const experiment = parseExperiment(source, 'tiny.json');
const jobs = expandExperiment(experiment);

/** Stands in for `quantnas run`: a checkpoint on its first call, the finished files on the next (or the first, when `stopFirst` is off). */
function fakeRun(log: string[], stopFirst = new Set<string>()) {
  return async ({ job, dir, args, onProgress }: JobExecution) => {
    log.push(`${job.id} ${args.join(' ')}`);
    onProgress({ stage: 1, stages: 2, title: 'search', percent: 0 });
    if (stopFirst.delete(job.id)) {
      writeFileSync(join(dir, 'checkpoint'), 'step 3');
      throw new Error('stopped at step 3');
    }
    const resumed = existsSync(join(dir, 'checkpoint'));
    mkdirSync(join(dir, 'search'), { recursive: true });
    writeFileSync(join(dir, 'search', 'genotype.json'), '{}');
    writeFileSync(join(dir, 'model.qnas'), Buffer.from([1, 2, 3]));
    writeFileSync(
      join(dir, 'run.json'),
      JSON.stringify({
        schemaVersion: 1,
        resumed,
        paths: { genotype: join(dir, 'search', 'genotype.json'), model: join(dir, 'model.qnas'), other: '/elsewhere/x' },
      }),
    );
  };
}

describe('the embedded engine', () => {
  it('runs each job into jobs/<id>, skips finished ones, and continues a stopped one in its directory', async () => {
    const sweepDir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-emb-'));
    writeSweepManifest(sweepDir, experiment, source, jobs);
    expect(readSweepManifest(sweepDir).jobs.map((j) => j.dir)).toEqual(jobs.map((j) => `jobs/${j.id}`));
    const log: string[] = [];
    const events: string[] = [];
    const first = await runEmbedded({ sweepDir, jobs, executor: fakeRun(log, new Set([jobs[1]!.id])), onEvent: (e) => events.push(e.type) });
    expect(first.completed).toHaveLength(3);
    expect(first.failed).toEqual([{ id: jobs[1]!.id, label: jobs[1]!.label, error: 'stopped at step 3' }]);
    expect(events.filter((e) => e === 'progress')).toHaveLength(4);
    const run = JSON.parse(readFileSync(join(sweepDir, 'jobs', jobs[0]!.id, 'run.json'), 'utf8'));
    expect(run.paths).toEqual({ genotype: 'search/genotype.json', model: 'model.qnas', other: '/elsewhere/x' });
    expect(log[0]).toBe(`${jobs[0]!.id} --preset smoke --seed 1`);
    expect(log[1]).toBe(`${jobs[1]!.id} --preset smoke --seed 2`);

    const second = await runEmbedded({ sweepDir, jobs, executor: fakeRun(log) });
    expect(second.skipped).toHaveLength(3);
    expect(second.completed).toEqual([jobs[1]!.id]);
    expect(JSON.parse(readFileSync(join(sweepDir, 'jobs', jobs[1]!.id, 'run.json'), 'utf8')).resumed).toBe(true);
    expect(log).toHaveLength(5);
  });

  it('refuses a directory that holds another sweep', () => {
    const sweepDir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-other-'));
    writeSweepManifest(sweepDir, experiment, source, jobs);
    expect(() => writeSweepManifest(sweepDir, { ...experiment, name: 'other' }, source, jobs)).toThrow(/holds the sweep 'tiny', not 'other'/);
  });
});

describe('result files', () => {
  it('packs the listed files with relative paths and unpacks them elsewhere; a size cap is a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quantnas-sweep-pack-'));
    await fakeRun([])({ job: jobs[0]!, dir, args: [], signal: new AbortController().signal, onProgress: () => {} });
    writeFileSync(join(dir, 'unlisted.bin'), 'x');
    const packed = packResults(dir);
    expect(Object.keys(packed.files)).toEqual(['search/genotype.json', 'model.qnas', 'run.json']);
    const target = mkdtempSync(join(tmpdir(), 'quantnas-sweep-unpack-'));
    unpackResults(JSON.parse(JSON.stringify(packed)), target);
    expect([...readFileSync(join(target, 'model.qnas'))]).toEqual([1, 2, 3]);
    expect(JSON.parse(readFileSync(join(target, 'run.json'), 'utf8')).paths.model).toBe('model.qnas');
    expect(existsSync(join(target, 'unlisted.bin'))).toBe(false);
    expect(() => packResults(dir, 10)).toThrow(/over the 0\.0 MiB a job may send back \(search\/genotype\.json/);
    expect(() => unpackResults({ ...packed, files: { ...packed.files, '../x': '' } }, target)).toThrow(/unexpected file '\.\.\/x'/);
  });

  it('reads the stage lines of quantnas run', () => {
    expect(parseStageLine('quantnas run: [2/5] train (quick)\n')).toEqual({ stage: 2, stages: 5, title: 'train (quick)', percent: 20 });
    expect(parseStageLine('quantnas: note: x')).toBeUndefined();
  });
});
