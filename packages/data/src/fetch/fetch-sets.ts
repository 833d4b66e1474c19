import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DataError } from '../errors.js';
import { encodePng } from '../png.js';
import { decodeBmp } from './bmp.js';
import manifestJson from './manifest.json' with { type: 'json' };
import { sha256Pixels } from './pixels-hash.js';

/** The sets `fetchSets` knows, in the order it fetches them. */
export const FETCH_SETS = ['Set5', 'Set14', 'B100', 'T91', 'BSD200'] as const;
export type FetchSetName = (typeof FETCH_SETS)[number];

/** Where raw files of a GitHub repository at a commit are served: `${base}/${owner}/${repo}/${commit}/${path}`. */
export const DEFAULT_FETCH_BASE_URL = 'https://raw.githubusercontent.com';

/** One file of a set: where it goes, where it comes from, and what it must hash to. */
export interface FetchFile {
  /** Path inside the set's folder (`HR/baby.png`). */
  readonly file: string;
  /** Key of `FetchManifest.sources`. */
  readonly source: string;
  /** Path inside the upstream repository. */
  readonly path: string;
  /** Upstream size in bytes (for progress; for converted files an estimate). */
  readonly size: number;
  /** SHA-256 of the upstream file, which is stored unchanged. */
  readonly sha256?: string;
  /** For files converted after download: the conversion, and the SHA-256 of the decoded pixels (`sha256Pixels`). */
  readonly convert?: 'bmp-to-png';
  readonly pixelsSha256?: string;
}

export interface FetchManifest {
  readonly schemaVersion: 1;
  readonly sources: Readonly<Record<string, { readonly repo: string; readonly commit: string }>>;
  readonly sets: Readonly<Record<FetchSetName, { readonly files: readonly FetchFile[]; readonly pairsCsv?: string }>>;
}

/** The shipped table: every file of every set, its upstream repository, commit and path, and its checksum. */
export const FETCH_MANIFEST = manifestJson as FetchManifest;

export type FetchEvent =
  | { readonly status: 'start'; readonly sets: readonly string[]; readonly files: number; readonly totalBytes: number; readonly doneBytes: number }
  | { readonly status: 'progress'; readonly doneBytes: number; readonly totalBytes: number; readonly file: string }
  | { readonly status: 'set'; readonly set: string; readonly dir: string; readonly files: number }
  | { readonly status: 'present'; readonly set: string; readonly dir: string };

export interface FetchOptions {
  /** Sets to fetch (default: all of FETCH_SETS). */
  readonly sets?: readonly string[];
  /** The data root the sets' folders are created in. */
  readonly dir: string;
  /** Where downloads are kept until their set is complete (so an interrupted fetch resumes). */
  readonly cacheDir: string;
  /** Replaces DEFAULT_FETCH_BASE_URL (a mirror, or a local server in tests). */
  readonly baseUrl?: string;
  /** Downloads in flight at once (default 4). */
  readonly concurrency?: number;
  readonly onEvent?: (event: FetchEvent) => void;
  readonly signal?: AbortSignal;
}

export interface FetchResult {
  readonly dir: string;
  /** Sets written by this call. */
  readonly fetched: readonly string[];
  /** Sets whose folder already existed (left untouched). */
  readonly present: readonly string[];
  /** Bytes downloaded by this call. */
  readonly downloadedBytes: number;
}

/**
 * Downloads SR sets from their upstream repositories at pinned commits into `dir/<set>`, in the
 * layout the rest of the project reads (HR/, LR folders, pairs.csv). Every file is checked against
 * FETCH_MANIFEST before it is used. A set is assembled in a hidden folder beside its target and
 * renamed into place only when complete, so a failure never leaves a partial set. Downloads go to
 * `cacheDir` (`<file>.part` while incomplete, resumed with an HTTP Range request on the next call)
 * and are deleted once their set is in place. Failures are DataErrors with a one-line message.
 */
export async function fetchSets(options: FetchOptions): Promise<FetchResult> {
  const dir = resolve(options.dir);
  const names = options.sets ?? FETCH_SETS;
  for (const name of names) {
    if (!(FETCH_SETS as readonly string[]).includes(name)) throw new DataError(`unknown set "${name}"; fetch knows ${FETCH_SETS.join(', ')}`, name);
  }
  const baseUrl = (options.baseUrl ?? DEFAULT_FETCH_BASE_URL).replace(/\/+$/, '');
  const present = names.filter((n) => existsSync(join(dir, n)));
  const wanted = names.filter((n) => !present.includes(n)) as FetchSetName[];
  for (const set of present) options.onEvent?.({ status: 'present', set, dir: join(dir, set) });

  const jobs = wanted.flatMap((set) => FETCH_MANIFEST.sets[set].files.map((f) => ({ set, f, cache: cachePath(options.cacheDir, f) })));
  let totalBytes = 0;
  let doneBytes = 0;
  for (const job of jobs) {
    totalBytes += job.f.size;
    if (existsSync(job.cache)) doneBytes += job.f.size;
    else if (existsSync(`${job.cache}.part`)) doneBytes += Math.min(job.f.size, statSync(`${job.cache}.part`).size);
  }
  options.onEvent?.({ status: 'start', sets: wanted, files: jobs.length, totalBytes, doneBytes });
  let downloadedBytes = 0;
  const onBytes = (n: number, file: string) => {
    doneBytes += n;
    downloadedBytes += n;
    options.onEvent?.({ status: 'progress', doneBytes, totalBytes, file });
  };

  const fetched: string[] = [];
  for (const set of wanted) {
    const setJobs = jobs.filter((j) => j.set === set);
    await settleAll(setJobs, options.concurrency ?? 4, options.signal, (job, signal) =>
      download(`${set}/${job.f.file}`, urlOf(baseUrl, job.f), job.f, job.cache, signal, onBytes),
    );
    await install(dir, set, setJobs);
    await Promise.all(setJobs.map((j) => rm(j.cache, { force: true })));
    fetched.push(set);
    options.onEvent?.({ status: 'set', set, dir: join(dir, set), files: setJobs.length });
  }
  return { dir, fetched, present, downloadedBytes };
}

