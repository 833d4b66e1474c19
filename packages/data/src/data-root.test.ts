import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCacheDir } from './cache-dir.js';
import { dataRootCandidates, findRepoRoot, requireSets, resolveDataRoot, userDataRoot } from './data-root.js';
import { DataError } from './errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'quantnas-data-root-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function dir(...parts: string[]): string {
  const path = join(tmp, ...parts);
  mkdirSync(path, { recursive: true });
  return path;
}

// A fake checkout: <base>/repo/package.json with workspaces, and <base>/shared/data/sr beside it.
function fakeCheckout(name: string, withData: boolean): { repo: string; data: string } {
  const repo = dir(name, 'repo');
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ workspaces: ['packages/*'] }));
  const data = join(tmp, name, 'shared', 'data', 'sr');
  if (withData) mkdirSync(data, { recursive: true });
  return { repo, data };
}

describe('resolveDataRoot', () => {
  const empty = { HOME: dir('empty-home') };

  it('prefers an explicit folder, then QUANTNAS_DATA, then the repository, then the user folder', () => {
    const { repo, data } = fakeCheckout('order', true);
    const explicit = dir('explicit');
    const fromEnv = dir('from-env');
    const home = dir('home');
    const user = dir('home', '.local', 'share', 'quantnas', 'sr');
    const env = { QUANTNAS_DATA: fromEnv, HOME: home };
    expect(resolveDataRoot({ explicit, env, repoRoot: repo })).toBe(explicit);
    expect(resolveDataRoot({ env, repoRoot: repo })).toBe(fromEnv);
    expect(resolveDataRoot({ env: { HOME: home }, repoRoot: repo })).toBe(data);
    const { repo: bare } = fakeCheckout('bare', false);
    expect(resolveDataRoot({ env: { HOME: home }, repoRoot: bare })).toBe(user);
    const xdg = dir('xdg', 'quantnas', 'sr');
    expect(resolveDataRoot({ env: { HOME: home, XDG_DATA_HOME: join(tmp, 'xdg') }, repoRoot: bare })).toBe(xdg);
  });

  it('fails at once when an explicit or QUANTNAS_DATA folder is missing, instead of falling through', () => {
    const { repo } = fakeCheckout('strict', true);
    const missing = join(tmp, 'missing');
    expect(() => resolveDataRoot({ explicit: missing, env: empty, repoRoot: repo })).toThrow(new RegExp(`^--data: data folder ${missing} does not exist$`));
    expect(() => resolveDataRoot({ env: { ...empty, QUANTNAS_DATA: missing }, repoRoot: repo })).toThrow(/^QUANTNAS_DATA: data folder .* does not exist$/);
  });

  it('lists every place looked and how to get the data when nothing is found', () => {
    const { repo } = fakeCheckout('nothing', false);
    let caught: unknown;
    try {
      resolveDataRoot({ env: empty, repoRoot: repo });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DataError);
    const message = (caught as Error).message;
    for (const c of dataRootCandidates({ env: empty, repoRoot: repo })) expect(message).toContain(c.path);
    expect(message).toContain(join(empty.HOME, '.local', 'share', 'quantnas', 'sr'));
    expect(message).toMatch(/Set5, Set14, B100, T91/);
    expect(message).toMatch(/--data DIR/);
    expect(message).not.toContain('\n');
  });

  it('finds the real repository root from this module, and looks for the data beside it', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const repo = findRepoRoot(here);
    expect(repo).toBeDefined();
    expect(findRepoRoot(join(here, '..', 'dist'))).toBe(repo);
    // The folder beside the checkout is the first implicit place looked, whether or not it exists.
    expect(dataRootCandidates({ env: {} })[0]).toEqual({ path: resolve(repo!, '..', 'shared', 'data', 'sr'), origin: 'repository' });
  });
});

describe('resolveCacheDir', () => {
  it('uses QUANTNAS_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(resolveCacheDir({ QUANTNAS_CACHE: '/c/q', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c/q');
    expect(resolveCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/quantnas');
    expect(resolveCacheDir({ HOME: '/h' })).toBe('/h/.cache/quantnas');
  });
});

describe('requireSets', () => {
  it('passes when every set is there and names the missing ones and the fetch command otherwise', () => {
    const root = join(tmp, 'partial');
    mkdirSync(join(root, 'Set5'), { recursive: true });
    expect(() => requireSets(root, ['Set5'])).not.toThrow();
    expect(() => requireSets(root, ['Set5', 'T91', 'BSD200'])).toThrow(
      new DataError(`${root} lacks T91, BSD200: run \`quantnas data fetch --sets T91,BSD200 --dir ${root}\` to download them, or pass --data DIR`, root),
    );
  });

  it('the no-data error says how to fetch the data, and where it goes', () => {
    const repo = fakeCheckout('no-data-fetch', false).repo;
    const env = { HOME: join(tmp, 'nohome'), XDG_DATA_HOME: join(tmp, 'xdg-empty') };
    expect(() => resolveDataRoot({ env, repoRoot: repo })).toThrow(/Run `quantnas data fetch` to download .* into .*xdg-empty\/quantnas\/sr/);
    expect(userDataRoot(env)).toBe(join(tmp, 'xdg-empty', 'quantnas', 'sr'));
  });
});
