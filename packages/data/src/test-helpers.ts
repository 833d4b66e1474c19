// Test-only (exported under the `@quantnas/source` condition, never built): how the tests of every
// package find the SR data, or learn that there is none.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDataRoot, type Env } from './data-root.js';

/** Every set some test reads. */
export const TEST_SETS = ['Set5', 'Set14', 'B100', 'T91', 'BSD200'] as const;

/**
 * Why the data tests cannot run here, or undefined when the data root holds every set in `sets`.
 * The data is resolved as the tools resolve it (QUANTNAS_DATA, the folder beside the repository,
 * the per-user folder), so an empty QUANTNAS_DATA folder means "no data".
 */
export function missingTestData(sets: readonly string[] = TEST_SETS, env: Env = process.env): string | undefined {
  let root: string;
  try {
    root = resolveDataRoot({ env });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const absent = sets.filter((s) => !isDir(join(root, s)));
  return absent.length === 0 ? undefined : `the data root ${root} lacks ${absent.join(', ')}`;
}

/**
 * The data root for tests that need the SR sets, or undefined after one warning that names `what`
 * is skipped, why, and how to get the data. With QUANTNAS_REQUIRE_DATA=1 (CI) missing data is an
 * error instead, so that the data tests cannot silently stop running.
 */
export function testDataRoot(what: string, sets: readonly string[] = TEST_SETS, env: Env = process.env): string | undefined {
  const missing = missingTestData(sets, env);
  if (missing === undefined) return resolveDataRoot({ env });
  const message = `${what}: no SR data (${missing}). Run \`npx quantnas data fetch\` or set QUANTNAS_DATA=DIR.`;
  if (env.QUANTNAS_REQUIRE_DATA === '1') throw new Error(`${message} QUANTNAS_REQUIRE_DATA=1 makes this a failure.`);
  console.warn(`skipping ${message}`);
  return undefined;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
