import { expect } from 'vitest';
import type { CliIo } from './io.js';
import { main } from './main.js';

/** What one `quantnas` invocation printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the command line in-process with captured output and no terminal. It sees the test process's
 * environment (so data given through QUANTNAS_DATA reaches it, as it reaches a user's shell), with
 * `env` set on top; a variable set to undefined there is removed.
 */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: merged, interactive: false };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** A failure the user caused: non-zero exit, one line `quantnas: …` naming what is wrong, no stack trace. */
export function expectOneLineError(result: Pick<CliRun, 'code' | 'stderr'>, ...mentions: string[]): void {
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^quantnas: /);
  expect(lines[0]).not.toMatch(/internal error/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  for (const m of mentions) expect(result.stderr).toContain(m);
}

// Test-only: resolved through the source condition the tests run under.
export { tinyBasicGenotype } from '@quantnas/search/test-helpers';
