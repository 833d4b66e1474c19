import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '@quantnas/data';
import { describe, expect, it } from 'vitest';
import { runCli as run } from '../test-helpers.js';

describe('quantnas sets', () => {
  it('lists every set when one holds an image smaller than the scale, marking that one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'quantnas-sets-'));
    for (const [set, size] of [
      ['Good', 16],
      ['Small', 2],
    ] as const) {
      await mkdir(join(root, set));
      await writeFile(join(root, set, 'a.png'), encodePng({ width: size, height: size, channels: 1, data: new Uint8Array(size * size) }));
    }
    const json = await run(['sets', '--json', '--data', root]);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.sets).toEqual([
      { name: 'Good', pairs: 1 },
      { name: 'Small', pairs: null, error: `${join(root, 'Small', 'a.png')}: a 2x2 image is smaller than scale 4` },
    ]);
    const table = await run(['sets', '--data', root]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/Good\s+1\n[\s\S]*Small\s+unusable/);
    expect(table.stderr).toBe(`quantnas: note: set Small is unusable at x4: ${join(root, 'Small', 'a.png')}: a 2x2 image is smaller than scale 4\n`);
  });
});
