// @quantnas/models in a browser (the `browser` export condition, or `@quantnas/models/browser`):
// the bundled models as URLs a bundler copies next to the page, and their bytes and cards by fetch.
import { checkModelName, ModelNotFoundError, type ModelCard } from './models.js';
import { MODEL_URLS } from './urls.js';

export { checkModelName, DEFAULT_MODEL, MODEL_NAMES, ModelNotFoundError } from './models.js';
export type { CardSetResult, CardTraining, ModelCard, ModelName } from './models.js';

/** The URL of a bundled model's `.qnas` file (default: `DEFAULT_MODEL`), as the bundler placed it. */
export function modelUrl(name?: string): URL {
  return MODEL_URLS[checkModelName(name)].model;
}

/** The URL of a bundled model's card (`card.json`). */
export function cardUrl(name?: string): URL {
  return MODEL_URLS[checkModelName(name)].card;
}

async function fetchOk(url: URL, what: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (!response.ok) throw new ModelNotFoundError(`${url.href}: cannot load the ${what}: HTTP ${response.status}`);
  return response;
}

/** A bundled model's bytes, fetched from `modelUrl(name)`. */
export async function loadModelBytes(name?: string, init?: RequestInit): Promise<Uint8Array> {
  const response = await fetchOk(modelUrl(name), `bundled model '${checkModelName(name)}'`, init);
  return new Uint8Array(await response.arrayBuffer());
}

/** A bundled model's card, fetched from `cardUrl(name)`. */
export async function loadModelCard(name?: string, init?: RequestInit): Promise<ModelCard> {
  const response = await fetchOk(cardUrl(name), `card of the bundled model '${checkModelName(name)}'`, init);
  return (await response.json()) as ModelCard;
}
