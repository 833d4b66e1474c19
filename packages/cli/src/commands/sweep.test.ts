import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDataRoot } from '@quantnas/data/test-helpers';
import { expandExperiment, parseExperiment, writeSweepManifest } from '@quantnas/sweep';
import { haveRedis, startRedis, type RedisServer } from '@quantnas/sweep/test-helpers';
import { describe, expect, it } from 'vitest';
import { CLI_BIN } from '../run-executor.js';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-sweep-'));

function experimentFile(name: string, doc: unknown): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

describe('quantnas sweep and quantnas worker', () => {
  it('explain themselves', async () => {
    const sweep = await run(['sweep', '--help']);
    expect(sweep.code).toBe(0);
    expect(sweep.stdout).toMatch(/Expands the experiment FILE[\s\S]*--out <dir>[\s\S]*--queue <url>[\s\S]*--no-wait[\s\S]*--json/);
    const status = await run(['sweep', 'status', '--help']);
    expect(status.stdout).toMatch(/waiting, active, completed, failed[\s\S]*--queue <url>/);
    const worker = await run(['worker', '--help']);
    expect(worker.stdout).toMatch(/QUANTNAS_SWEEP_LOCK_MS[\s\S]*--work-dir <dir>[\s\S]*--concurrency <n>/);
  });

  it('refuses a bad experiment file, option or queue in one line, before writing anything', async () => {
    const bad = experimentFile('bad.json', { schemaVersion: 1, name: 'x', grid: { seed: [1] }, variants: [{ name: 'a', sed: 2 }] });
    const out = join(work, 'never');
    expectOneLineError(await run(['sweep', bad, '--out', out]), 'bad.json', "unknown key 'variants[0].sed'");
    const good = experimentFile('good.json', { schemaVersion: 1, name: 'x', grid: { seed: [1] } });
    expectOneLineError(await run(['sweep', good]), "'--out <dir>'");
    expectOneLineError(await run(['sweep', good, '--out', out, '--queue', 'http://localhost:6379']), '--queue must be a redis://HOST:PORT URL');
    expectOneLineError(await run(['sweep', good, '--out', out, '--no-wait']), '--no-wait and --retry-failed apply to --queue only');
    expectOneLineError(await run(['sweep', good, '--out', out, '--queue', 'redis://127.0.0.1:1']), 'cannot reach Redis at redis://127.0.0.1:1');
    expectOneLineError(await run(['sweep', 'status', good]), 'without --queue, give the sweep directory');
    expect(existsSync(out)).toBe(false);
  });

  it('lists the jobs a file expands into with --dry-run, and writes nothing', async () => {
    const file = experimentFile('plan.json', {
      schemaVersion: 1,
      name: 'plan',
      defaults: { preset: 'smoke' },
      grid: { seed: [1, 2] },
      variants: [{ name: 'joint' }, { name: 'direct', mode: 'direct' }],
    });
    const out = join(work, 'plan-never');
    const result = await run(['sweep', file, '--out', out, '--dry-run', '--json']);
    expect(result.code).toBe(0);
    const { jobs } = JSON.parse(result.stdout) as { jobs: { id: string; label: string; command: string }[] };
    expect(jobs.map((j) => j.label)).toEqual(['joint, seed 1', 'joint, seed 2', 'direct, seed 1', 'direct, seed 2']);
    expect(jobs[3]!.command).toBe(`quantnas run --out ${out}/jobs/${jobs[3]!.id} --preset smoke --mode direct --seed 2`);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(4);
    expect((await run(['sweep', file, '--dry-run'])).stdout).toMatch(/^4 jobs\n[\s\S]*direct, seed 2/);
    expect(existsSync(out)).toBe(false);
  });

  it('reads the status of an embedded sweep from its directory', async () => {
    const source = { schemaVersion: 1, name: 'status', defaults: { preset: 'smoke' }, grid: { seed: [1, 2, 3] } };
    const jobs = expandExperiment(parseExperiment(source, 'status.json'));
    const dir = join(work, 'status-sweep');
    writeSweepManifest(dir, parseExperiment(source, 'status.json'), source, jobs);
    mkdirSync(join(dir, 'jobs', jobs[0]!.id));
    writeFileSync(join(dir, 'jobs', jobs[0]!.id, 'run.json'), '{}');
    mkdirSync(join(dir, 'jobs', jobs[1]!.id));
    const result = await run(['sweep', 'status', dir, '--json']);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.counts).toEqual({ waiting: 1, active: 0, completed: 1, failed: 0, started: 1 });
    expect(status.jobs.map((j: { state: string }) => j.state)).toEqual(['completed', 'started', 'waiting']);
    const text = await run(['sweep', 'status', dir]);
    expect(text.stdout).toMatch(/^sweep status: 3 jobs: 1 waiting, 0 active, 1 completed, 0 failed, 1 started\n/);
    expect(text.stdout).toContain('searched, seed 2');
  });
});

