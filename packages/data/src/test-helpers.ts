// Test-only (exported under the `@quantnas/source` condition, never built): how the tests of every
// package find the SR data, or learn that there is none.
import { join } from 'node:path';
import { resolveDataRoot, type Env } from './data-root.js';
import { isDir } from './set-folders.js';

/** Every set some test reads. */
export const TEST_SETS = ['Set5', 'Set14', 'B100', 'T91', 'BSD200'] as const;

/**
 * Why the data tests cannot run here, or undefined when the data root holds every set in `sets`.
 * The data is resolved as the tools resolve it (QUANTNAS_DATA, the folder beside the repository,
 * the per-user folder), so an empty QUANTNAS_DATA folder means "no data".
 */
export function missingTestData(sets: readonly string[] = TEST_SETS, env: Env = process.env): string | undefined {
  let root: string;
  try {
    root = resolveDataRoot({ env });
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const absent = sets.filter((s) => !isDir(join(root, s)));
  return absent.length === 0 ? undefined : `the data root ${root} lacks ${absent.join(', ')}`;
}

/**
 * The data root for tests that need the SR sets, or undefined after one warning that names `what`
 * is skipped, why, and how to get the data. With QUANTNAS_REQUIRE_DATA=1 (CI) missing data is an
 * error instead, so that the data tests cannot silently stop running.
 */
export function testDataRoot(what: string, sets: readonly string[] = TEST_SETS, env: Env = process.env): string | undefined {
  const missing = missingTestData(sets, env);
  if (missing === undefined) return resolveDataRoot({ env });
  const message = `${what}: no SR data (${missing}). Run \`npx quantnas data fetch\` or set QUANTNAS_DATA=DIR.`;
  if (env.QUANTNAS_REQUIRE_DATA === '1') throw new Error(`${message} QUANTNAS_REQUIRE_DATA=1 makes this a failure.`);
  console.warn(`skipping ${message}`);
  return undefined;
}

/** Faults a test server can inject, by set-relative file (`Set5/HR/bird.png`). */
export interface UpstreamFaults {
  /** Served with one byte changed. */
  corrupt?: readonly string[];
  /** The first request sends the headers and half the bytes, then the connection is destroyed. */
  dropOnce?: readonly string[];
  /** Answered 404. */
  missing?: readonly string[];
}

export interface UpstreamServer {
  /** The base URL to give `fetchSets` (`http://127.0.0.1:PORT`). */
  readonly url: string;
  /** Every request: the set-relative file and its Range header. */
  readonly requests: { file: string; range?: string }[];
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 that serves the SR sets in their upstream repositories' layout
 * (`/owner/repo/commit/path`, as raw GitHub URLs), built from a local copy of the data: the files
 * themselves, and for T91 BMPs made from the PNGs' pixels. Honours `Range: bytes=N-`.
 */
export async function startUpstreamServer(dataRoot: string, faults: UpstreamFaults = {}): Promise<UpstreamServer> {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { FETCH_MANIFEST } = await import('./fetch/fetch-sets.js');
  const { encodeBmp } = await import('./fetch/bmp.js');
  const { readImage } = await import('./image-file.js');
  const byUrl = new Map<string, { local: string; bmp: boolean }>();
  for (const [set, { files }] of Object.entries(FETCH_MANIFEST.sets)) {
    for (const f of files) {
      const src = FETCH_MANIFEST.sources[f.source]!;
      byUrl.set(`/${src.repo}/${src.commit}/${f.path}`, { local: `${set}/${f.file}`, bmp: f.convert === 'bmp-to-png' });
    }
  }
  const dropped = new Set<string>();
  const requests: { file: string; range?: string }[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const entry = byUrl.get(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const range = req.headers.range;
      requests.push({ file: entry?.local ?? req.url ?? '', ...(range !== undefined ? { range } : {}) });
      if (entry === undefined || faults.missing?.includes(entry.local)) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
        return;
      }
      const path = join(dataRoot, ...entry.local.split('/'));
      let body = Buffer.from(entry.bmp ? encodeBmp(await readImage(path)) : await readFile(path));
      if (faults.corrupt?.includes(entry.local)) {
        body = Buffer.from(body);
        body[body.length >> 1] ^= 0xff;
      }
      const start = range !== undefined ? Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0) : 0;
      if (start >= body.length && start > 0) {
        res.writeHead(416).end();
        return;
      }
      const slice = body.subarray(start);
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': String(slice.length),
        'content-type': 'application/octet-stream',
        ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      });
      if (faults.dropOnce?.includes(entry.local) && !dropped.has(entry.local)) {
        dropped.add(entry.local);
        res.write(slice.subarray(0, slice.length >> 1), () => res.socket?.destroy());
        return;
      }
      res.end(slice);
    })().catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no server address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
