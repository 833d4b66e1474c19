import { expect } from 'vitest';
import type { CliIo } from './io.js';
import { main } from './main.js';

/** What one `quantnas` invocation printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command line in-process with captured output, no terminal, and the given environment. */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, interactive: false };
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

/** A tiny `basic` genotype at C = 6, x4, with 4- and 8-bit blocks: trains in seconds. */
export const tinyBasicGenotype = {
  schemaVersion: 1,
  space: 'basic',
  scale: 4,
  channels: 6,
  blocks: {
    head0: { op: 'simple_3x3_grouped_3', bits: 8 },
    head1: { op: 'simple_3x3', bits: 4 },
    skip: { op: 'simple_1x1', bits: 4 },
    body1: { op: 'conv_3x1_1x3', bits: 8 },
    body2: { op: 'simple_3x3', bits: 4 },
    upsample: { op: 'simple_3x3_grouped_3', bits: 8 },
    tail1: { op: 'simple_3x3_grouped_3', bits: 8 },
    tail2: { op: 'simple_1x1', bits: 4 },
  },
} as const;
