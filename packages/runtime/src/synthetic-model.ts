import type { ArtifactLayer, BlobRef, ModelArtifactHeader, TensorInfo } from './artifact-header.js';
import { crc32 } from './crc32.js';
import type { ModelArtifact } from './container.js';
import { BlobWriter } from './blob-writer.js';
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
  /**
   * Default false: a bicubic-like anchor, a 5×5 conv of the input with groups 3, added to the
   * upsampling conv's output; it comes after that conv in graph order, as exported models have it.
   */
  readonly anchor?: boolean;
}

const STEPS: Record<number, number> = { 2: 0.6356, 3: 0.3721, 4: 0.21306, 8: 0.020301 };

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

/** Builds a synthetic model layer by layer: tensors, layers, the weight blob and the cost. */
class SyntheticBuilder {
  readonly tensors: Record<string, TensorInfo> = {};
  readonly layers: ArtifactLayer[] = [];
  private readonly blob = new BlobWriter();
  macs = 0;
  bitOps = 0;
  /** Pixels of each tensor per LR pixel. */
  private readonly area = new Map<string, number>();
  private counter = 0;
  private readonly quantized = new Map<string, string>();
  private s: number;

  constructor(
    seed: number,
    private readonly C: number,
    private readonly bits: SyntheticRfdnOptions['bits'],
  ) {
    this.s = seed >>> 0;
    this.tensors.lr = { dtype: 'float32', channels: 3 };
    this.area.set('lr', 1);
  }

