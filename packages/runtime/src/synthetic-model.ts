import type { ArtifactLayer, BlobRef, ModelArtifactHeader, TensorInfo } from './artifact-header.js';
import { crc32 } from './crc32.js';
import type { ModelArtifact } from './container.js';
import { packInt4 } from './conv-spec.js';

/**
 * Random but valid rfdn-shaped models (docs/method.md §6.1): the channel repeat, residual cells with
 * mixed 4/8-bit ops, concat and fixed 1×1 convs, ESA, ADQ with a folded batch norm, the global
 * 1×1 + 3×3 with the repeated input as residual, upsample conv + pixel shuffle, the HR tail with
 * its residual. For tests (every layer type) and benchmarks (realistic sizes); the weights are
 * random, so the images they produce are not meaningful.
 */
export interface SyntheticRfdnOptions {
  readonly seed?: number;
  /** C, a multiple of 12; default 48. */
  readonly channels?: number;
  readonly cells?: number;
  readonly scale?: number;
  /** Default true: ESA in every cell. */
  readonly esa?: boolean;
  /** Default true: ADQ (and its batch norm) around every cell. */
  readonly adq?: boolean;
  readonly deviation?: 'population' | 'sample';
  /** Default 'mixed': searchable ops draw 4 or 8 bits; 'int8': every layer 8-bit. */
  readonly bits?: 'mixed' | 'int8';
}

const STEPS: Record<number, number> = { 2: 0.6356, 3: 0.3721, 4: 0.21306, 8: 0.020301 };

