/**
 * Reverses PNG scanline filtering in place. `raw` holds `height` rows of `1 + stride` bytes (filter
 * type, then the filtered bytes); `bpp` is the bytes per complete pixel, at least 1. Returns false
 * on an unknown filter type.
 */
export function unfilterScanlines(raw: Uint8Array, height: number, stride: number, bpp: number): boolean {
  const rowLen = stride + 1;
  for (let y = 0; y < height; y++) {
    const row = y * rowLen + 1;
    const prev = row - rowLen; // only read when y > 0
    const filter = raw[row - 1];
    switch (filter) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 0xff;
        break;
      case 2:
        if (y > 0) for (let i = 0; i < stride; i++) raw[row + i] = (raw[row + i] + raw[prev + i]) & 0xff;
        break;
      case 3:
        if (y === 0) {
          for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + (raw[row + i - bpp] >> 1)) & 0xff;
        } else {
          for (let i = 0; i < bpp; i++) raw[row + i] = (raw[row + i] + (raw[prev + i] >> 1)) & 0xff;
          for (let i = bpp; i < stride; i++) {
            raw[row + i] = (raw[row + i] + ((raw[row + i - bpp] + raw[prev + i]) >> 1)) & 0xff;
          }
        }
        break;
      case 4:
        if (y === 0) {
          // With no row above, Paeth picks the left byte: the same as Sub.
          for (let i = bpp; i < stride; i++) raw[row + i] = (raw[row + i] + raw[row + i - bpp]) & 0xff;
        } else {
          for (let i = 0; i < bpp; i++) raw[row + i] = (raw[row + i] + raw[prev + i]) & 0xff;
          for (let i = bpp; i < stride; i++) {
            const a = raw[row + i - bpp];
            const b = raw[prev + i];
            const c = raw[prev + i - bpp];
            // |p − a|, |p − b|, |p − c| for p = a + b − c, without forming p.
            let pa = b - c;
            let pb = a - c;
            let pc = pa + pb;
            pa = pa < 0 ? -pa : pa;
            pb = pb < 0 ? -pb : pb;
            pc = pc < 0 ? -pc : pc;
            const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
            raw[row + i] = (raw[row + i] + pred) & 0xff;
          }
        }
        break;
      default:
        return false;
    }
  }
  return true;
}
