import { ARTIFACT_SCHEMA_VERSION, type ModelArtifactHeader } from './artifact-header.js';
import { crc32 } from './crc32.js';

/**
 * The `.qnas` container, little-endian:
 *   0  "QNAS" magic
 *   4  u32 container version
 *   8  u32 header length H
 *  12  u32 CRC-32 of the header bytes
 *  16  header: UTF-8 JSON (a ModelArtifactHeader), H bytes
 *  16+H blob: header.blob.byteLength bytes, CRC-32 in header.blob.crc32
 * Every field is checked before use, so a truncated or altered file is an ArtifactError, never a
 * crash or a model that computes something else.
 */
const MAGIC = [0x51, 0x4e, 0x41, 0x53];
const CONTAINER_VERSION = 1;
const PREAMBLE = 16;
/** A header larger than this is not a model header but a damaged length field. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}

export interface ModelArtifact {
  readonly header: ModelArtifactHeader;
  readonly blob: Uint8Array;
}

/** The `.qnas` bytes of a model: `encodeArtifact(syntheticRfdn())`, or a header and its blob. */
export function encodeArtifact(artifact: { readonly header: Omit<ModelArtifactHeader, 'blob'>; readonly blob: Uint8Array }): Uint8Array;
export function encodeArtifact(header: Omit<ModelArtifactHeader, 'blob'>, blob: Uint8Array): Uint8Array;
export function encodeArtifact(
  first: Omit<ModelArtifactHeader, 'blob'> | { readonly header: Omit<ModelArtifactHeader, 'blob'>; readonly blob: Uint8Array },
  second?: Uint8Array,
): Uint8Array {
  const [header, blob] =
    second === undefined ? [(first as ModelArtifact).header, (first as ModelArtifact).blob] : [first as Omit<ModelArtifactHeader, 'blob'>, second];
  const full: ModelArtifactHeader = { ...header, blob: { byteLength: blob.byteLength, crc32: crc32(blob) } };
  const headerBytes = new TextEncoder().encode(JSON.stringify(full));
  const out = new Uint8Array(PREAMBLE + headerBytes.length + blob.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(4, CONTAINER_VERSION, true);
  view.setUint32(8, headerBytes.length, true);
  view.setUint32(12, crc32(headerBytes), true);
  out.set(headerBytes, PREAMBLE);
  out.set(blob, PREAMBLE + headerBytes.length);
  return out;
}

export function decodeArtifact(bytes: Uint8Array, source = 'model'): ModelArtifact {
  const fail = (problem: string): never => {
    throw new ArtifactError(`${source}: ${problem}`);
  };
  if (bytes.length < PREAMBLE) fail(`not a .qnas model (${bytes.length} bytes, too short)`);
  if (MAGIC.some((b, i) => bytes[i] !== b)) fail('not a .qnas model (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== CONTAINER_VERSION) fail(`container version ${version} is not supported (this runtime reads ${CONTAINER_VERSION})`);
  const headerLength = view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || PREAMBLE + headerLength > bytes.length) {
    fail(`truncated or damaged: header of ${headerLength} bytes does not fit in ${bytes.length} bytes`);
  }
  const headerBytes = bytes.subarray(PREAMBLE, PREAMBLE + headerLength);
  if (crc32(headerBytes) !== view.getUint32(12, true)) fail('header checksum mismatch (file damaged or altered)');
  let header: ModelArtifactHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes)) as ModelArtifactHeader;
  } catch {
    return fail('header is not valid UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null) fail('header is not a JSON object');
  if (header.schemaVersion !== ARTIFACT_SCHEMA_VERSION) {
    fail(`schemaVersion ${JSON.stringify(header.schemaVersion)} is not supported (this runtime reads ${ARTIFACT_SCHEMA_VERSION})`);
  }
  const blobInfo = header.blob;
  if (typeof blobInfo !== 'object' || blobInfo === null || !Number.isInteger(blobInfo.byteLength) || !Number.isInteger(blobInfo.crc32)) {
    fail('header has no valid blob description');
  }
  const blobStart = PREAMBLE + headerLength;
  if (bytes.length - blobStart !== blobInfo.byteLength) {
    fail(`truncated or damaged: expected ${blobInfo.byteLength} weight bytes, found ${bytes.length - blobStart}`);
  }
  const blob = bytes.subarray(blobStart);
  if (crc32(blob) !== blobInfo.crc32) fail('weights checksum mismatch (file damaged or altered)');
  return { header, blob };
}
