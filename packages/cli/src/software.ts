import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What produced a run: results move with the code as they move with the seed (a kernel's summation order changes a search's choices). */
export interface Software {
  readonly quantnas: string;
  readonly node: string;
  /** The git commit of the checkout this CLI runs from (`+changes` when its tracked files differ), null when installed. */
  readonly commit: string | null;
}

// Both src/ and dist/ sit one level below the package root.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

let commit: string | null | undefined;

export function software(): Software {
  return { quantnas: CLI_VERSION, node: process.version, commit: (commit ??= checkoutCommit()) };
}

function checkoutCommit(): string | null {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: packageRoot, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 })
      .toString()
      .trim();
  try {
    // Installed under a project that is itself a checkout, the package's files are not tracked there.
    git('ls-files', '--error-unmatch', 'package.json');
    const head = git('rev-parse', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? head : `${head}+changes`;
  } catch {
    return null;
  }
}

/** A short name for a run's code: its commit's first 10 hex digits, else the version; runs written before runs recorded it are 'unrecorded'. */
export function codeVersion(s: Software | undefined): string {
  if (!s) return 'unrecorded';
  return s.commit ? s.commit.replace(/^([0-9a-f]{10})[0-9a-f]*/, '$1') : `quantnas ${s.quantnas}`;
}
