import { isSpaceId, loadSpec } from '@quantnas/search-spaces';
import { SearchError } from './config.js';

/** The width, scale and cell count a space document states. */
export interface DocumentShape {
  readonly channels: number;
  readonly scale: number;
  readonly cells?: number;
}

/**
 * What a user's space document (a file, not a shipped id) says about its own width, scale and
 * cells, validated; undefined for a shipped space, whose size the preset chooses. A search of a
 * document takes these instead of the preset's: a document saying C = 4 at ×2 is searched at
 * C = 4, ×2. A missing or unreadable file is a one-line SearchError.
 */
export async function spaceDocumentShape(space: string): Promise<DocumentShape | undefined> {
  if (isSpaceId(space)) return undefined;
  let spec;
  try {
    spec = await loadSpec(space);
  } catch (error) {
    if (error instanceof Error && error.name === 'Error') throw new SearchError(error.message);
    throw error;
  }
  return { channels: spec.channels, scale: spec.scale, ...(spec.cells !== undefined ? { cells: spec.cells } : {}) };
}
