import { initBackend, tf } from '@quantnas/core-ops';
import type { ModelGraph } from '@quantnas/runtime';
import { createTfjsEngine as createOn, type Tf, type TfjsEngine, type TfjsPrecision } from '@quantnas/runtime/tfjs';

export { graphMacs, type TfjsEngine, type TfjsPrecision } from '@quantnas/runtime/tfjs';

/** The runtime's tfjs engine for a .qnas model, on this project's one tfjs instance, on wasm. */
export async function createTfjsEngine(graph: ModelGraph, precision: TfjsPrecision): Promise<TfjsEngine> {
  await initBackend('wasm');
  return createOn(tf as unknown as Tf, graph, precision);
}
