import type { BlobRef } from './artifact-header.js';

/** The model blob: byte arrays appended at 4-byte aligned offsets. */
export class BlobWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  put(bytes: Uint8Array): BlobRef {
    const pad = (4 - (this.length % 4)) % 4;
    if (pad) this.chunks.push(new Uint8Array(pad));
    this.length += pad;
    this.chunks.push(bytes);
    const ref = { offset: this.length, byteLength: bytes.byteLength };
    this.length += bytes.byteLength;
    return ref;
  }

  /** Little-endian float32 values. */
  floats(values: ArrayLike<number>): BlobRef {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return this.put(bytes);
  }

  bytes(): Uint8Array {
    const blob = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      blob.set(c, at);
      at += c.byteLength;
    }
    return blob;
  }
}
