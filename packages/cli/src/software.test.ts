import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { versionsLine } from './report/markdown.js';
import type { ReportRun } from './report/inputs.js';
import { fixtureRun } from './report/test-helpers.js';
import { CLI_VERSION, codeVersion, software } from './software.js';

describe('software', () => {
  it("records the CLI's version, Node's and the checkout's commit", () => {
    const s = software();
    expect(s.quantnas).toBe(CLI_VERSION);
    expect(s.quantnas).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.node).toBe(process.version);
    let head: string | null = null;
    try {
      head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: import.meta.dirname, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      // Not a checkout (a copy of the package): nothing to record.
    }
    if (head) expect(s.commit).toMatch(new RegExp(`^${head}(\\+changes)?$`));
    else expect(s.commit).toBeNull();
  });

  it('names a version by its commit, else by the release, and says when runs come from several', () => {
    const commit = { quantnas: '0.1.0', node: 'v20.0.0', commit: '0123456789abcdef0123456789abcdef01234567+changes' };
    expect(codeVersion(commit)).toBe('0123456789+changes');
    expect(codeVersion({ ...commit, commit: null })).toBe('quantnas 0.1.0');
    expect(codeVersion(undefined)).toBe('unrecorded');
    const run = (software?: typeof commit) =>
      ({ run: { ...fixtureRun({ label: 'r', bitops: 1e9, psnr: 29 }), ...(software ? { software } : {}) } }) as ReportRun;
    expect(versionsLine([run(commit), run(commit)])).toBeUndefined();
    expect(versionsLine([run(commit), run(commit), run()])).toBe(
      'Runs from 2 code versions (0123456789+changes: 2 runs; unrecorded: 1 run): results move with the code as they move with the seed, so compare runs of one version.',
    );
  });
});
