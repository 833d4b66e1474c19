import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * PNG's CRC-32 of `bytes[start, end)`. Checking CRCs ourselves lets a corrupt file be reported with
 * the chunk at fault. Native zlib.crc32 needs Node 20.15 (the workspace's minimum).
 */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return zlibCrc32(bytes.subarray(start, end)) >>> 0;
}
