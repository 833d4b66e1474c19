import { readFile } from 'node:fs/promises';
import { ArtifactError, decodeArtifact, type ModelArtifact } from './container.js';
import { validateArtifact } from './graph.js';
import type { ModelGraph } from './graph-types.js';

/**
 * Reads, decodes and validates a .qnas file (Node). Every problem, a missing or unreadable file
 * included, is an ArtifactError whose message starts with the path.
 */
export async function readModelFile(path: string): Promise<{ readonly artifact: ModelArtifact; readonly graph: ModelGraph }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reasons: Record<string, string> = { ENOENT: 'no such file', EISDIR: 'is a directory', EACCES: 'permission denied', EPERM: 'permission denied' };
    throw new ArtifactError(`${path}: cannot read the model: ${(code && reasons[code]) ?? (error as Error).message}`);
  }
  try {
    const artifact = decodeArtifact(bytes, path);
    return { artifact, graph: validateArtifact(artifact, path) };
  } catch (error) {
    if (error instanceof ArtifactError && !error.message.startsWith(`${path}:`)) throw new ArtifactError(`${path}: ${error.message}`);
    throw error;
  }
}
