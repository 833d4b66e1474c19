// @quantnas/models in Node: the bundled models as files, bytes and cards.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { checkModelName, MODEL_NAMES, ModelNotFoundError, type ModelCard, type ModelName } from './models.js';
import { MODEL_URLS } from './urls.js';

export { checkModelName, DEFAULT_MODEL, MODEL_NAMES, ModelNotFoundError } from './models.js';
export type { CardSetResult, CardTraining, ModelCard, ModelName } from './models.js';

/** The `file:` URL of a bundled model (default: `DEFAULT_MODEL`). */
export function modelUrl(name?: string): URL {
  return MODEL_URLS[checkModelName(name)].model;
}

/** The path of a bundled model's `.qnas` file (default: `DEFAULT_MODEL`). */
export function modelPath(name?: string): string {
  return fileURLToPath(modelUrl(name));
}

/** The URL of a bundled model's card (`card.json`). */
export function cardUrl(name?: string): URL {
  return MODEL_URLS[checkModelName(name)].card;
}

function unreadable(name: ModelName, what: string, path: string, error: unknown): ModelNotFoundError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message);
  return new ModelNotFoundError(`${path}: cannot read the ${what} of the bundled model '${name}': ${reason}`);
}

/** A bundled model's bytes, ready for `createSession` of `@quantnas/runtime`. */
export async function loadModelBytes(name?: string): Promise<Uint8Array> {
  const checked = checkModelName(name);
  const path = modelPath(checked);
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw unreadable(checked, 'file', path, error);
  }
}

const cards = new Map<ModelName, ModelCard>();

/** A bundled model's card: what it is, how it was trained, what it scores (read once, then cached). */
export function modelCard(name?: string): ModelCard {
  const checked = checkModelName(name);
  let card = cards.get(checked);
  if (card === undefined) {
    const path = fileURLToPath(cardUrl(checked));
    try {
      card = JSON.parse(readFileSync(path, 'utf8')) as ModelCard;
    } catch (error) {
      throw unreadable(checked, 'card', path, error);
    }
    cards.set(checked, card);
  }
  return card;
}

/** `modelCard`, with the browser entry's signature. */
export async function loadModelCard(name?: string): Promise<ModelCard> {
  return modelCard(name);
}

/** Every bundled model's card, the default first. */
export function listModels(): ModelCard[] {
  return MODEL_NAMES.map((name) => modelCard(name));
}
