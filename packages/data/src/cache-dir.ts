import { join, resolve } from 'node:path';
import { homeDir, type Env } from './data-root.js';

/**
 * Where generated files (bicubic LR images) are cached: `$QUANTNAS_CACHE`, else
 * `$XDG_CACHE_HOME/quantnas`, else `~/.cache/quantnas`. Never inside the data folder, which may be
 * read-only or shared.
 */
export function resolveCacheDir(env: Env = process.env): string {
  const explicit = env.QUANTNAS_CACHE;
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homeDir(env), '.cache');
  return join(base, 'quantnas');
}
