import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

/**
 * Checkpoint file: an 8-byte magic, the header's length and CRC-32 (u32 little-endian each), the
 * header as UTF-8 JSON, then the tensors' float32 data back to back (little-endian). The header
 * lists every tensor (name, shape, byte offset into the blob) and carries the blob's length and
 * CRC-32, plus the caller's JSON state. Any truncation or bit flip fails one of the checks.
 */
export const CHECKPOINT_MAGIC = 'QNASCKP1';
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface StoredTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface CheckpointContents<S> {
  readonly state: S;
  readonly tensors: ReadonlyMap<string, StoredTensor>;
}

interface Header<S> {
  format: 'quantnas-checkpoint';
  version: number;
  blobBytes: number;
  blobCrc32: number;
  tensors: { name: string; shape: number[]; offset: number }[];
  state: S;
}

/** A checkpoint that cannot be read; the message names the file and what is wrong. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export function encodeCheckpoint<S>(contents: CheckpointContents<S>): Buffer {
  let offset = 0;
  const entries: Header<S>['tensors'] = [];
  for (const [name, t] of contents.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`checkpoint: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    entries.push({ name, shape: [...t.shape], offset });
    offset += t.data.byteLength;
  }
  const blob = Buffer.alloc(offset);
  let i = 0;
  for (const t of contents.tensors.values()) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    // Float32Array is host-endian; the format is little-endian.
    if (littleEndianHost) bytes.copy(blob, entries[i]!.offset);
    else for (let k = 0; k < t.data.length; k++) blob.writeFloatLE(t.data[k]!, entries[i]!.offset + 4 * k);
    i++;
  }
  const header: Header<S> = {
    format: 'quantnas-checkpoint',
    version: CHECKPOINT_FORMAT_VERSION,
    blobBytes: blob.length,
    blobCrc32: crc32(blob),
    tensors: entries,
    state: contents.state,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(16);
  prefix.write(CHECKPOINT_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 8);
  prefix.writeUInt32LE(crc32(headerBytes), 12);
  return Buffer.concat([prefix, headerBytes, blob]);
}

export function decodeCheckpoint<S>(bytes: Buffer, path: string): CheckpointContents<S> {
  const fail = (problem: string): never => {
    throw new CheckpointError(path, problem);
  };
  if (bytes.length < 16) fail(`truncated checkpoint (${bytes.length} bytes)`);
  if (bytes.toString('latin1', 0, 8) !== CHECKPOINT_MAGIC) fail('not a quantnas checkpoint (bad magic)');
  const headerLength = bytes.readUInt32LE(8);
  if (16 + headerLength > bytes.length) fail(`truncated checkpoint (header of ${headerLength} bytes, file of ${bytes.length})`);
  const headerBytes = bytes.subarray(16, 16 + headerLength);
  if (crc32(headerBytes) !== bytes.readUInt32LE(12)) fail('corrupt checkpoint (header checksum mismatch)');
  let header: Header<S>;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as Header<S>;
  } catch {
    return fail('corrupt checkpoint (header is not JSON)');
  }
  if (header.format !== 'quantnas-checkpoint' || header.version !== CHECKPOINT_FORMAT_VERSION) {
    fail(`unsupported checkpoint format ${JSON.stringify(header.format)} version ${JSON.stringify(header.version)}`);
  }
  const blob = bytes.subarray(16 + headerLength);
  if (blob.length !== header.blobBytes) fail(`truncated checkpoint (data is ${blob.length} bytes, expected ${header.blobBytes})`);
  if (crc32(blob) !== header.blobCrc32) fail('corrupt checkpoint (data checksum mismatch)');
  const tensors = new Map<string, StoredTensor>();
  for (const { name, shape, offset } of header.tensors) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (offset + size * 4 > blob.length) fail(`corrupt checkpoint (tensor '${name}' lies outside the data)`);
    const data = new Float32Array(size);
    if (littleEndianHost) Buffer.from(data.buffer).set(blob.subarray(offset, offset + size * 4));
    else for (let k = 0; k < size; k++) data[k] = blob.readFloatLE(offset + 4 * k);
    tensors.set(name, { shape, data });
  }
  return { state: header.state, tensors };
}

export function readCheckpoint<S>(path: string): CheckpointContents<S> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CheckpointError(path, `cannot read checkpoint (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return decodeCheckpoint<S>(bytes, path);
}

/** `checkpoint.qnc` → `checkpoint.prev.qnc`: the last good checkpoint before the current one. */
export function previousCheckpointPath(path: string): string {
  return path.replace(/(\.[^./]+)?$/, (ext) => `.prev${ext}`);
}

/**
 * Writes a checkpoint so that a crash at any moment leaves a readable one: the bytes go to a
 * temporary file that is flushed to disk, the current checkpoint becomes the `.prev` one, and
 * the temporary file is renamed into place (renames are atomic on one file system).
 */
export function writeCheckpointFile<S>(path: string, contents: CheckpointContents<S>): void {
  const bytes = encodeCheckpoint(contents);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (existsSync(path)) renameSync(path, previousCheckpointPath(path));
  renameSync(tmp, path);
}

export interface LoadedCheckpoint<S> extends CheckpointContents<S> {
  /** The file that was read. */
  readonly path: string;
  /** Set when the newest checkpoint was unreadable and the previous one was used instead. */
  readonly fellBackFrom?: { readonly path: string; readonly reason: string };
}

/**
 * The newest readable checkpoint at `path`, falling back to its `.prev` file when the newest is
 * missing (a crash between the two renames), truncated or corrupt. Throws a CheckpointError naming
 * both files when neither can be read; `undefined` when neither exists.
 */
export function loadLatestCheckpoint<S>(path: string): LoadedCheckpoint<S> | undefined {
  const prev = previousCheckpointPath(path);
  if (!existsSync(path) && !existsSync(prev)) return undefined;
  let reason: string | undefined;
  if (existsSync(path)) {
    try {
      return { ...readCheckpoint<S>(path), path };
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      reason = error.message;
    }
  }
  if (!existsSync(prev)) throw new CheckpointError(path, `${reason ?? 'missing'}; no previous checkpoint ${prev} to fall back to`);
  try {
    const loaded = readCheckpoint<S>(prev);
    return { ...loaded, path: prev, ...(reason ? { fellBackFrom: { path, reason } } : {}) };
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    throw new CheckpointError(path, `${reason ?? 'missing'}; the previous checkpoint is unusable too (${error.message})`);
  }
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
