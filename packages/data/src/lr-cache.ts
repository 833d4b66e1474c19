import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { decodePng } from './png.js';
import type { ImageU8 } from './image.js';
import { bicubicDownscale } from './imresize.js';
import { writePng } from './image-file.js';

// Part of every key: bump it if the LR procedure ever changes, so old files are not reused.
const LR_ALGORITHM = 'matlab-bicubic-v1';

/** What identifies one generated LR image. */
export interface LrCacheKey {
  set: string;
  hrPath: string;
  scale: number;
  /** Size and modification time of the HR file: a changed HR gets a new key. */
  hrSize: number;
  hrMtimeMs: number;
}

/**
 * The cache file for an LR image: `<cacheDir>/lr/<set>/<name>_x<scale>_<hash>.png`, the hash
 * covering the HR's absolute path, size, mtime, the scale and the algorithm version.
 */
export function lrCachePath(cacheDir: string, key: LrCacheKey): string {
  const hash = createHash('sha256')
    .update([LR_ALGORITHM, resolve(key.hrPath), key.hrSize, key.hrMtimeMs, key.scale].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const name = basename(key.hrPath, extname(key.hrPath));
  return join(cacheDir, 'lr', safe(key.set), `${safe(name)}_x${key.scale}_${hash}.png`);
}

/**
 * The bicubic LR of `hr` (already modcropped to a multiple of `scale`), from `cachePath` when a
 * valid file is there, else computed and written there atomically. A cache that cannot be read or
 * written only costs time: the LR is then computed in memory.
 */
export async function cachedBicubicLr(hr: ImageU8, scale: number, cachePath: string): Promise<ImageU8> {
  const wantW = hr.width / scale;
  const wantH = hr.height / scale;
  try {
    const cached = decodePng(await readFile(cachePath), cachePath);
    if (cached.width === wantW && cached.height === wantH && cached.channels === hr.channels) {
      return cached;
    }
  } catch {
    // Missing or damaged: recompute below.
  }
  const lr = bicubicDownscale(hr, scale);
  try {
    await writePng(cachePath, lr);
  } catch {
    // Read-only or full disk: the in-memory result is still right.
  }
  return lr;
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]/g, '_');
}
