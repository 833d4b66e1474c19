import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { DataError } from './errors.js';
import { createImage } from './image.js';
import { ADAM7, decodePng, encodePng } from './png.js';
import { readPngLayout } from './png-chunks.js';

// A minimal PNG writer for the colour types and bit depths pngjs cannot write (filter 0 rows).
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface RawPng {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Samples per pixel in the file (1, 2, 3 or 4). */
  samples: number;
  /** Sample values, row-major, `samples` per pixel. */
  values: number[];
  interlace?: boolean;
  extra?: Uint8Array[];
}

function packRows(values: number[], width: number, height: number, samples: number, bitDepth: number): Uint8Array {
  const rowBytes = Math.ceil((width * samples * bitDepth) / 8);
  const out = new Uint8Array(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (rowBytes + 1) + 1;
    for (let i = 0; i < width * samples; i++) {
      const v = values[y * width * samples + i];
      if (bitDepth === 16) {
        out[row + 2 * i] = v >> 8;
        out[row + 2 * i + 1] = v & 0xff;
      } else if (bitDepth === 8) {
        out[row + i] = v;
      } else {
        const bit = i * bitDepth;
        out[row + (bit >> 3)] |= v << (8 - bitDepth - (bit & 7));
      }
    }
  }
  return out;
}

