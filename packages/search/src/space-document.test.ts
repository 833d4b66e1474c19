import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSpace } from '@quantnas/search-spaces';
import { describe, expect, it } from 'vitest';
import { resolveSearchConfig } from './resolve-config.js';
import { spaceDocumentShape } from './space-document.js';

describe('spaceDocumentShape', () => {
  it("gives a user's document's own width, scale and cells; nothing for a shipped space", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantnas-doc-'));
    const doc = { ...structuredClone(getSpace('rfdn')), id: 'mine', channels: 24, scale: 2, cells: 3 };
    const path = join(dir, 'mine.json');
    await writeFile(path, JSON.stringify(doc));
    const shape = await spaceDocumentShape(path);
    expect(shape).toEqual({ channels: 24, scale: 2, cells: 3 });
    expect(await spaceDocumentShape('rfdn')).toBeUndefined();
    // As the command line passes it: the document's shape over the preset's (quick: C 12, x4, 1 cell).
    const config = resolveSearchConfig({ space: path, preset: 'quick', ...shape });
    expect([config.channels, config.scale, config.cells]).toEqual([24, 2, 3]);
  });

  it('refuses a document whose width or scale is beyond the limits, naming the file and the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantnas-doc-'));
    for (const [key, value, message] of [
      ['channels', 1e9, '$.channels: channels must be at most 1024'],
      ['scale', 1000, '$.scale: scale must be at most 16'],
    ] as const) {
      const path = join(dir, `${key}.json`);
      await writeFile(path, JSON.stringify({ ...structuredClone(getSpace('basic')), [key]: value }));
      await expect(spaceDocumentShape(path)).rejects.toThrow(`${path}: search space ${message}`);
    }
  });

  it('names a missing document in one line', async () => {
    await expect(spaceDocumentShape('/nonexistent/space.json')).rejects.toThrow(/^search space '\/nonexistent\/space\.json': no such file/);
  });
});
