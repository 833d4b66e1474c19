import { describe, expect, it } from 'vitest';
import { ArtifactError, decodeArtifact, encodeArtifact } from './container.js';
import { crc32 } from './crc32.js';

const header = { schemaVersion: 1 as const, scale: 4, input: 'lr', output: 'sr', tensors: {}, layers: [] };
const blob = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('.qnas container', () => {
  it('round-trips header and blob', () => {
    const decoded = decodeArtifact(encodeArtifact(header, blob));
    expect(decoded.header).toMatchObject(header);
    expect(decoded.header.blob).toEqual({ byteLength: 300, crc32: crc32(blob) });
    expect(Array.from(decoded.blob)).toEqual(Array.from(blob));
  });

  it('names what is wrong', () => {
    const good = encodeArtifact(header, blob);
    expect(() => decodeArtifact(new Uint8Array(8), 'm.qnas')).toThrow('m.qnas: not a .qnas model');
    expect(() => decodeArtifact(good.subarray(0, good.length - 1))).toThrow('expected 300 weight bytes, found 299');
    const tampered = good.slice();
    tampered[tampered.length - 5] ^= 1;
    expect(() => decodeArtifact(tampered)).toThrow('weights checksum mismatch');
  });

  it('rejects every truncation and every single-byte change with an ArtifactError', () => {
    const good = encodeArtifact(header, blob);
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let length = 0; length < good.length; length++) {
      expect(() => decodeArtifact(good.subarray(0, length))).toThrow(ArtifactError);
    }
    for (let i = 0; i < 2000; i++) {
      const bad = good.slice();
      const at = Math.floor(random() * bad.length);
      bad[at] ^= 1 + Math.floor(random() * 255);
      expect(() => decodeArtifact(bad)).toThrow(ArtifactError);
    }
  });
});
