/** Progress of an upscale: one event per tile, so callers can draw a bar or cancel. */
export type InferenceEvent =
  | { readonly status: 'start'; readonly tiles: number; readonly engine: string; readonly threads: number }
  | { readonly status: 'tile'; readonly index: number; readonly tiles: number }
  | { readonly status: 'done'; readonly milliseconds: number };
