import { readdirSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { describeFsError } from './image-file.js';

const IMAGE_FILE = /\.(png|jpe?g)$/i;

/**
 * The sets under a data root: every folder that holds an `HR/` folder (test sets) or image files
 * directly (training sets such as T91 and BSD200, or a user's own folder of images), sorted.
 */
export function listSets(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch (err) {
    throw new DataError(`${root}: cannot list the data folder: ${describeFsError(err)}`, root);
  }
  return entries.filter((name) => !name.startsWith('.') && isDir(join(root, name)) && isSetDir(join(root, name))).sort(byCodeUnits);
}

/** The folder of set `name` under `root`, or a DataError naming the set, the root and the sets there. */
export function resolveSetDir(root: string, name: string): string {
  const dir = resolve(root, name);
  if (isDir(dir) && isSetDir(dir)) return dir;
  let available: string[] = [];
  try {
    available = listSets(root);
  } catch {
    // A missing root is reported below through the empty list.
  }
  throw new DataError(`unknown set "${name}" in ${root}; available: ${available.length > 0 ? available.join(', ') : '(none)'}`, name);
}

/** The folder holding a set's ground-truth images: `HR/` when present, else the set folder. */
export function hrDir(setDir: string): string {
  const hr = join(setDir, 'HR');
  return isDir(hr) ? hr : setDir;
}

/** Absolute paths of the PNG/JPEG files of a set's HR folder, sorted by file name. */
export async function listHrFiles(setDir: string): Promise<string[]> {
  const dir = hrDir(setDir);
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodeUnits);
  return names.map((n) => join(dir, n));
}

/** The image name used for pairing and sorting: the file name without its extension. */
export function imageName(path: string): string {
  return basename(path, extname(path));
}

/** Code-unit order: the same on every platform and locale. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isSetDir(dir: string): boolean {
  if (isDir(join(dir, 'HR'))) return true;
  try {
    return readdirSync(dir).some((n) => IMAGE_FILE.test(n));
  } catch {
    return false;
  }
}

/** Whether `path` is a directory (false when it is missing or unreadable). */
export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
