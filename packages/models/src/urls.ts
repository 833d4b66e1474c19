import type { ModelName } from './models.js';

// Each URL is written out in full, relative to this module: bundlers (Vite, webpack 5, Parcel 2)
// recognise `new URL('literal', import.meta.url)` and copy the file into the build. From src/ and
// from dist/ alike, ../models/ is the package's models folder.
export const MODEL_URLS: Readonly<Record<ModelName, { readonly model: URL; readonly card: URL }>> = {
  'rfdn-searched-x4': {
    model: new URL('../models/rfdn-searched-x4/model.qnas', import.meta.url),
    card: new URL('../models/rfdn-searched-x4/card.json', import.meta.url),
  },
};
