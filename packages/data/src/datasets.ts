import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { resolveCacheDir } from './cache-dir.js';
import { toRgb } from './channels.js';
import { crop } from './crop.js';
import type { Env } from './data-root.js';
import { DataError } from './errors.js';
import type { ImageU8 } from './image.js';
import { describeFsError, readImage, readImageInfo } from './image-file.js';
import { cachedBicubicLr, lrCachePath } from './lr-cache.js';
import { mapLimit } from './map-limit.js';
import { parsePairsCsv, type PairRow } from './pairs-csv.js';
import { byCodeUnits, imageName, listHrFiles, resolveSetDir } from './set-folders.js';

/** The `lrSource` of pairs whose LR is the exact bicubic of modcrop(HR), made and cached here. */
export const GENERATED_LR_SOURCE = 'generated_bicubic';

/** One LR/HR pair of a set at one scale. */
export interface PairInfo {
  /** The HR file name without extension, e.g. `baby`. */
  name: string;
  /** The LR file; for generated LR, its cache file (written on first load). */
  lrPath: string;
  hrPath: string;
  /** The HR is cropped from its top-left corner to this size (= modcrop(HR, scale)). */
  hrCropHeight: number;
  hrCropWidth: number;
  lrSource: string;
}

export interface LoadedPair {
  name: string;
  lr: ImageU8;
  hr: ImageU8;
}

export interface BenchmarkSet {
  name: string;
  scale: number;
  /** The data root the set was opened from. */
  root: string;
  /** The set's folder. */
  dir: string;
  /** The LR source every pair uses. */
  lrSource: string;
  /** Sorted by image name. */
  pairs: PairInfo[];
  /**
   * Reads a pair: `hr` is the HR cropped to `hrCropHeight × hrCropWidth`, `lr` is `scale` times
   * smaller. Gray images stay one channel; if only one side is gray, both become RGB.
   */
  load(pair: PairInfo): Promise<LoadedPair>;
}

export interface OpenSetOptions {
  scale: number;
  /**
   * Which LR files to use when `pairs.csv` lists several (Set5). Default: the first source listed
   * at this scale. `GENERATED_LR_SOURCE` ignores the LR files and makes LR from HR.
   */
  lrSource?: string;
  /** Cache folder for generated LR (default: `resolveCacheDir(env)`). */
  cacheDir?: string;
  env?: Env;
}

/**
 * Opens set `name` under the data root at one scale. A set with a `pairs.csv` uses the LR files
 * it lists at that scale, one source for the whole set. A set without one (T91, BSD200, a user's
 * folder of images), or without rows at that scale, pairs each HR image with its exact MATLAB
 * bicubic LR, made on first use and cached on disk (never in the data folder).
 */
export async function openSet(root: string, name: string, opts: OpenSetOptions): Promise<BenchmarkSet> {
  const { scale } = opts;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new DataError(`scale must be a positive integer, got ${scale}`, String(scale));
  }
  const dir = resolveSetDir(root, name);
  const csvPath = join(dir, 'pairs.csv');
  const rows = opts.lrSource === GENERATED_LR_SOURCE ? [] : await readPairRows(csvPath, scale);
  let pairs: PairInfo[];
  let lrSource: string;
  if (rows.length > 0) {
    lrSource = opts.lrSource ?? rows[0].lrSource;
    pairs = await pairsFromRows(dir, name, csvPath, rows, scale, lrSource);
  } else {
    if (opts.lrSource !== undefined && opts.lrSource !== GENERATED_LR_SOURCE) {
      throw new DataError(`${name}: no LR source "${opts.lrSource}" at x${scale} in ${dir}; available: ${GENERATED_LR_SOURCE}`, opts.lrSource);
    }
    lrSource = GENERATED_LR_SOURCE;
    const cacheDir = opts.cacheDir ?? resolveCacheDir(opts.env ?? process.env);
    pairs = await generatedPairs(dir, name, scale, cacheDir);
  }
  pairs.sort((a, b) => byCodeUnits(a.name, b.name) || byCodeUnits(a.hrPath, b.hrPath));
  return {
    name,
    scale,
    root,
    dir,
    lrSource,
    pairs,
    load: (pair) => loadPair(pair, scale),
  };
}

