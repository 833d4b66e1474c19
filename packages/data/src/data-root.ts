import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface DataRootOptions {
  /** A folder the user named (`--data DIR`); it must exist. */
  explicit?: string;
  /** Environment to read `QUANTNAS_DATA`, `XDG_DATA_HOME` and `HOME` from (default: process.env). */
  env?: Env;
  /** The repository root (default: found by walking up from this module). */
  repoRoot?: string;
}

/** One place the data may be, and why it is looked at. */
export interface DataRootCandidate {
  path: string;
  origin: 'explicit' | 'env' | 'repository' | 'user';
}

/**
 * Where the SR data (Set5, Set14, B100, T91, BSD200 folders) is, first match wins:
 * 1. `explicit` (`--data DIR`), 2. `$QUANTNAS_DATA`, 3. `shared/data/sr` beside the repository
 * root (then inside it), 4. the per-user folder `$XDG_DATA_HOME/quantnas/sr`
 * (default `~/.local/share/quantnas/sr`).
 * A folder the user named that does not exist is an error at once, rather than a silent fall back
 * to other data. When nothing is found the error lists every place looked and how to fix it.
 */
export function resolveDataRoot(opts: DataRootOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.explicit !== undefined && opts.explicit !== '') {
    return requireDir(resolve(opts.explicit), '--data');
  }
  const fromEnv = env.QUANTNAS_DATA;
  if (fromEnv !== undefined && fromEnv !== '') return requireDir(resolve(fromEnv), 'QUANTNAS_DATA');
  const candidates = dataRootCandidates({ ...opts, env });
  for (const c of candidates) if (isDir(c.path)) return c.path;
  throw new DataError(
    `no SR data found; looked in ${candidates.map((c) => c.path).join(', ')} ` +
      `(--data and QUANTNAS_DATA not set). Run \`${FETCH_COMMAND}\` to download the SR sets (Set5, Set14, ` +
      `B100, T91, BSD200) into ${userDataRoot(env)}, or put them in one of those places, set QUANTNAS_DATA=DIR, ` +
      `or pass --data DIR.`,
  );
}

/** The command that downloads the data (`@quantnas/cli`); error messages name it. */
export const FETCH_COMMAND = 'quantnas data fetch';

/** The per-user data root, `$XDG_DATA_HOME/quantnas/sr` (default `~/.local/share/quantnas/sr`): where the data is fetched to. */
export function userDataRoot(env: Env = process.env): string {
  return join(userDataHome(env), 'quantnas', 'sr');
}

/**
 * A DataError unless every set in `names` is a folder under `root`; the message names the missing
 * sets, the root and how to get them. For commands that should fail before doing any work.
 */
export function requireSets(root: string, names: readonly string[]): void {
  const missing = names.filter((n) => !isDir(join(root, n)));
  if (missing.length === 0) return;
  throw new DataError(
    `${root} lacks ${missing.join(', ')}: run \`${FETCH_COMMAND} --sets ${missing.join(',')} --dir ${root}\` ` + `to download them, or pass --data DIR`,
    root,
  );
}

/** The implicit places `resolveDataRoot` looks, in order (explicit and env paths excluded). */
export function dataRootCandidates(opts: DataRootOptions = {}): DataRootCandidate[] {
  const env = opts.env ?? process.env;
  const out: DataRootCandidate[] = [];
  const repoRoot = opts.repoRoot ?? findRepoRoot(moduleDir());
  if (repoRoot !== undefined) {
    out.push({ path: resolve(repoRoot, '..', 'shared', 'data', 'sr'), origin: 'repository' });
    out.push({ path: resolve(repoRoot, 'shared', 'data', 'sr'), origin: 'repository' });
  }
  out.push({ path: userDataRoot(env), origin: 'user' });
  return out;
}

/**
 * The nearest folder at or above `start` whose package.json declares `workspaces`: the monorepo
 * root, whether this code runs from `src/` (tests) or `dist/` (built).
 */
export function findRepoRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(pkg, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed) return dir;
      } catch {
        // An unreadable package.json is not the root; keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `$HOME` from `env`, else the OS's idea of it. */
export function homeDir(env: Env): string {
  const home = env.HOME;
  return home !== undefined && home !== '' ? home : homedir();
}

function userDataHome(env: Env): string {
  const xdg = env.XDG_DATA_HOME;
  return xdg !== undefined && xdg !== '' ? xdg : join(homeDir(env), '.local', 'share');
}

function moduleDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function requireDir(path: string, from: string): string {
  if (!existsSync(path)) throw new DataError(`${from}: data folder ${path} does not exist`, path);
  if (!isDir(path)) throw new DataError(`${from}: ${path} is not a folder`, path);
  return path;
}