function buildPng(p: RawPng): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, p.width);
  view.setUint32(4, p.height);
  ihdr[8] = p.bitDepth;
  ihdr[9] = p.colorType;
  ihdr[12] = p.interlace ? 1 : 0;
  let raw: Uint8Array;
  if (!p.interlace) {
    raw = packRows(p.values, p.width, p.height, p.samples, p.bitDepth);
  } else {
    const passes: Uint8Array[] = [];
    for (const [x0, y0, dx, dy] of ADAM7) {
      const vals: number[] = [];
      let w = 0;
      let h = 0;
      for (let y = y0; y < p.height; y += dy) {
        h++;
        w = 0;
        for (let x = x0; x < p.width; x += dx) {
          w++;
          for (let s = 0; s < p.samples; s++) vals.push(p.values[(y * p.width + x) * p.samples + s]);
        }
      }
      if (w > 0 && h > 0) passes.push(packRows(vals, w, h, p.samples, p.bitDepth));
    }
    raw = concat(passes);
  }
  return concat([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    ...(p.extra ?? []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

describe('decodePng', () => {
  it('round-trips RGB and gray images through encodePng', () => {
    const rgb = createImage(5, 3, 3, Uint8Array.from(range(45, (i) => (i * 37) % 256)));
    const gray = createImage(4, 6, 1, Uint8Array.from(range(24, (i) => (i * 11) % 256)));
    expect(decodePng(encodePng(rgb))).toEqual(rgb);
    expect(decodePng(encodePng(gray))).toEqual(gray);
  });

  it('keeps one channel for 8-bit gray', () => {
    const values = range(12, (i) => i * 20);
    const img = decodePng(buildPng({ width: 4, height: 3, bitDepth: 8, colorType: 0, samples: 1, values }));
    expect(img.channels).toBe(1);
    expect([...img.data]).toEqual(values);
  });

  it('keeps the gray channel of gray + alpha and drops alpha', () => {
    const values = range(8, (i) => (i % 2 === 0 ? i * 30 : 17)); // gray, alpha, gray, alpha …
    const img = decodePng(buildPng({ width: 2, height: 2, bitDepth: 8, colorType: 4, samples: 2, values }));
    expect(img.channels).toBe(1);
    expect([...img.data]).toEqual([0, 60, 120, 180]);
  });

  it('drops alpha from RGBA without compositing', () => {
    const values = [10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255];
    const img = decodePng(buildPng({ width: 3, height: 1, bitDepth: 8, colorType: 6, samples: 4, values }));
    expect(img.channels).toBe(3);
    expect([...img.data]).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('expands palette images to RGB', () => {
    const plte = chunk('PLTE', Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7));
    const trns = chunk('tRNS', Uint8Array.of(0, 128)); // transparency is dropped too
    const values = [0, 1, 2, 3, 3, 2];
    const img = decodePng(buildPng({ width: 3, height: 2, bitDepth: 8, colorType: 3, samples: 1, values, extra: [plte, trns] }));
    expect(img.channels).toBe(3);
    expect([...img.data]).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7, 9, 8, 7, 0, 0, 255]);
  });

  it('expands 2-bit palette indices', () => {
    const plte = chunk('PLTE', Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
    const values = [3, 0, 1, 2, 2];
    const img = decodePng(buildPng({ width: 5, height: 1, bitDepth: 2, colorType: 3, samples: 1, values, extra: [plte] }));
    expect([...img.data]).toEqual([10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 7, 8, 9]);
  });

  it('scales 1-bit gray to 0 and 255', () => {
    const values = [1, 0, 1, 1, 0, 0, 0, 1, 1];
    const img = decodePng(buildPng({ width: 9, height: 1, bitDepth: 1, colorType: 0, samples: 1, values }));
    expect([...img.data]).toEqual(values.map((v) => v * 255));
  });

  it('converts 16-bit samples to round(v / 257)', () => {
    // Exact multiples of 257, values just either side of a half step, and the extremes.
    const values = [0, 257, 65535, 128, 129, 257 * 100 + 128, 257 * 100 + 129, 65407, 1000, 40000, 12345, 54321];
    const gray = decodePng(buildPng({ width: 4, height: 3, bitDepth: 16, colorType: 0, samples: 1, values }));
    expect([...gray.data]).toEqual(values.map((v) => Math.round(v / 257)));
    expect([...gray.data.slice(0, 5)]).toEqual([0, 1, 255, 0, 1]);
    const rgb = decodePng(buildPng({ width: 2, height: 2, bitDepth: 16, colorType: 2, samples: 3, values }));
    expect(rgb.channels).toBe(3);
    expect([...rgb.data]).toEqual(values.map((v) => Math.round(v / 257)));
  });

  it('decodes Adam7-interlaced images like their non-interlaced twins', () => {
    const width = 11;
    const height = 9;
    const values = range(width * height * 3, (i) => (i * 7 + (i >> 3)) % 256);
    const plain = decodePng(buildPng({ width, height, bitDepth: 8, colorType: 2, samples: 3, values }));
    const laced = decodePng(buildPng({ width, height, bitDepth: 8, colorType: 2, samples: 3, values, interlace: true }));
    expect([...plain.data]).toEqual(values);
    expect(laced).toEqual(plain);
  });

  it('ignores bytes after IEND', () => {
    const png = encodePng(createImage(2, 2, 3, Uint8Array.from(range(12, (i) => i))));
    const padded = concat([png, Uint8Array.of(0, 0, 0, 1)]);
    expect(decodePng(padded)).toEqual(decodePng(png));
  });
});

describe('decodePng errors', () => {
  const png = encodePng(createImage(64, 64, 3, Uint8Array.from(range(64 * 64 * 3, (i) => (i * 31) % 251))));
  const expectDataError = (bytes: Uint8Array, pattern: RegExp): void => {
    let caught: unknown;
    try {
      decodePng(bytes, 'photo.png');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DataError);
    const message = (caught as DataError).message;
    expect(message).toMatch(/^photo\.png: /);
    expect(message).toMatch(pattern);
    expect(message).not.toContain('\n');
  };

  it('reports a missing signature', () => {
    expectDataError(new TextEncoder().encode('not a png at all'), /missing PNG signature/);
  });

  it('reports a file cut inside a chunk as truncated', () => {
    const layout = readPngLayout(png);
    const idatStart = png.indexOf(layout.idat[0][0], 33);
    expectDataError(png.subarray(0, idatStart + 10), /truncated/);
    expectDataError(png.subarray(0, 20), /truncated/);
    expectDataError(png.subarray(0, png.length - 6), /truncated/);
  });

  it('reports a CRC mismatch with the chunk name', () => {
    const damaged = png.slice();
    damaged[60] ^= 0x40; // inside IDAT
    expectDataError(damaged, /CRC mismatch in the IDAT chunk/);
  });

  it('reports damaged compressed data even when the CRCs are right', () => {
    const width = 8;
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, width);
    new DataView(ihdr.buffer).setUint32(4, width);
    ihdr[8] = 8;
    ihdr[9] = 2;
    const half = deflateSync(new Uint8Array(width * (width * 3 + 1))).subarray(0, 6);
    const bytes = concat([png.subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', half), chunk('IEND', new Uint8Array(0))]);
    expectDataError(bytes, /compressed pixel data is damaged or truncated/);
  });
});

describe('decodePng size limits', () => {
  /** A PNG whose IHDR claims `width`×`height` 8-bit gray and whose IDAT is the zlib stream `raw`. */
  function grayPng(width: number, height: number, raw: Uint8Array): Uint8Array {
    const ihdr = new Uint8Array(13);
    const view = new DataView(ihdr.buffer);
    view.setUint32(0, width);
    view.setUint32(4, height);
    ihdr[8] = 8;
    ihdr[9] = 0;
    const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
    return concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
  }

  it('refuses a decompression bomb from its header, before inflating, naming the file and the limit', () => {
    // 60000×60000 of zeros: a few MB compressed, 3.6 GB decoded. 1 MB of zeros stands in for the
    // stream: the header alone must decide.
    const bomb = grayPng(60000, 60000, new Uint8Array(1 << 20));
    const started = performance.now();
    expect(() => decodePng(bomb, 'bomb.png')).toThrow(DataError);
    expect(() => decodePng(bomb, 'bomb.png')).toThrow(/^bomb\.png: the PNG declares 60000x60000 pixels \(3600\.0 MP\), over the limit of 100 MP$/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('never inflates more than the declared image needs', () => {
    // A 2×2 image whose stream holds 10 MB: reported, not inflated in full.
    const long = grayPng(2, 2, new Uint8Array(10 << 20));
    expect(() => decodePng(long, 'long.png')).toThrow(/^long\.png: not a valid PNG: pixel data is longer than the 2x2 image it declares$/);
  });
});
