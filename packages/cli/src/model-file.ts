import { readFile } from 'node:fs/promises';
import { DataError } from '@quantnas/data';
import type { ModelArtifact, ModelGraph } from '@quantnas/runtime';

/** An exported model read from disk, decoded and validated. */
export interface LoadedModelFile {
  readonly path: string;
  readonly artifact: ModelArtifact;
  readonly graph: ModelGraph;
}

/**
 * Reads, decodes and validates a .qnas file. A missing, unreadable, truncated or damaged file is a
 * one-line DataError naming the file.
 */
export async function loadModelFile(path: string): Promise<LoadedModelFile> {
  const runtime = await import('@quantnas/runtime');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES' || code === 'EPERM'
            ? 'permission denied'
            : (error as Error).message;
    throw new DataError(`${path}: cannot read the model: ${reason}`, path);
  }
  try {
    const artifact = runtime.decodeArtifact(bytes, path);
    return { path, artifact, graph: runtime.validateArtifact(artifact, path) };
  } catch (error) {
    if (error instanceof runtime.ArtifactError) {
      const message = error.message.startsWith(`${path}:`) ? error.message : `${path}: ${error.message}`;
      throw new DataError(message.split('\n')[0]!, path);
    }
    throw error;
  }
}