  random(): number {
    return (this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  searchBits(): number {
    return this.bits === 'int8' ? 8 : this.pick([4, 8]);
  }

  fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  private put(bytes: Uint8Array): BlobRef {
    return this.blob.put(bytes);
  }

  floats(values: number[]): BlobRef {
    return this.blob.floats(values);
  }

  channels(name: string): number {
    return this.tensors[name]!.channels;
  }
  float(prefix: string, c: number, like: string, factor = 1): string {
    const name = this.fresh(prefix);
    this.tensors[name] = { dtype: 'float32', channels: c };
    this.area.set(name, this.area.get(like)! * factor);
    return name;
  }
  layer(l: ArtifactLayer): string {
    this.layers.push(l);
    return l.output;
  }
  /** The activation quantizer of a conv input (one per tensor and bit-width). */
  private q(x: string, bits: number): string {
    if (this.tensors[x]!.dtype === 'uint8') return x;
    const key = `${x}@${bits}`;
    let name = this.quantized.get(key);
    if (!name) {
      name = this.fresh('q');
      this.tensors[name] = { dtype: 'uint8', channels: this.channels(x), step: STEPS[bits]!, bits };
      this.area.set(name, this.area.get(x)!);
      this.layer({ id: this.fresh('quantize'), op: 'quantize', inputs: [x], output: name });
      this.quantized.set(key, name);
    }
    return name;
  }
  conv(x: string, cout: number, spec: ConvSpec = {}): string {
    const k = spec.k ?? 3;
    const groups = spec.groups ?? 1;
    const weightBits = spec.weightBits ?? 8;
    const input = this.q(x, spec.inputBits ?? 8);
    const cin = this.channels(input);
    const fanIn = k * k * (cin / groups);
    const count = cout * fanIn;
    const limit = weightBits === 8 ? 127 : 7;
    const w = Array.from({ length: count }, () => Math.round((this.random() * 2 - 1) * limit));
    // Dequantized weights with about He-initialised spread, so activations neither vanish nor saturate.
    const wStd = limit / Math.sqrt(3);
    const gain = spec.gain ?? 1;
    const scales = Array.from({ length: cout }, () => (gain * Math.sqrt(2 / fanIn) * (0.7 + 0.6 * this.random())) / wStd);
    const stride = spec.stride ?? 1;
    const output = this.fresh('t');
    const factor = 1 / (stride * stride);
    if (spec.outputBits !== undefined) {
      this.tensors[output] = { dtype: 'uint8', channels: cout, step: STEPS[spec.outputBits]!, bits: spec.outputBits };
      this.area.set(output, this.area.get(input)! * factor);
    } else {
      this.tensors[output] = { dtype: 'float32', channels: cout };
      this.area.set(output, this.area.get(input)! * factor);
    }
    const pixels = this.area.get(output)!;
    this.macs += pixels * cout * fanIn;
    this.bitOps += pixels * cout * fanIn * weightBits * (this.tensors[input] as { bits: number }).bits;
    this.layer({
      id: this.fresh('conv'),
      op: 'conv',
      inputs: [input],
      output,
      kernel: [k, k],
      stride,
      padding: spec.padding ?? 'same',
      groups,
      weightBits,
      weights: this.put(weightBits === 8 ? Uint8Array.from(Int8Array.from(w), (v) => v & 0xff) : packInt4(w)),
      weightScales: this.floats(scales),
      ...((spec.bias ?? this.random() < 0.5) ? { bias: this.floats(Array.from({ length: cout }, () => (this.random() - 0.5) * 0.2)) } : {}),
    });
    return output;
  }
  binary(op: 'add' | 'mul', a: string, b: string): string {
    return this.layer({ id: this.fresh(op), op, inputs: [a, b], output: this.float(op, this.channels(a), a) });
  }

  /** A searchable op of the rfdn space, cin → cout, float32 out. */
  searchable(x: string, cout: number): string {
    const kind = this.pick(['simple', 'growth1', 'grouped'] as const);
    const k = this.pick([1, 3, 5]);
    const wb = this.searchBits() as 8 | 4;
    const ab = this.searchBits();
    if (kind === 'growth1') {
      const mid = this.conv(x, this.C, { k, weightBits: wb, inputBits: ab, outputBits: ab });
      return this.conv(mid, cout, { k, weightBits: wb, inputBits: ab, gain: 0.5 });
    }
    return this.conv(x, cout, { k, weightBits: wb, inputBits: ab, groups: kind === 'grouped' ? 2 : 1, gain: 0.5 });
  }

  /** Pixels per LR pixel of a tensor like `like` (ESA's upsampling back to its input's size). */
  sameArea(name: string, like: string): void {
    this.area.set(name, this.area.get(like)!);
  }

  artifact(scale: number): ModelArtifact {
    const blob = this.blob.bytes();
    const header: ModelArtifactHeader = {
      schemaVersion: 1,
      scale,
      input: 'lr',
      output: this.layers[this.layers.length - 1]!.output,
      tensors: this.tensors,
      layers: this.layers,
      blob: { byteLength: blob.length, crc32: crc32(blob) },
      metadata: { space: 'rfdn (synthetic)', cost: { macsPerLrPixel: Math.round(this.macs), bitOpsPerLrPixel: Math.round(this.bitOps) } },
    };
    return { header, blob };
  }
}

export function syntheticRfdn(options: SyntheticRfdnOptions = {}): ModelArtifact {
  const C = options.channels ?? 48;
  if (C % 12 !== 0) throw new RangeError('syntheticRfdn: channels must be a multiple of 12');
  const cells = options.cells ?? 4;
  const scale = options.scale ?? 4;
  const esa = options.esa ?? true;
  const adq = options.adq ?? true;
  const b = new SyntheticBuilder(options.seed ?? 1, C, options.bits);
  const repeated = b.layer({ id: 'repeat', op: 'repeat_channels', inputs: ['lr'], output: b.float('rep', C, 'lr'), times: C / 3 });
  let x = repeated;
  const cellOutputs: string[] = [];
  for (let cell = 0; cell < cells; cell++) {
    const cellInput = x;
    let h = cellInput;
    if (adq) {
      h = b.layer({
        id: b.fresh('bn'),
        op: 'affine',
        inputs: [h],
        output: b.float('bn', C, h),
        scale: b.floats(Array.from({ length: C }, () => 0.8 + 0.4 * b.random())),
        shift: b.floats(Array.from({ length: C }, () => (b.random() - 0.5) * 0.2)),
      });
    }
    const distilled: string[] = [];
    for (let i = 0; i < 3; i++) {
      distilled.push(b.searchable(h, C / 2));
      h = b.binary('add', h, b.searchable(h, C));
    }
    distilled.push(b.searchable(h, C / 2));
    const joined = b.layer({ id: b.fresh('concat'), op: 'concat', inputs: distilled, output: b.float('cat', 2 * C, h) });
    let z = b.conv(joined, C, { k: 1 });
    if (esa) {
      const f = C / 4;
      const c1 = b.conv(z, f, { k: 1 });
      const down = b.conv(c1, f, { k: 3, stride: 2, padding: 'valid' });
      const pooled = b.layer({ id: b.fresh('pool'), op: 'max_pool', inputs: [down], output: b.float('pool', f, down, 1 / 9), kernel: 7, stride: 3 });
      const c3 = b.conv(b.conv(pooled, f, { k: 3, outputBits: 8 }), f, { k: 3 });
      const up = b.layer({ id: b.fresh('resize'), op: 'bilinear_resize', inputs: [c3], output: b.float('up', f, c1, 1), sizeOf: c1 });
      b.sameArea(up, c1);
      const mask = b.conv(b.binary('add', up, b.conv(c1, f, { k: 1 })), C, { k: 1 });
      const gate = b.layer({ id: b.fresh('sigmoid'), op: 'sigmoid', inputs: [mask], output: b.float('sig', C, mask) });
      z = b.binary('mul', z, gate);
    }
    if (adq) {
      z = b.layer({
        id: b.fresh('adq'),
        op: 'adq_scale',
        inputs: [z],
        output: b.float('adq', C, z),
        statisticsOf: cellInput,
        slope: 1.5,
        offset: 0,
        deviation: options.deviation ?? 'population',
      });
    }
    x = b.binary('add', z, cellInput);
    cellOutputs.push(x);
  }
  const all = b.layer({ id: 'concat_cells', op: 'concat', inputs: cellOutputs, output: b.float('cells', C * cells, x) });
  let y = b.conv(all, C, { k: 1 });
  y = b.conv(y, C, { k: 3, gain: 0.5 });
  y = b.binary('add', y, repeated);
  let upsampled = b.conv(y, 3 * scale * scale, { k: 3, weightBits: b.searchBits() as 8 | 4, inputBits: b.searchBits(), gain: 0.15 });
  if (options.anchor) upsampled = b.binary('add', upsampled, b.conv('lr', 3 * scale * scale, { k: 5, groups: 3, gain: 0.3 }));
  const hr = b.layer({ id: 'shuffle', op: 'pixel_shuffle', inputs: [upsampled], output: b.float('hr', 3, upsampled, scale * scale), factor: scale });
  const tail = b.conv(hr, 3, { k: 3, weightBits: b.searchBits() as 8 | 4, inputBits: b.searchBits(), gain: 0.3 });
  const sum = b.binary('add', hr, tail);
  b.layer({ id: 'clamp', op: 'clamp', inputs: [sum], output: b.float('sr', 3, sum), min: 0, max: 1 });

  return b.artifact(scale);
}
