import { inferSizes, type ModelGraph } from './graph.js';
import type { RgbImage } from './image.js';
import { outputByte } from './layer-math.js';
import { layerSpec, type FullTensor } from './layer-ops.js';

/**
 * The graph executed as plain loops over whole images: the specification the WASM engine (tiled
 * or not, any number of threads) must reproduce bit for bit. Slow; for tests and small images.
 */

export function runReference(graph: ModelGraph, image: RgbImage): RgbImage {
  const { header } = graph;
  const sizes = inferSizes(graph, image.height, image.width);
  const values = new Map<string, FullTensor>();
  values.set(header.input, { h: image.height, w: image.width, c: 3, data: Float32Array.from(image.data, (u) => u / 255) });
  const value = (name: string) => values.get(name)!;
  for (const gl of graph.layers) {
    const layer = gl.layer;
    const out = graph.tensors.get(layer.output)!;
    const { h, w } = sizes.get(layer.output)!;
    const c = out.info.channels;
    const n = h * w * c;
    const data: Float32Array | Uint8Array = out.info.dtype === 'uint8' ? new Uint8Array(n) : new Float32Array(n);
    const ref = layerSpec(layer.op)!.reference;
    const written = ref({ layer, gl, graph, out, x: value(layer.inputs[0]!), value, h, w, c, data });
    values.set(layer.output, { h, w, c, data: written ?? data });
  }
  const result = values.get(header.output)!;
  return { width: result.w, height: result.h, channels: 3, data: Uint8Array.from(result.data, outputByte) };
}
