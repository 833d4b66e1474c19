import { describe, expect, it } from 'vitest';
import { runCheckpointed } from './checkpointed-run.js';
import { UsageError, type CliIo } from './io.js';
import { rerunCommand } from './commands/run.js';

const io = (continueHint?: string): CliIo => ({ stdout: () => {}, stderr: () => {}, env: {}, interactive: false, ...(continueHint ? { continueHint } : {}) });
const stopped = async () => ({ completed: false as const, step: 3, totalSteps: 10, checkpoint: '/runs/x/checkpoint.qnc' });

describe('a stopped checkpointed stage', () => {
  it('says --resume when the user ran the stage itself', async () => {
    const run = runCheckpointed(io(), { title: 't', json: false, userErrors: new Set(), run: stopped });
    await expect(run).rejects.toThrow(new UsageError('stopped at step 3 of 10; checkpoint /runs/x/checkpoint.qnc; rerun with --resume to continue'));
  });

  it('says the command that continues it when another command drives the stage', async () => {
    const hint = `run \`${rerunCommand({ out: 'runs/my run', preset: 'quick', penalty: '1e-3', sets: 'Set5,Set14,B100' })}\` again to continue`;
    expect(hint).toBe("run `quantnas run --out 'runs/my run' --preset quick --penalty 1e-3` again to continue");
    const run = runCheckpointed(io(hint), { title: 't', json: false, userErrors: new Set(), run: stopped });
    await expect(run).rejects.toThrow(`checkpoint /runs/x/checkpoint.qnc; ${hint}`);
    expect(rerunCommand({ out: 'o', preset: 'cpu', arch: 'espcn', bits: '4', sets: 'Set5', data: '/d' })).toBe(
      'quantnas run --out o --preset cpu --arch espcn --bits 4 --data /d --sets Set5',
    );
  });
});
