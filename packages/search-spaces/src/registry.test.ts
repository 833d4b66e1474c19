import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getSpace, loadSpec, SPACE_IDS } from './registry.js';

const exampleFile = join(import.meta.dirname, '..', 'examples', 'espcn.json');
const dir = await mkdtemp(join(tmpdir(), 'search-spaces-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('registry', () => {
  it('ships rfdn, basic, rfdn-bicubic and two fixed architectures, validated and frozen', () => {
    expect(SPACE_IDS).toEqual(['rfdn', 'basic', 'rfdn-bicubic', 'fsrcnn', 'espcn']);
    const rfdn = getSpace('rfdn');
    expect([rfdn.id, rfdn.channels, rfdn.scale, rfdn.cells, rfdn.bits]).toEqual(['rfdn', 48, 4, 4, [4, 8]]);
    expect(getSpace('basic').channels).toBe(36);
    expect(Object.isFrozen(rfdn.nodes)).toBe(true);
    expect(getSpace('rfdn')).toBe(rfdn);
    expect(() => getSpace('nope')).toThrow("unknown search space 'nope' (shipped: rfdn, basic, rfdn-bicubic, fsrcnn, espcn");
  });

  it('loads a shipped id or a user file', async () => {
    expect(await loadSpec('basic')).toBe(getSpace('basic'));
    expect((await loadSpec(exampleFile)).id).toBe('my-espcn');
  });

  it('names the file and the JSON path of a problem', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...getSpace('basic'), bits: [4, 9] }));
    await expect(loadSpec(bad)).rejects.toThrow(`${bad}: search space $.bits[1]: bit-width 9 is not supported`);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "schemaVersion": 1,');
    await expect(loadSpec(broken)).rejects.toThrow(`${broken}: not valid JSON`);
    await expect(loadSpec(join(dir, 'missing.json'))).rejects.toThrow('no such file, and not a shipped space');
  });
});
