import { crc32 } from './crc32.js';
import { DataError } from './errors.js';

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** The fields of a PNG's IHDR chunk. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: number;
  interlaced: boolean;
}

/**
 * Reads IHDR from the first 33 bytes (signature + IHDR chunk), checking only that chunk's CRC.
 * Enough to size an image without reading the rest of the file.
 */
export function readPngHeader(bytes: Uint8Array, name = 'image'): PngHeader {
  const fail = (why: string): never => {
    throw new DataError(`${name}: not a valid PNG: ${why}`, name);
  };
  if (!hasPngSignature(bytes)) fail('missing PNG signature');
  if (bytes.length < 33) fail(`truncated: file ends at byte ${bytes.length} inside the header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== 'IHDR' || view.getUint32(8) !== 13) fail(`first chunk is ${type}, expected IHDR`);
  if (crc32(bytes, 12, 29) !== view.getUint32(29)) {
    fail('corrupt data: CRC mismatch in the IHDR chunk at byte 8');
  }
  const header = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlaced: bytes[28] === 1,
  };
  if (header.width === 0 || header.height === 0) {
    fail(`image size ${header.width}x${header.height} is empty`);
  }
  return header;
}

/** A PNG whose chunk structure and CRCs have been checked. */
export interface PngLayout {
  header: PngHeader;
  /** The IDAT payloads in order: together, the zlib stream of the pixels. */
  idat: Uint8Array[];
  /** Offset just past IEND; any bytes after it are ignored. */
  end: number;
}

export function hasPngSignature(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Walks the chunks of a PNG and checks what a decoder library reports poorly: the signature, each
 * chunk's length and CRC, IHDR first, IDAT present, IEND reached. Errors name the file, the chunk
 * and the byte offset, so a truncated download reads as "truncated", not as a zlib stack.
 */
export function readPngLayout(bytes: Uint8Array, name = 'image'): PngLayout {
  const fail = (why: string): never => {
    throw new DataError(`${name}: not a valid PNG: ${why}`, name);
  };
  if (!hasPngSignature(bytes)) fail('missing PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | undefined;
  const idat: Uint8Array[] = [];
  let pos = PNG_SIGNATURE.length;
  for (;;) {
    if (pos + 8 > bytes.length) {
      fail(`truncated: file ends at byte ${bytes.length} before the IEND chunk`);
    }
    const length = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const dataStart = pos + 8;
    const dataEnd = dataStart + length;
    if (length > 0x7fffffff || dataEnd + 4 > bytes.length) {
      fail(`truncated: file ends at byte ${bytes.length} inside the ${type} chunk at byte ${pos}`);
    }
    if (crc32(bytes, pos + 4, dataEnd) !== view.getUint32(dataEnd)) {
      fail(`corrupt data: CRC mismatch in the ${type} chunk at byte ${pos}`);
    }
    if (header === undefined && type !== 'IHDR') fail(`first chunk is ${type}, expected IHDR`);
    if (type === 'IHDR') {
      header = readPngHeader(bytes, name);
    } else if (type === 'IDAT') {
      idat.push(bytes.subarray(dataStart, dataEnd));
    }
    pos = dataEnd + 4;
    if (type === 'IEND') break;
  }
  if (header === undefined) return fail('no IHDR chunk');
  if (idat.length === 0) fail('no IDAT chunk (no pixel data)');
  return { header, idat, end: pos };
}
