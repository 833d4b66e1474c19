// `quantnas data fetch` against a server on 127.0.0.1 serving the upstream layout, built from the
// local SR data (skipped, with a warning, when there is none); then the other commands find the data.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstreamServer, testDataRoot, type UpstreamServer } from '@quantnas/data/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';

const root = testDataRoot('cli: quantnas data fetch from a local upstream server', ['Set5']);
const work = mkdtempSync(join(tmpdir(), 'quantnas-cli-data-'));
const withData = it.skipIf(root === undefined);

describe('quantnas data fetch', () => {
  let server: UpstreamServer | undefined;
  let broken: UpstreamServer | undefined;
  beforeAll(async () => {
    if (root === undefined) return;
    server = await startUpstreamServer(root);
    broken = await startUpstreamServer(root, { missing: ['Set5/HR/head.png'], corrupt: ['Set5/image_SRF_4/img_001_SRF_4_LR.png'] });
  });
  afterAll(async () => {
    await server?.close();
    await broken?.close();
  });

  it('explains itself', async () => {
    const result = await run(['data', 'fetch', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/--sets <list>[\s\S]*--dir <dir>[\s\S]*--base-url <url>/);
  });

  it('rejects unknown sets and a bad base URL before downloading', async () => {
    expectOneLineError(await run(['data', 'fetch', '--sets', 'Set5,Urban100', '--dir', join(work, 'x')]), "got 'Set5,Urban100'");
    expectOneLineError(await run(['data', 'fetch', '--sets', 'Set5', '--dir', join(work, 'x')], { QUANTNAS_DATA_URL: 'ftp://mirror' }), 'http(s) URL');
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  withData('fetches into the user data directory by default, where sets then finds it', async () => {
    const env = { XDG_DATA_HOME: join(work, 'xdg'), XDG_CACHE_HOME: join(work, 'cache'), QUANTNAS_DATA: undefined, QUANTNAS_DATA_URL: server!.url };
    const fetched = await run(['data', 'fetch', '--sets', 'Set5', '--json'], env);
    expect(fetched.stderr).toBe('');
    expect(fetched.code).toBe(0);
    const dir = join(work, 'xdg', 'quantnas', 'sr');
    expect(JSON.parse(fetched.stdout)).toMatchObject({ dir, fetched: ['Set5'], present: [] });
    const sets = await run(['sets', '--json', '--data', dir]);
    expect(JSON.parse(sets.stdout).sets).toEqual([{ name: 'Set5', pairs: 5 }]);
    const again = await run(['data', 'fetch', '--sets', 'Set5'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`Set5 is already in ${join(dir, 'Set5')}`);
  });

  withData('a 404 and a corrupted file are one line each and leave no set', async () => {
    const dir = join(work, 'broken');
    const env = { XDG_CACHE_HOME: join(work, 'cache-broken') };
    const missing = await run(['data', 'fetch', '--sets', 'Set5', '--dir', dir, '--base-url', broken!.url], env);
    const corrupt = await run(['data', 'fetch', '--sets', 'Set5', '--dir', dir, '--base-url', broken!.url], env);
    // Either failure may come first (downloads run in parallel); between them they name both.
    expectOneLineError(missing, 'Set5/');
    expectOneLineError(corrupt, 'Set5/');
    expect(missing.stderr + corrupt.stderr).toMatch(/head\.png answered 404 Not Found|img_001_SRF_4_LR\.png: SHA-256/);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });
});

describe('without data', () => {
  it('sets and run say to run quantnas data fetch', async () => {
    const empty = { QUANTNAS_DATA: undefined, HOME: join(work, 'home'), XDG_DATA_HOME: join(work, 'no-xdg') };
    // The folder beside the repository may hold data; an empty QUANTNAS_DATA cannot.
    const emptyRoot = mkdtempSync(join(work, 'empty-'));
    expectOneLineError(await run(['run', '--out', join(work, 'r')], { ...empty, QUANTNAS_DATA: emptyRoot }), 'quantnas data fetch');
    const sets = await run(['sets'], { ...empty, QUANTNAS_DATA: emptyRoot });
    expect(sets.stdout + sets.stderr).toContain('quantnas data fetch');
  });
});