// The whole thing for real: Redis on loopback, `quantnas worker` processes running `quantnas run` at
// the smoke preset, a worker killed mid-job, Redis restarted mid-sweep, the file submitted twice.
const dataRoot = testDataRoot('cli: a sweep of real quantnas run jobs on workers', ['Set5', 'T91', 'BSD200']);
const redisReady = haveRedis('cli: a sweep of real quantnas run jobs on workers');

describe.skipIf(dataRoot === undefined)('a sweep run here', () => {
  it('runs its job as quantnas run into jobs/<id>, and skips it the second time', { timeout: 600_000 }, async () => {
    const file = experimentFile('embedded.json', { schemaVersion: 1, name: 'embedded', defaults: { preset: 'smoke', sets: 'Set5', workers: 1, seed: 1 } });
    const sweepDir = join(work, 'embedded-sweep');
    const env = { QUANTNAS_DATA: dataRoot };
    const first = await run(['sweep', file, '--out', sweepDir, '--json'], env);
    expect(first.stderr).not.toMatch(/internal error/);
    expect(first.code).toBe(0);
    const outcome = JSON.parse(first.stdout);
    expect(outcome).toMatchObject({ total: 1, skipped: [], failed: [], stopped: false });
    const id = outcome.completed[0];
    expect(first.stderr).toMatch(new RegExp(`\\[1/1\\] searched, seed 1 \\(${id}\\): \\[2/5\\] train`));
    const summary = JSON.parse(readFileSync(join(sweepDir, 'jobs', id, 'run.json'), 'utf8'));
    expect(summary.paths).toMatchObject({ model: 'model.qnas', genotype: 'search/genotype.json', summary: 'run.json' });
    const again = await run(['sweep', file, '--out', sweepDir, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ completed: [], skipped: [id] });
  });
});

