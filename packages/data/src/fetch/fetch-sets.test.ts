// `fetchSets` against a real HTTP server on 127.0.0.1 that serves the upstream layout, built from
// the local SR data (skipped, with a warning, when there is none).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../errors.js';
import { readImage } from '../image-file.js';
import { decodePng } from '../png.js';
import { startUpstreamServer, testDataRoot } from '../test-helpers.js';
import { decodeBmp, encodeBmp } from './bmp.js';
import { fetchSets, FETCH_MANIFEST, type FetchEvent } from './fetch-sets.js';
import { sha256Pixels } from './pixels-hash.js';

const root = testDataRoot('data: fetch from a local upstream server', ['Set5', 'T91']) ?? '';
const withData = it.skipIf(root === '');
const tmp = mkdtempSync(join(tmpdir(), 'quantnas-fetch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const base = join(tmp, String(n++));
  return { dir: join(base, 'data'), cacheDir: join(base, 'cache') };
};
/** What a data folder holds after a failure: nothing but folders of complete sets. */
const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

async function failure(promise: Promise<unknown>): Promise<DataError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).not.toContain('\n');
    return err as DataError;
  }
  throw new Error('expected the fetch to fail');
}

describe('the fetch table', () => {
  it('has every set with a checksum for every file, and pairs.csv for the test sets', () => {
    const counts = Object.fromEntries(Object.entries(FETCH_MANIFEST.sets).map(([s, v]) => [s, v.files.length]));
    expect(counts).toEqual({ Set5: 40, Set14: 56, B100: 400, T91: 91, BSD200: 200 });
    for (const { files } of Object.values(FETCH_MANIFEST.sets)) {
      for (const f of files) expect(f.convert === 'bmp-to-png' ? f.pixelsSha256 : f.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(FETCH_MANIFEST.sets.Set5.pairsCsv).toMatch(/^scale,lr,hr,hr_crop_height,hr_crop_width,lr_source\n/);
    expect(FETCH_MANIFEST.sets.T91.pairsCsv).toBeUndefined();
  });

  it('round-trips a BMP, bottom-up, with padded rows', () => {
    const img = { width: 5, height: 3, channels: 3 as const, data: Uint8Array.from({ length: 45 }, (_, i) => (i * 37) % 256) };
    const bmp = encodeBmp(img);
    expect(bmp.length).toBe(54 + 16 * 3);
    expect(decodeBmp(bmp)).toEqual(img);
    expect(sha256Pixels(decodeBmp(bmp))).toBe(sha256Pixels(img));
    expect(() => decodeBmp(bmp.subarray(0, 60), 't.bmp')).toThrow(/^t\.bmp: not a BMP this reader handles: truncated/);
  });
});

describe('fetchSets from a server on 127.0.0.1', () => {
  withData('lays out Set5 and T91 as the data folder has them, converting T91 to PNG, with progress', async () => {
    const server = await startUpstreamServer(root);
    try {
      const { dir, cacheDir } = fresh();
      const events: FetchEvent[] = [];
      const result = await fetchSets({ sets: ['Set5', 'T91'], dir, cacheDir, baseUrl: server.url, onEvent: (e) => events.push(e) });
      expect(result.fetched).toEqual(['Set5', 'T91']);
      expect(entries(dir).sort()).toEqual(['Set5', 'T91']);
      for (const f of FETCH_MANIFEST.sets.Set5.files) {
        expect(readFileSync(join(dir, 'Set5', f.file)).equals(readFileSync(join(root, 'Set5', f.file))), f.file).toBe(true);
      }
      expect(readFileSync(join(dir, 'Set5', 'pairs.csv'), 'utf8')).toBe(readFileSync(join(root, 'Set5', 'pairs.csv'), 'utf8'));
      expect(readdirSync(join(dir, 'T91')).length).toBe(91);
      for (const name of ['t1.png', 'tt27.png']) {
        const got = decodePng(readFileSync(join(dir, 'T91', name)));
        expect(got).toEqual(await readImage(join(root, 'T91', name)));
      }
      // Downloads leave the cache once their set is in place.
      expect(readdirSync(cacheDir, { recursive: true }).filter((p) => String(p).endsWith('.png') || String(p).endsWith('.bmp'))).toEqual([]);
      const start = events.find((e) => e.status === 'start');
      expect(start).toMatchObject({ files: 131, doneBytes: 0 });
      const last = events.filter((e) => e.status === 'progress').at(-1);
      expect(last?.status === 'progress' && last.doneBytes).toBe(result.downloadedBytes);
      expect(server.requests.every((r) => r.range === undefined)).toBe(true);
      // A second call leaves complete sets alone.
      const again = await fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url });
      expect(again).toMatchObject({ fetched: [], present: ['Set5'], downloadedBytes: 0 });
    } finally {
      await server.close();
    }
  });

  withData('refuses a corrupted file with one line, discards it, and leaves no partial set', async () => {
    const server = await startUpstreamServer(root, { corrupt: ['Set5/HR/bird.png'] });
    try {
      const { dir, cacheDir } = fresh();
      const err = await failure(fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url }));
      expect(err.message).toMatch(
        /^Set5\/HR\/bird\.png: SHA-256 [0-9a-f]{64} instead of [0-9a-f]{64} for http:\/\/127\.0\.0\.1:\d+\/JingyunLiang\/SwinIR\/6545850f[0-9a-f]+\/testsets\/Set5\/HR\/bird\.png; the download was discarded/,
      );
      expect(entries(dir)).toEqual([]);
      expect(readdirSync(cacheDir, { recursive: true }).some((p) => String(p).includes('bird.png'))).toBe(false);
    } finally {
      await server.close();
    }
  });

  withData('reports a dropped connection with one line, keeps the part, and resumes it with a Range request', async () => {
    const server = await startUpstreamServer(root, { dropOnce: ['Set5/HR/baby.png'] });
    try {
      const { dir, cacheDir } = fresh();
      const err = await failure(fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url }));
      const size = readFileSync(join(root, 'Set5', 'HR', 'baby.png')).length;
      expect(err.message).toMatch(
        new RegExp(
          `^Set5/HR/baby\\.png: connection to http://127\\.0\\.0\\.1:\\d+/\\S+/baby\\.png closed after ${size >> 1} of ${size} bytes .*run the fetch again to resume$`,
        ),
      );
      expect(entries(dir)).toEqual([]);
      const result = await fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url });
      expect(result.fetched).toEqual(['Set5']);
      expect(server.requests.filter((r) => r.file === 'Set5/HR/baby.png').map((r) => r.range)).toEqual([undefined, `bytes=${size >> 1}-`]);
      expect(readFileSync(join(dir, 'Set5', 'HR', 'baby.png')).equals(readFileSync(join(root, 'Set5', 'HR', 'baby.png')))).toBe(true);
    } finally {
      await server.close();
    }
  });

  withData('reports a missing file (404) with one line and leaves nothing behind', async () => {
    const server = await startUpstreamServer(root, { missing: ['Set5/LR_bicubic/X8/womanx8.png'] });
    try {
      const { dir, cacheDir } = fresh();
      const err = await failure(fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url }));
      expect(err.message).toMatch(/^Set5\/LR_bicubic\/X8\/womanx8\.png: http:\/\/127\.0\.0\.1:\d+\/\S+\/womanx8\.png answered 404 Not Found$/);
      expect(entries(dir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  withData(
    'ends every time when a failure aborts the downloads still in flight',
    async () => {
      // An early 404 aborts the others mid-body; their pending reads must end, not wait forever
      // (before the fix, one run in a few hung here).
      const server = await startUpstreamServer(root, { missing: ['Set5/HR/head.png'], corrupt: ['Set5/image_SRF_4/img_001_SRF_4_LR.png'] });
      try {
        for (let i = 0; i < 30; i++) {
          const { dir, cacheDir } = fresh();
          const hung = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000).unref());
          const outcome = await Promise.race([failure(fetchSets({ sets: ['Set5'], dir, cacheDir, baseUrl: server.url })), hung]);
          if (outcome === 'hung') throw new Error(`fetch ${i} did not end within 10 s after a failure`);
          expect(outcome.message).toMatch(/head\.png: \S+ answered 404 Not Found|img_001_SRF_4_LR\.png: SHA-256/);
          expect(entries(dir)).toEqual([]);
        }
      } finally {
        await server.close();
      }
    },
    120_000,
  );

  it('names an unknown set', async () => {
    const { dir, cacheDir } = fresh();
    await expect(fetchSets({ sets: ['Urban100'], dir, cacheDir })).rejects.toThrow('unknown set "Urban100"; fetch knows Set5, Set14, B100, T91, BSD200');
  });
});
