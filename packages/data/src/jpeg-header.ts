/** What the frame header (SOFn) of a JPEG says. */
export interface JpegHeader {
  width: number;
  height: number;
  /** 1 gray, 3 YCbCr/RGB, 4 CMYK. */
  components: number;
}

export function hasJpegSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Finds the frame header by walking the marker segments, without decoding anything. Returns
 * undefined when there is none before the data ends (a truncated or non-JPEG file).
 */
export function readJpegHeader(bytes: Uint8Array): JpegHeader | undefined {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // EOI or scan before any frame
    const length = (bytes[pos + 2] << 8) | bytes[pos + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (pos + 10 > bytes.length) return undefined;
      return {
        height: (bytes[pos + 5] << 8) | bytes[pos + 6],
        width: (bytes[pos + 7] << 8) | bytes[pos + 8],
        components: bytes[pos + 9],
      };
    }
    pos += 2 + length;
  }
  return undefined;
}