describe.skipIf(dataRoot === undefined || !redisReady)('a sweep on a BullMQ queue', () => {
  it('runs every job exactly once across workers, a SIGKILLed worker and a Redis restart', { timeout: 1_200_000 }, async () => {
    const started = performance.now();
    const redis: RedisServer = await startRedis();
    const children: ChildProcess[] = [];
    const env = { ...process.env, QUANTNAS_SWEEP_LOCK_MS: '5000', QUANTNAS_DATA: dataRoot, CI: 'true' };
    const spawnCli = (args: string[]) => {
      const child = spawn(process.execPath, [CLI_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = { stdout: '', stderr: '', exited: new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))) };
      child.stdout!.on('data', (c: Buffer) => (out.stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out.stderr += c.toString()));
      children.push(child);
      return { child, out };
    };
    const events = (stdout: string) =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { type: string; id?: string; progress?: { stage: number } });
    const workerOutputs: { stdout: string }[] = [];
    const until = async (what: string, test: () => boolean, ms = 600_000) => {
      const deadline = Date.now() + ms;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        // A run that fails is a broken test, not something to wait out.
        const failure = workerOutputs.flatMap((o) => events(o.stdout)).find((e) => e.type === 'retrying' || e.type === 'failed');
        if (failure) throw new Error(`a job failed while waiting for ${what}: ${JSON.stringify(failure)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    try {
      const file = experimentFile('e2e.json', {
        schemaVersion: 1,
        name: 'e2e',
        defaults: { preset: 'smoke', sets: 'Set5', workers: 1 },
        grid: { seed: [1, 2] },
        variants: [{ name: 'noise' }, { name: 'direct', mode: 'direct' }],
      });
      const sweepDir = join(work, 'e2e-sweep');
      const submit = async () => {
        const s = spawnCli(['sweep', file, '--queue', redis.url, '--out', sweepDir, '--no-wait', '--json']);
        expect(await s.out.exited).toBe(0);
        return JSON.parse(s.out.stdout) as { added: string[]; existing: string[]; queue: string };
      };
      const first = await submit();
      expect(first.added).toHaveLength(4);
      const second = await submit();
      expect([second.added, second.existing.length]).toEqual([[], 4]);

      // The submitter waits and collects throughout.
      const collector = spawnCli(['sweep', file, '--queue', redis.url, '--out', sweepDir, '--json']);
      const workDirs = [1, 2, 3].map((i) => join(work, `worker-${i}`));
      const w1 = spawnCli(['worker', '--queue', redis.url, '--work-dir', workDirs[0]!, '--json']);
      const w2 = spawnCli(['worker', '--queue', redis.url, '--work-dir', workDirs[1]!, '--json']);
      workerOutputs.push(w1.out, w2.out);

      // Mid-job (its run is searching): SIGKILL the first worker; its run dies with it.
      await until('worker 1 to start the search of a job', () => events(w1.out.stdout).some((e) => e.type === 'progress'));
      const killedJob = events(w1.out.stdout)
        .filter((e) => e.type === 'started')
        .at(-1)!.id!;
      w1.child.kill('SIGKILL');
      await w1.out.exited;
      await until('the killed worker’s run to exit', () => processesWriting(workDirs[0]!).length === 0, 10_000);

      // Redis restarts mid-sweep (jobs still to do); then a new worker joins.
      const completedBefore = [w1, w2].flatMap((w) => events(w.out.stdout).filter((e) => e.type === 'completed')).length;
      expect(completedBefore).toBeLessThan(4);
      expect(collector.child.exitCode).toBeNull();
      await redis.restart();
      const w3 = spawnCli(['worker', '--queue', redis.url, '--work-dir', workDirs[2]!, '--json']);
      workerOutputs.push(w3.out);

      await until('the collector to finish', () => collector.child.exitCode !== null);
      const code = await collector.out.exited;
      expect(collector.out.stderr).not.toMatch(/internal error/);
      expect(code).toBe(0);
      const outcome = JSON.parse(collector.out.stdout);
      expect(outcome.failed).toEqual([]);
      expect(outcome.completed.length + outcome.skipped.length).toBe(4);

      for (const w of [w2, w3]) w.child.kill('SIGTERM');
      expect(await w2.out.exited).toBe(0);
      expect(await w3.out.exited).toBe(0);

      // Every job completed exactly once, the killed one on another worker.
      const completions = [w1, w2, w3].flatMap((w) =>
        events(w.out.stdout)
          .filter((e) => e.type === 'completed')
          .map((e) => e.id!),
      );
      expect(completions.sort()).toEqual([...first.added].sort());
      expect(events(w1.out.stdout).some((e) => e.type === 'completed' && e.id === killedJob)).toBe(false);
      // It went back to the queue through the stalled-job check of a live worker.
      expect([w2, w3].flatMap((w) => events(w.out.stdout)).some((e) => e.type === 'stalled' && e.id === killedJob)).toBe(true);
      const status = await run(['sweep', 'status', file, '--queue', redis.url, '--json']);
      expect(JSON.parse(status.stdout).counts).toEqual({ waiting: 0, active: 0, completed: 4, failed: 0 });

      // Each job's results are in the sweep directory, with paths relative to it.
      const manifest = JSON.parse(readFileSync(join(sweepDir, 'sweep.json'), 'utf8'));
      expect(manifest.jobs.map((j: { id: string }) => j.id).sort()).toEqual([...first.added].sort());
      for (const job of manifest.jobs as { id: string; dir: string }[]) {
        const summary = JSON.parse(readFileSync(join(sweepDir, job.dir, 'run.json'), 'utf8'));
        expect(summary.paths.model).toBe('model.qnas');
        expect(existsSync(join(sweepDir, job.dir, 'model.qnas'))).toBe(true);
        expect(existsSync(join(sweepDir, job.dir, 'search', 'genotype.json'))).toBe(true);
      }

      // Submitting the finished sweep again adds nothing; collecting again finds everything there.
      const third = await submit();
      expect(third.added).toEqual([]);
      const again = await run(['sweep', file, '--queue', redis.url, '--out', sweepDir, '--json']);
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ completed: [], failed: [] });
      expect(JSON.parse(again.stdout).skipped).toHaveLength(4);
      const after = await run(['sweep', 'status', file, '--queue', redis.url, '--json']);
      expect(JSON.parse(after.stdout).counts).toEqual({ waiting: 0, active: 0, completed: 4, failed: 0 });
      console.log(`sweep end-to-end: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await redis.stop();
    }
  });
});

/** Processes whose command line names `dir` (a run writing there), from /proc. */
function processesWriting(dir: string): number[] {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(join('/proc', entry, 'cmdline'), 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}