async function readPairRows(csvPath: string, scale: number): Promise<PairRow[]> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DataError(`${csvPath}: cannot read: ${describeFsError(err)}`, csvPath);
  }
  return parsePairsCsv(text, csvPath).filter((r) => r.scale === scale);
}

async function pairsFromRows(dir: string, setName: string, csvPath: string, rows: PairRow[], scale: number, lrSource: string): Promise<PairInfo[]> {
  const sources = [...new Set(rows.map((r) => r.lrSource))];
  if (!sources.includes(lrSource)) {
    throw new DataError(`${setName}: unknown LR source "${lrSource}" at x${scale}; available: ${[...sources, GENERATED_LR_SOURCE].join(', ')}`, lrSource);
  }
  const images = [...new Set(rows.map((r) => r.hr))];
  const chosen = images.map((hr) => {
    const row = rows.find((r) => r.hr === hr && r.lrSource === lrSource);
    if (row === undefined) {
      throw new DataError(`${csvPath}: ${hr} has no LR from source "${lrSource}" at x${scale}`, csvPath);
    }
    return row;
  });
  return mapLimit(chosen, 16, async (row) => {
    const lrPath = resolve(dir, row.lr);
    const hrPath = resolve(dir, row.hr);
    for (const path of [lrPath, hrPath]) {
      try {
        await stat(path);
      } catch (err) {
        throw new DataError(`${csvPath}:${row.line}: names a missing file ${path} (${describeFsError(err)})`, path);
      }
    }
    if (row.hrCropHeight % scale !== 0 || row.hrCropWidth % scale !== 0) {
      throw new DataError(`${csvPath}:${row.line}: HR crop ${row.hrCropWidth}x${row.hrCropHeight} is not divisible by scale ${scale}`, csvPath);
    }
    return {
      name: imageName(hrPath),
      lrPath,
      hrPath,
      hrCropHeight: row.hrCropHeight,
      hrCropWidth: row.hrCropWidth,
      lrSource,
    };
  });
}

async function generatedPairs(dir: string, setName: string, scale: number, cacheDir: string): Promise<PairInfo[]> {
  const files = await listHrFiles(dir);
  if (files.length === 0) throw new DataError(`${setName}: no PNG or JPEG images in ${dir}`, dir);
  return mapLimit(files, 16, async (hrPath) => {
    const [info, st] = await Promise.all([readImageInfo(hrPath), stat(hrPath)]);
    const hrCropHeight = info.height - (info.height % scale);
    const hrCropWidth = info.width - (info.width % scale);
    if (hrCropHeight === 0 || hrCropWidth === 0) {
      throw new DataError(`${hrPath}: a ${info.width}x${info.height} image is smaller than scale ${scale}`, hrPath);
    }
    const key = { set: setName, hrPath, scale, hrSize: st.size, hrMtimeMs: st.mtimeMs };
    return {
      name: imageName(hrPath),
      lrPath: lrCachePath(cacheDir, key),
      hrPath,
      hrCropHeight,
      hrCropWidth,
      lrSource: GENERATED_LR_SOURCE,
    };
  });
}

async function loadPair(pair: PairInfo, scale: number): Promise<LoadedPair> {
  const full = await readImage(pair.hrPath);
  if (full.width < pair.hrCropWidth || full.height < pair.hrCropHeight) {
    throw new DataError(`${pair.hrPath}: HR is ${full.width}x${full.height}, smaller than its crop ${pair.hrCropWidth}x${pair.hrCropHeight}`, pair.hrPath);
  }
  let hr = crop(full, 0, 0, pair.hrCropWidth, pair.hrCropHeight);
  let lr = pair.lrSource === GENERATED_LR_SOURCE ? await cachedBicubicLr(hr, scale, pair.lrPath) : await readImage(pair.lrPath);
  if (lr.width * scale !== hr.width || lr.height * scale !== hr.height) {
    throw new DataError(
      `${pair.lrPath}: LR is ${lr.width}x${lr.height}, but x${scale} of the HR crop ` +
        `${hr.width}x${hr.height} needs ${hr.width / scale}x${hr.height / scale}`,
      pair.lrPath,
    );
  }
  if (lr.channels !== hr.channels) {
    lr = toRgb(lr);
    hr = toRgb(hr);
  }
  return { name: pair.name, lr, hr };
}
