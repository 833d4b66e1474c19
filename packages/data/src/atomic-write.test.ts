import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';

describe('atomic writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quantnas-atomic-'));

  it('write a new file, replace an old one and create missing folders, leaving no temporary file', async () => {
    const path = join(dir, 'a', 'b', 'out.json');
    writeFileAtomicSync(path, 'först\n');
    expect(readFileSync(path, 'utf8')).toBe('först\n');
    writeFileAtomicSync(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, new Uint8Array([4]));
    expect([...readFileSync(path)]).toEqual([4]);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['out.json']);
  });

  it('fail without touching the target or leaving a temporary file when the rename cannot happen', () => {
    const target = join(dir, 'occupied');
    // A non-empty folder at the target: the rename fails after the data was written.
    writeFileSync(join(dir, 'keep'), 'x');
    const folder = join(dir, 'occupied');
    writeFileAtomicSync(join(folder, 'inside'), 'y');
    expect(() => writeFileAtomicSync(target, 'new')).toThrow();
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(join(folder, 'inside'), 'utf8')).toBe('y');
  });
});
