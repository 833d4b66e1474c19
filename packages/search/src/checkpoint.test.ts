import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadLatestCheckpoint,
  previousCheckpointPath,
  readCheckpoint,
  writeCheckpointFile,
} from './checkpoint.js';

const contents = (step: number) => ({
  state: { step, note: 'ünïcode' },
  tensors: new Map([
    ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -0.5]) }],
    ['b', { shape: [], data: Float32Array.from([step]) }],
  ]),
});

describe('checkpoint format', () => {
  it('round-trips state and tensors exactly', () => {
    const back = decodeCheckpoint<{ step: number }>(encodeCheckpoint(contents(7)), 'x.qnc');
    expect(back.state).toEqual({ step: 7, note: 'ünïcode' });
    expect([...back.tensors.keys()]).toEqual(['a', 'b']);
    expect(back.tensors.get('a')).toEqual({ shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -0.5]) });
  });

  it('names the file and the problem for truncation, bit flips and foreign files', () => {
    const bytes = encodeCheckpoint(contents(1));
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 3), '/d/c.qnc')).toThrow('/d/c.qnc: truncated checkpoint (data is');
    expect(() => decodeCheckpoint(bytes.subarray(0, 20), '/d/c.qnc')).toThrow('/d/c.qnc: truncated checkpoint (header');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 2] ^= 0x10;
    expect(() => decodeCheckpoint(flipped, 'c.qnc')).toThrow('c.qnc: corrupt checkpoint (data checksum mismatch)');
    const header = Buffer.from(bytes);
    header[20] ^= 0x01;
    expect(() => decodeCheckpoint(header, 'c.qnc')).toThrow('header checksum mismatch');
    expect(() => decodeCheckpoint(Buffer.from('{"not":"a checkpoint"}'), 'c.qnc')).toThrow(CheckpointError);
    expect(() => readCheckpoint('/nonexistent/c.qnc')).toThrow('/nonexistent/c.qnc: cannot read checkpoint (ENOENT)');
  });

  it('keeps the previous checkpoint and falls back to it when the newest is damaged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quantnas-ckpt-'));
    const path = join(dir, 'checkpoint.qnc');
    expect(loadLatestCheckpoint(path)).toBeUndefined();
    writeCheckpointFile(path, contents(1));
    writeCheckpointFile(path, contents(2));
    expect(previousCheckpointPath(path)).toBe(join(dir, 'checkpoint.prev.qnc'));
    expect(readCheckpoint<{ step: number }>(previousCheckpointPath(path)).state.step).toBe(1);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(loadLatestCheckpoint<{ step: number }>(path)!.state.step).toBe(2);

    const good = readFileSync(path);
    writeFileSync(path, good.subarray(0, good.length - 10)); // a torn write
    const loaded = loadLatestCheckpoint<{ step: number }>(path)!;
    expect(loaded.state.step).toBe(1);
    expect(loaded.path).toBe(previousCheckpointPath(path));
    expect(loaded.fellBackFrom?.reason).toContain(`${path}: truncated checkpoint`);

    writeFileSync(previousCheckpointPath(path), 'garbage');
    expect(() => loadLatestCheckpoint(path)).toThrow(
      /checkpoint\.qnc: truncated checkpoint .*the previous checkpoint is unusable too .*checkpoint\.prev\.qnc: truncated checkpoint/,
    );
  });
});