function urlOf(baseUrl: string, f: FetchFile): string {
  const source = FETCH_MANIFEST.sources[f.source];
  if (source === undefined) throw new Error(`fetch table: unknown source ${f.source}`);
  return `${baseUrl}/${source.repo}/${source.commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
}

function cachePath(cacheDir: string, f: FetchFile): string {
  const source = FETCH_MANIFEST.sources[f.source]!;
  return join(resolve(cacheDir), 'downloads', source.repo, source.commit, ...f.path.split('/'));
}

/**
 * Runs `fn` over `items`, at most `limit` at once. On the first failure the others are aborted
 * (their partial downloads stay for a resume) and, once every call has settled, that failure is thrown.
 */
async function settleAll<T>(
  items: readonly T[],
  limit: number,
  outer: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const onOuter = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) controller.abort(outer.reason);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined && !controller.signal.aborted) {
      const item = items[next++]!;
      try {
        await fn(item, controller.signal);
      } catch (err) {
        if (failure === undefined) failure = err;
        controller.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
  if (failure !== undefined) throw failure;
  if (outer?.aborted) throw new DataError('fetch stopped; run it again to resume');
}

/** Downloads one file into `cache` (resuming `cache.part`) and checks it; a bad download is deleted. */
async function download(
  label: string,
  url: string,
  f: FetchFile,
  cache: string,
  signal: AbortSignal,
  onBytes: (n: number, file: string) => void,
): Promise<void> {
  if (existsSync(cache)) return;
  const part = `${cache}.part`;
  await mkdir(dirname(cache), { recursive: true });
  let have = existsSync(part) ? statSync(part).size : 0;
  let response: Response;
  try {
    response = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, signal });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new DataError(`${label}: cannot download ${url}: ${causeOf(err)}`, url);
  }
  if (response.status === 416 && have > 0) {
    // The part is already whole (a previous run stopped between the last byte and the check).
    await response.body?.cancel();
  } else {
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw new DataError(`${label}: ${url} answered ${response.status} ${response.statusText}`.trimEnd(), url);
    }
    if (response.status === 200 && have > 0) {
      // The server ignored the range: start over.
      onBytes(-have, label);
      have = 0;
    }
    const length = Number(response.headers.get('content-length') ?? NaN);
    const expected = Number.isFinite(length) ? have + length : undefined;
    const out = createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
    let got = have;
    // The body is read through a reader that an abort cancels: a pending read of a fetch body does
    // not always end when the fetch's signal aborts (seen with Node 20), and the fetch would wait forever.
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const onAbort = () => void reader.cancel().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        got += chunk.length;
        onBytes(chunk.length, label);
      }
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('the download was aborted');
    } catch (err) {
      await closeStream(out);
      if (signal.aborted) throw err;
      throw new DataError(
        `${label}: connection to ${url} closed after ${got} of ${expected ?? '?'} bytes (${causeOf(err)}); run the fetch again to resume`,
        url,
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    await closeStream(out);
    if (expected !== undefined && got < expected) {
      throw new DataError(`${label}: connection to ${url} closed after ${got} of ${expected} bytes; run the fetch again to resume`, url);
    }
  }
  const bytes = await readFile(part);
  const problem = verify(bytes, f, label);
  if (problem !== undefined) {
    await rm(part, { force: true });
    throw new DataError(`${label}: ${problem} for ${url}; the download was discarded, nothing was written`, url);
  }
  await rename(part, cache);
}

function verify(bytes: Uint8Array, f: FetchFile, label: string): string | undefined {
  if (f.convert === 'bmp-to-png') {
    let got: string;
    try {
      got = sha256Pixels(decodeBmp(bytes, label));
    } catch (err) {
      return err instanceof Error ? err.message.replace(`${label}: `, '') : String(err);
    }
    return got === f.pixelsSha256 ? undefined : `pixel SHA-256 ${got} instead of ${f.pixelsSha256}`;
  }
  const got = createHash('sha256').update(bytes).digest('hex');
  return got === f.sha256 ? undefined : `SHA-256 ${got} instead of ${f.sha256}`;
}

/** Writes every file of `set` into a hidden folder beside `dir/set`, then renames it into place. */
async function install(dir: string, set: FetchSetName, jobs: readonly { f: FetchFile; cache: string }[]): Promise<void> {
  const target = join(dir, set);
  const temp = join(dir, `.${set}.fetching-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  try {
    for (const { f, cache } of jobs) {
      const path = join(temp, ...f.file.split('/'));
      await mkdir(dirname(path), { recursive: true });
      const bytes = await readFile(cache);
      await writeFile(path, f.convert === 'bmp-to-png' ? encodePng(decodeBmp(bytes, `${set}/${f.file}`)) : bytes);
    }
    const csv = FETCH_MANIFEST.sets[set].pairsCsv;
    if (csv !== undefined) await writeFile(join(temp, 'pairs.csv'), csv);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    if (err instanceof DataError) throw err;
    throw new DataError(`${set}: cannot write ${target}: ${causeOf(err)}`, target);
  }
}

function closeStream(out: ReturnType<typeof createWriteStream>): Promise<void> {
  return new Promise((r) => out.end(() => r()));
}

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
  return `${err.message}${inner}`;
}