export function syntheticRfdn(options: SyntheticRfdnOptions = {}): ModelArtifact {
  const C = options.channels ?? 48;
  if (C % 12 !== 0) throw new RangeError('syntheticRfdn: channels must be a multiple of 12');
  const cells = options.cells ?? 4;
  const scale = options.scale ?? 4;
  const esa = options.esa ?? true;
  const adq = options.adq ?? true;
  let s = (options.seed ?? 1) >>> 0;
  const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const searchBits = () => (options.bits === 'int8' ? 8 : pick([4, 8]));

  const tensors: Record<string, TensorInfo> = {};
  const layers: ArtifactLayer[] = [];
  const chunks: Uint8Array[] = [];
  let blobLength = 0;
  let macs = 0;
  let bitOps = 0;
  /** Pixels of each tensor per LR pixel. */
  const area = new Map<string, number>();
  let counter = 0;
  const fresh = (prefix: string) => `${prefix}${counter++}`;

  const put = (bytes: Uint8Array): BlobRef => {
    const pad = (4 - (blobLength % 4)) % 4;
    if (pad) chunks.push(new Uint8Array(pad));
    blobLength += pad;
    chunks.push(bytes);
    const ref = { offset: blobLength, byteLength: bytes.length };
    blobLength += bytes.length;
    return ref;
  };
  const floats = (values: number[]): BlobRef => {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return put(bytes);
  };
  const channels = (name: string) => tensors[name]!.channels;
  const float = (prefix: string, c: number, like: string, factor = 1) => {
    const name = fresh(prefix);
    tensors[name] = { dtype: 'float32', channels: c };
    area.set(name, area.get(like)! * factor);
    return name;
  };
  const layer = (l: ArtifactLayer) => {
    layers.push(l);
    return l.output;
  };
  /** The activation quantizer of a conv input (one per tensor and bit-width). */
  const quantized = new Map<string, string>();
  const q = (x: string, bits: number): string => {
    if (tensors[x]!.dtype === 'uint8') return x;
    const key = `${x}@${bits}`;
    let name = quantized.get(key);
    if (!name) {
      name = fresh('q');
      tensors[name] = { dtype: 'uint8', channels: channels(x), step: STEPS[bits]!, bits };
      area.set(name, area.get(x)!);
      layer({ id: fresh('quantize'), op: 'quantize', inputs: [x], output: name });
      quantized.set(key, name);
    }
    return name;
  };
  interface ConvSpec {
    readonly k?: number;
    readonly stride?: number;
    readonly padding?: 'same' | 'valid';
    readonly groups?: number;
    readonly weightBits?: 8 | 4;
    readonly inputBits?: number;
    /** uint8 output for a following conv with these input bits; default float32. */
    readonly outputBits?: number;
    readonly bias?: boolean;
    readonly gain?: number;
  }
  const conv = (x: string, cout: number, spec: ConvSpec = {}): string => {
    const k = spec.k ?? 3;
    const groups = spec.groups ?? 1;
    const weightBits = spec.weightBits ?? 8;
    const input = q(x, spec.inputBits ?? 8);
    const cin = channels(input);
    const fanIn = k * k * (cin / groups);
    const count = cout * fanIn;
    const limit = weightBits === 8 ? 127 : 7;
    const w = Array.from({ length: count }, () => Math.round((random() * 2 - 1) * limit));
    // Dequantized weights with about He-initialised spread, so activations neither vanish nor saturate.
    const wStd = limit / Math.sqrt(3);
    const gain = spec.gain ?? 1;
    const scales = Array.from({ length: cout }, () => (gain * Math.sqrt(2 / fanIn) * (0.7 + 0.6 * random())) / wStd);
    const stride = spec.stride ?? 1;
    const output = fresh('t');
    const factor = 1 / (stride * stride);
    if (spec.outputBits !== undefined) {
      tensors[output] = { dtype: 'uint8', channels: cout, step: STEPS[spec.outputBits]!, bits: spec.outputBits };
      area.set(output, area.get(input)! * factor);
    } else {
      tensors[output] = { dtype: 'float32', channels: cout };
      area.set(output, area.get(input)! * factor);
    }
    const pixels = area.get(output)!;
    macs += pixels * cout * fanIn;
    bitOps += pixels * cout * fanIn * weightBits * (tensors[input] as { bits: number }).bits;
    layer({
      id: fresh('conv'), op: 'conv', inputs: [input], output,
      kernel: [k, k], stride, padding: spec.padding ?? 'same', groups, weightBits,
      weights: put(weightBits === 8 ? Uint8Array.from(Int8Array.from(w), (v) => v & 0xff) : packInt4(w)),
      weightScales: floats(scales),
      ...(spec.bias ?? random() < 0.5 ? { bias: floats(Array.from({ length: cout }, () => (random() - 0.5) * 0.2)) } : {}),
    });
    return output;
  };
  const binary = (op: 'add' | 'mul', a: string, b: string) => layer({ id: fresh(op), op, inputs: [a, b], output: float(op, channels(a), a) });

  /** A searchable op of the rfdn space, cin → cout, float32 out. */
  const searchable = (x: string, cout: number): string => {
    const kind = pick(['simple', 'growth1', 'grouped'] as const);
    const k = pick([1, 3, 5]);
    const wb = searchBits() as 8 | 4;
    const ab = searchBits();
    if (kind === 'growth1') {
      const mid = conv(x, C, { k, weightBits: wb, inputBits: ab, outputBits: ab });
      return conv(mid, cout, { k, weightBits: wb, inputBits: ab, gain: 0.5 });
    }
    return conv(x, cout, { k, weightBits: wb, inputBits: ab, groups: kind === 'grouped' ? 2 : 1, gain: 0.5 });
  };

  tensors.lr = { dtype: 'float32', channels: 3 };
  area.set('lr', 1);
  const repeated = layer({ id: 'repeat', op: 'repeat_channels', inputs: ['lr'], output: float('rep', C, 'lr'), times: C / 3 });
  let x = repeated;
  const cellOutputs: string[] = [];
  for (let cell = 0; cell < cells; cell++) {
    const cellInput = x;
    let h = cellInput;
    if (adq) {
      h = layer({
        id: fresh('bn'), op: 'affine', inputs: [h], output: float('bn', C, h),
        scale: floats(Array.from({ length: C }, () => 0.8 + 0.4 * random())),
        shift: floats(Array.from({ length: C }, () => (random() - 0.5) * 0.2)),
      });
    }
    const distilled: string[] = [];
    for (let i = 0; i < 3; i++) {
      distilled.push(searchable(h, C / 2));
      h = binary('add', h, searchable(h, C));
    }
    distilled.push(searchable(h, C / 2));
    const joined = layer({ id: fresh('concat'), op: 'concat', inputs: distilled, output: float('cat', 2 * C, h) });
    let z = conv(joined, C, { k: 1 });
    if (esa) {
      const f = C / 4;
      const c1 = conv(z, f, { k: 1 });
      const down = conv(c1, f, { k: 3, stride: 2, padding: 'valid' });
      const pooled = layer({ id: fresh('pool'), op: 'max_pool', inputs: [down], output: float('pool', f, down, 1 / 9), kernel: 7, stride: 3 });
      const c3 = conv(conv(pooled, f, { k: 3, outputBits: 8 }), f, { k: 3 });
      const up = layer({ id: fresh('resize'), op: 'bilinear_resize', inputs: [c3], output: float('up', f, c1, 1), sizeOf: c1 });
      area.set(up, area.get(c1)!);
      const mask = conv(binary('add', up, conv(c1, f, { k: 1 })), C, { k: 1 });
      const gate = layer({ id: fresh('sigmoid'), op: 'sigmoid', inputs: [mask], output: float('sig', C, mask) });
      z = binary('mul', z, gate);
    }
    if (adq) {
      z = layer({
        id: fresh('adq'), op: 'adq_scale', inputs: [z], output: float('adq', C, z),
        statisticsOf: cellInput, slope: 1.5, offset: 0, deviation: options.deviation ?? 'population',
      });
    }
    x = binary('add', z, cellInput);
    cellOutputs.push(x);
  }
  const all = layer({ id: 'concat_cells', op: 'concat', inputs: cellOutputs, output: float('cells', C * cells, x) });
  let y = conv(all, C, { k: 1 });
  y = conv(y, C, { k: 3, gain: 0.5 });
  y = binary('add', y, repeated);
  const upsampled = conv(y, 3 * scale * scale, { k: 3, weightBits: searchBits() as 8 | 4, inputBits: searchBits(), gain: 0.15 });
  const hr = layer({ id: 'shuffle', op: 'pixel_shuffle', inputs: [upsampled], output: float('hr', 3, upsampled, scale * scale), factor: scale });
  const tail = conv(hr, 3, { k: 3, weightBits: searchBits() as 8 | 4, inputBits: searchBits(), gain: 0.3 });
  const sum = binary('add', hr, tail);
  layer({ id: 'clamp', op: 'clamp', inputs: [sum], output: float('sr', 3, sum), min: 0, max: 1 });

  const blob = new Uint8Array(blobLength);
  let at = 0;
  for (const chunk of chunks) {
    blob.set(chunk, at);
    at += chunk.length;
  }
  const header: ModelArtifactHeader = {
    schemaVersion: 1, scale, input: 'lr', output: layers[layers.length - 1]!.output, tensors, layers,
    blob: { byteLength: blob.length, crc32: crc32(blob) },
    metadata: { space: 'rfdn (synthetic)', cost: { macsPerLrPixel: Math.round(macs), bitOpsPerLrPixel: Math.round(bitOps) } },
  };
  return { header, blob };
}
