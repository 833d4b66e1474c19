import { conv2dReference } from './conv-reference.js';
import { sigmoidF32 } from './exp.js';
import { adqFactor, bilinearTaps, convParams, f32, inferSizes, outputByte, quantizeCode, type ModelGraph } from './graph.js';
import type { RgbImage } from './image.js';

/**
 * The graph executed as plain loops over whole images: the specification the WASM engine (tiled
 * or not, any number of threads) must reproduce bit for bit. Slow; for tests and small images.
 */
interface Full {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float32Array | Uint8Array;
}

export function runReference(graph: ModelGraph, image: RgbImage): RgbImage {
  const { header } = graph;
  const sizes = inferSizes(graph, image.height, image.width);
  const values = new Map<string, Full>();
  values.set(header.input, { h: image.height, w: image.width, c: 3, data: Float32Array.from(image.data, (u) => u / 255) });
  for (const gl of graph.layers) {
    const layer = gl.layer;
    const x = values.get(layer.inputs[0]!)!;
    const out = graph.tensors.get(layer.output)!;
    const { h, w } = sizes.get(layer.output)!;
    const c = out.info.channels;
    const n = h * w * c;
    let data: Float32Array | Uint8Array = out.info.dtype === 'uint8' ? new Uint8Array(n) : new Float32Array(n);
    switch (layer.op) {
      case 'conv':
        data = conv2dReference(x.data as Uint8Array, convParams(gl, graph.tensors.get(layer.inputs[0]!)!, x.h, x.w)) as Float32Array | Uint8Array;
        break;
      case 'add':
      case 'mul': {
        const b = values.get(layer.inputs[1]!)!.data;
        for (let i = 0; i < n; i++) data[i] = layer.op === 'add' ? x.data[i]! + b[i]! : x.data[i]! * b[i]!;
        break;
      }
      case 'concat': {
        let c0 = 0;
        for (const name of layer.inputs) {
          const t = values.get(name)!;
          for (let p = 0; p < h * w; p++) for (let k = 0; k < t.c; k++) data[p * c + c0 + k] = t.data[p * t.c + k]!;
          c0 += t.c;
        }
        break;
      }
      case 'pixel_shuffle': {
        const r = layer.factor;
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            for (let k = 0; k < c; k++) {
              const src = ((Math.floor(y / r) * x.w + Math.floor(xx / r)) * x.c) + k * r * r + (y % r) * r + (xx % r);
              data[(y * w + xx) * c + k] = x.data[src]!;
            }
          }
        }
        break;
      }
      case 'repeat_channels':
        for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) data[p * c + k] = x.data[p * x.c + (k % x.c)]!;
        break;
      case 'max_pool':
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            for (let k = 0; k < c; k++) {
              let m = -Infinity;
              for (let dy = 0; dy < layer.kernel; dy++) {
                for (let dx = 0; dx < layer.kernel; dx++) {
                  m = Math.max(m, x.data[((y * layer.stride + dy) * x.w + xx * layer.stride + dx) * c + k]!);
                }
              }
              data[(y * w + xx) * c + k] = m;
            }
          }
        }
        break;
      case 'bilinear_resize': {
        const ty = bilinearTaps(x.h, h);
        const tx = bilinearTaps(x.w, w);
        const at = (yy: number, xx: number, k: number) => x.data[(yy * x.w + xx) * c + k]!;
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            for (let k = 0; k < c; k++) {
              const top = f32(f32(at(ty.i0[y]!, tx.i0[xx]!, k) * tx.w0[xx]!) + f32(at(ty.i0[y]!, tx.i1[xx]!, k) * tx.w1[xx]!));
              const bottom = f32(f32(at(ty.i1[y]!, tx.i0[xx]!, k) * tx.w0[xx]!) + f32(at(ty.i1[y]!, tx.i1[xx]!, k) * tx.w1[xx]!));
              data[(y * w + xx) * c + k] = f32(top * ty.w0[y]!) + f32(bottom * ty.w1[y]!);
            }
          }
        }
        break;
      }
      case 'sigmoid':
        for (let i = 0; i < n; i++) data[i] = sigmoidF32(x.data[i]!);
        break;
      case 'clamp':
        for (let i = 0; i < n; i++) data[i] = Math.min(Math.max(x.data[i]!, layer.min), layer.max);
        break;
      case 'adq_scale': {
        const stat = graph.tensors.get(layer.statisticsOf)!;
        const step = stat.info.dtype === 'uint8' ? stat.info.step : 1;
        const phi = adqFactor(values.get(layer.statisticsOf)!.data, step, layer.deviation, layer.slope, layer.offset);
        for (let i = 0; i < n; i++) data[i] = x.data[i]! * phi;
        break;
      }
      case 'affine': {
        const { scale, shift } = gl.affine!;
        for (let i = 0; i < n; i++) data[i] = f32(x.data[i]! * scale[i % c]!) + shift[i % c]!;
        break;
      }
      case 'quantize': {
        const info = out.info as { step: number; bits: number };
        for (let i = 0; i < n; i++) data[i] = quantizeCode(x.data[i]!, info.step, 2 ** info.bits - 1);
        break;
      }
    }
    values.set(layer.output, { h, w, c, data });
  }
  const result = values.get(header.output)!;
  return { width: result.w, height: result.h, channels: 3, data: Uint8Array.from(result.data, outputByte) };
}
