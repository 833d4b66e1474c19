import { open, readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
import { decodeImage, decodeImageInfo, type ImageInfo } from './decode-image.js';
import { DataError } from './errors.js';
import type { ImageU8 } from './image.js';
import { checkOutputPath, type OutputOptions } from './output-file.js';
import { encodePng } from './png.js';

/** Reads and decodes a PNG or JPEG file. Every failure is a one-line DataError naming `path`. */
export async function readImage(path: string): Promise<ImageU8> {
  return decodeImage(await readBytes(path), path);
}

// Enough for the frame header of a JPEG behind a typical EXIF block; else the whole file is read.
const HEAD_BYTES = 64 * 1024;

/** Reads an image's format and size from its header, without reading or decoding its pixels. */
export async function readImageInfo(path: string): Promise<ImageInfo> {
  const head = await readHead(path, HEAD_BYTES);
  const info = decodeImageInfo(head, path);
  if (info !== undefined) return info;
  if (head.length === HEAD_BYTES) {
    const fromWhole = decodeImageInfo(await readBytes(path), path);
    if (fromWhole !== undefined) return fromWhole;
  }
  throw new DataError(`${path}: not a valid JPEG: no frame header (truncated?)`, path);
}

/**
 * Writes an 8-bit PNG atomically (temporary file, then rename), creating the folder. With `output`
 * options the path is a user's output: checked first (`checkOutputPath`: no symbolic link, device
 * or input replaced, no existing file without `force`); without them an existing regular file is
 * replaced (caches).
 */
export async function writePng(path: string, img: ImageU8, output?: OutputOptions): Promise<void> {
  if (output !== undefined) await checkOutputPath(path, output);
  try {
    await writeFileAtomic(path, encodePng(img));
  } catch (err) {
    throw new DataError(`${path}: cannot write: ${describeFsError(err)}`, path);
  }
}

/** The whole file, or a DataError naming it. */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new DataError(`${path}: cannot read: ${describeFsError(err)}`, path);
  }
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new DataError(`${path}: cannot read: ${describeFsError(err)}`, path);
  }
}

/** A short reason for a file system error, e.g. "no such file". */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a parent of it is not a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
}
