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
  const { readModelFile } = await import('@quantnas/runtime/model-file');
  try {
    return { path, ...(await readModelFile(path)) };
  } catch (error) {
    if (error instanceof runtime.ArtifactError) throw new DataError(error.message.split('\n')[0]!, path);
    throw error;
  }
}
