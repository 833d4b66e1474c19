import { lstat, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { DataError } from './errors.js';

/** How a command may write a user-named output file. */
export interface OutputOptions {
  /** Replace an existing regular file (the CLI's --force). Default false. */
  readonly force?: boolean;
  /** Files the command reads: the output may not be one of them, --force or not. */
  readonly inputs?: readonly string[];
}

/**
 * Checks that `path` may receive a command's output, without writing anything: it must not be a
 * symbolic link or anything but a regular file (a device, a folder, a FIFO: a rename would replace
 * it), must not be one of the command's inputs, and must not exist unless `force`. Every refusal is
 * a one-line DataError naming the path.
 */
export async function checkOutputPath(path: string, options: OutputOptions = {}): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    const why =
      code === 'ENOTDIR'
        ? 'a parent of it is not a directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : String((err as Error).message).split('\n')[0];
    throw new DataError(`${path}: cannot write: ${why}`, path);
  }
  if (st.isSymbolicLink()) {
    throw new DataError(`${path}: is a symbolic link; refusing to replace it (write to its target's path instead)`, path);
  }
  if (!st.isFile()) {
    throw new DataError(`${path}: is not a regular file (${kind(st)}); refusing to replace it`, path);
  }
  for (const input of options.inputs ?? []) {
    if (await sameFile(path, input)) {
      throw new DataError(`${path}: is also the input ${input}; refusing to overwrite it`, path);
    }
  }
  if (!options.force) throw new DataError(`${path}: exists; use --force to replace it`, path);
}

/**
 * Writes a command's output file after `checkOutputPath`: atomically (a temporary file beside it,
 * then a rename), creating the parent folder.
 */
export async function writeOutputFile(path: string, bytes: Uint8Array, options: OutputOptions = {}): Promise<void> {
  await checkOutputPath(path, options);
  await writeFileAtomic(path, bytes);
}

async function sameFile(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  try {
    const [sa, sb] = await Promise.all([stat(a), stat(b)]);
    if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

function kind(st: { isDirectory(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}
