import { tf, type Conv } from '@quantnas/core-ops';
import { BlobWriter, encodeArtifact, packInt4, type ArtifactLayer, type ModelArtifactHeader, type TensorInfo } from '@quantnas/runtime';
import {
  DEFAULT_ADQ_OPTIONS,
  type DiscreteNetwork,
  type Genotype,
  type GraphPlan,
  type NetworkConv,
  type SearchSpaceSpec,
  type Step,
} from '@quantnas/search-spaces';

/**
 * Export of a QAT-trained discrete network (docs/method.md §4.1, §5, §8) to the runtime's `.qnas`
 * integer model. The graph is rebuilt from the network's resolved plan, step by step, with the
 * same arithmetic the fake-quant evaluation forward performs:
 *
 * - every conv becomes an integer conv: LSQ weights as int8 (int4, packed, for ≤ 4-bit weights),
 *   the per-channel steps as scales, the bias if any; its input is the uint8 code tensor of its
 *   HWGQ quantizer. A conv whose output feeds only convs with one activation quantizer writes
 *   those codes directly (ReLU + requantization fused); otherwise it writes float32 and an
 *   explicit `quantize` layer (shared by the consumers with the same step) makes the codes;
 * - adds, concats, pixel shuffle, channel repeat, ESA's pooling, bilinear resize, sigmoid and
 *   product stay float32 layers;
 * - an ADQ unit becomes `affine` (its batch norm with the running statistics folded in, computed
 *   with the evaluation forward's own tensor ops so the float32 values are identical), the body,
 *   `adq_scale` (σ of the unit's input over the whole image, the learned slope and offset) and
 *   the residual add;
 * - the output is clamped to [0, 1] (the runtime rounds it to bytes).
 */

/** The ADQ settings the network was built with; only what the integer graph needs. */
export interface ExportAdqOptions {
  /** Batch-norm variance epsilon (ADQ's default 1e-5). */
  readonly bnEpsilon?: number;
  /** 1: σ divides by n − 1 (ADQ's default); 0: by n. */
  readonly sigmaCorrection?: 0 | 1;
}

export interface ExportOptions {
  /** The search space the network was built from; checked against the network's plan. */
  readonly spec: SearchSpaceSpec;
  /** The genotype the network was built from; checked against the network's. */
  readonly genotype: Genotype;
  /** Extra provenance (training run, dataset, PSNR); merged into the header's metadata. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Must equal the `adqOptions` given to `createDiscreteNetwork`, if any were. */
  readonly adqOptions?: ExportAdqOptions;
}

/** A network that cannot be exported as it is (not trained yet, full precision, unsupported op). */
export class ExportError extends Error {
  override readonly name = 'ExportError';
}

export const EXPORT_PRODUCER = '@quantnas/search exportModel';

/** The parts of quant's QatConvQuantizer the export reads (core-ops only knows ConvQuantizer). */
interface IntegerExportable {
  exportInteger(w: tf.Tensor4D): Promise<{
    readonly weights: { readonly bits: number; readonly shape: readonly number[]; readonly values: Int8Array; readonly scales: Float32Array } | null;
    readonly activation: { readonly bits: number; readonly step: number } | null;
  }>;
}

const isExportable = (q: unknown): q is IntegerExportable =>
  typeof q === 'object' && q !== null && typeof (q as { exportInteger?: unknown }).exportInteger === 'function';

/** A conv with its integer form, before deciding how its input codes are produced. */
interface PendingConv {
  readonly op: 'conv';
  readonly id: string;
  /** The float tensor the conv's quantizer reads. */
  readonly input: string;
  readonly output: string;
  readonly conv: Conv;
  readonly weightBits: 8 | 4;
  readonly weights: Uint8Array;
  readonly scales: Float32Array;
  readonly bias: Float32Array | null;
  readonly activation: { readonly bits: number; readonly step: number };
}

/** Non-conv layers, with per-channel parameters still as arrays. */
type PendingOther =
  | (Exclude<ArtifactLayer, { op: 'conv' | 'affine' }> & { readonly op: Exclude<ArtifactLayer['op'], 'conv' | 'affine'> })
  | {
      readonly op: 'affine';
      readonly id: string;
      readonly inputs: readonly string[];
      readonly output: string;
      readonly scale: Float32Array;
      readonly shift: Float32Array;
    };

type Pending = PendingConv | PendingOther;

/**
 * Exports a QAT discrete network as a `.qnas` file. Run at least one forward (training or not)
 * before, so that the LSQ steps are initialised; ideally after training.
 */
export async function exportModel(network: DiscreteNetwork, options: ExportOptions): Promise<Uint8Array> {
  const { header, blob } = await buildArtifact(network, options);
  return encodeArtifact(header, blob);
}

/** Walks a network's plan and collects the runtime layers it becomes, with every tensor's channel count. */
class ExportGraph {
  readonly channels = new Map<string, number>();
  readonly pending: Pending[] = [];
  private readonly taken = new Set<string>();
  private readonly convsByName: Map<string, NetworkConv>;
  private readonly variables: ReadonlyMap<string, tf.Variable>;

  constructor(
    private readonly network: DiscreteNetwork,
    private readonly adq: { readonly epsilon: number; readonly correction: number },
  ) {
    this.convsByName = new Map(network.convs.map((c) => [c.conv.name, c]));
    this.variables = network.variables();
  }

  private fresh(base: string): string {
    let name = base;
    for (let i = 2; this.taken.has(name); i++) name = `${base}#${i}`;
    this.taken.add(name);
    return name;
  }

  float(base: string, c: number): string {
    const name = this.fresh(base);
    this.channels.set(name, c);
    return name;
  }

  simple(op: PendingOther['op'], base: string, inputs: string[], c: number, extra: object = {}): string {
    const output = this.float(base, c);
    this.pending.push({ op, id: output, inputs, output, ...extra } as PendingOther);
    return output;
  }

  private async emitConv(nc: NetworkConv, input: string): Promise<string> {
    const conv = nc.conv;
    const where = `conv '${conv.name}'`;
    if (nc.bits === 32 || !isExportable(conv.quantizer)) {
      throw new ExportError(`${where} is full precision (${nc.bits} bits); the integer runtime has no float conv, so export needs a QAT this.network`);
    }
    let exported;
    try {
      exported = await conv.quantizer.exportInteger(conv.weight);
    } catch (error) {
      throw new ExportError(`${where}: ${error instanceof Error ? error.message.replace(`${conv.name}: `, '') : String(error)}`);
    }
    const { weights, activation } = exported;
    if (!weights || !activation)
      throw new ExportError(`${where} has full-precision ${weights ? 'activations' : 'weights'}; the integer runtime needs both quantized`);
    if (weights.bits > 8) throw new ExportError(`${where} has ${weights.bits}-bit weights; the runtime stores at most 8`);
    if (activation.bits > 8) throw new ExportError(`${where} has ${activation.bits}-bit activations; the runtime's codes are uint8`);
    if (!(activation.step > 0)) throw new ExportError(`${where}: the activation step is not initialised (run a forward first)`);
    const [kh, kw, cinPerGroup, cout] = weights.shape as [number, number, number, number];
    // tfjs keeps [kh, kw, in/groups, out]; the runtime reads [out, kh, kw, in/groups].
    const ohwi = new Int8Array(weights.values.length);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cinPerGroup; i++) {
          const src = ((y * kw + x) * cinPerGroup + i) * cout;
          for (let o = 0; o < cout; o++) ohwi[((o * kh + y) * kw + x) * cinPerGroup + i] = weights.values[src + o]!;
        }
      }
    }
    const weightBits: 8 | 4 = weights.bits <= 4 ? 4 : 8;
    const bytes = weightBits === 4 ? packInt4(ohwi) : new Uint8Array(ohwi.buffer);
    const bias = conv.bias ? Float32Array.from(await conv.bias.data()) : null;
    const output = this.float(conv.name, cout);
    this.pending.push({
      op: 'conv',
      id: output,
      input,
      output,
      conv,
      weightBits,
      weights: bytes,
      scales: Float32Array.from(weights.scales),
      bias,
      // The fake-quant forward divides by the float32 step; the runtime by the header's number.
      activation: { bits: activation.bits, step: Math.fround(activation.step) },
    });
    return output;
  }

  private convNamed(name: string): NetworkConv {
    const nc = this.convsByName.get(name);
    if (!nc) throw new ExportError(`conv '${name}' of the plan is not among the this.network's convs`);
    return nc;
  }

  private async scalar(name: string): Promise<number> {
    const v = this.variables.get(name);
    if (!v) throw new ExportError(`variable '${name}' is missing from the this.network`);
    return (await v.data())[0]!;
  }

  private async emitEsa(name: string, x: string): Promise<string> {
    const c = this.channels.get(x)!;
    const c1 = await this.emitConv(this.convNamed(`${name}.conv1`), x);
    const down = await this.emitConv(this.convNamed(`${name}.conv2`), c1);
    const pooled = this.simple('max_pool', `${name}.pool`, [down], this.channels.get(down)!, { kernel: 7, stride: 3 });
    let low = await this.emitConv(this.convNamed(`${name}.conv_max`), pooled);
    low = await this.emitConv(this.convNamed(`${name}.conv3`), low);
    low = await this.emitConv(this.convNamed(`${name}.conv3_`), low);
    // Back to the ESA input's size, as the float forward resizes to x's height and width.
    const up = this.simple('bilinear_resize', `${name}.up`, [low], this.channels.get(low)!, { sizeOf: x });
    const branch = await this.emitConv(this.convNamed(`${name}.conv_f`), c1);
    const sum = this.simple('add', `${name}.sum`, [up, branch], this.channels.get(up)!);
    const mask = await this.emitConv(this.convNamed(`${name}.conv4`), sum);
    const gate = this.simple('sigmoid', `${name}.gate`, [mask], c);
    return this.simple('mul', name, [x, gate], c);
  }

  private async emitResidual(step: Extract<Step, { kind: 'residual' }>, x: string): Promise<string> {
    const c = this.channels.get(x)!;
    const bnName = `${step.name}.bn`;
    const gamma = this.variables.get(`${bnName}.gamma`);
    if (!gamma) {
      // ADQ off for this unit: F(x) + x.
      const r = await this.emitGraph(step.body, x);
      return this.simple('add', step.name, [r, x], c);
    }
    const [beta, mean, variance] = ['beta', 'runningMean', 'runningVar'].map((k) => {
      const v = this.variables.get(`${bnName}.${k}`);
      if (!v) throw new ExportError(`ADQ unit '${step.name}': variable '${bnName}.${k}' is missing`);
      return v;
    }) as [tf.Variable, tf.Variable, tf.Variable];
    // The same ops as the batch norm's evaluation forward, so scale and shift are its float32 values.
    const [scale, shift] = tf.tidy(() => {
      const s = tf.mul(gamma, tf.rsqrt(tf.add(variance, this.adq.epsilon)));
      return [s, tf.sub(beta, tf.mul(mean, s))];
    });
    const folded = { scale: Float32Array.from(await scale.data()), shift: Float32Array.from(await shift.data()) };
    tf.dispose([scale, shift]);
    const normalised = this.simple('affine', bnName, [x], c, folded);
    const r = await this.emitGraph(step.body, normalised);
    const slope = await this.scalar(`${step.name}.phi.slope`);
    const offset = await this.scalar(`${step.name}.phi.offset`);
    const scaled = this.simple('adq_scale', `${step.name}.phi`, [r], c, {
      statisticsOf: x,
      slope,
      offset,
      deviation: this.adq.correction === 1 ? 'sample' : 'population',
    });
    return this.simple('add', step.name, [scaled, x], c);
  }

  async emitGraph(graph: GraphPlan, input: string): Promise<string> {
    const env = new Map<string, string>([['input', input]]);
    const get = (id: string) => env.get(id)!;
    for (const step of graph.steps) {
      let out: string;
      switch (step.kind) {
        case 'mixed': {
          const choice = this.network.genotype.blocks[step.group]!;
          if (choice.op === 'zero') throw new ExportError(`block '${step.name}': op 'zero' has no runtime layer (unsupported by the export)`);
          const prefix = `${step.name}.${choice.op}.conv`;
          const convs = this.network.convs.filter((c) => c.conv.name.startsWith(prefix) && /^\d+$/.test(c.conv.name.slice(prefix.length)));
          if (convs.length === 0 && choice.op !== 'skip_connect')
            throw new ExportError(`block '${step.name}': op '${choice.op}' has no convs in the this.network`);
          out = get(step.input);
          // Simple, growth and factorized ops are chains of their convs; skip_connect is the identity.
          for (const nc of convs) out = await this.emitConv(nc, out);
          break;
        }
        case 'conv':
          out = await this.emitConv(this.convNamed(step.name), get(step.input));
          break;
        case 'esa':
          out = await this.emitEsa(step.name, get(step.input));
          break;
        case 'add': {
          // tf.addN over two inputs is one float32 add; longer lists are summed left to right.
          const [first, ...rest] = step.inputs.map(get);
          out = first!;
          for (const t of rest) out = this.simple('add', step.name, [out, t], step.outChannels);
          break;
        }
        case 'concat':
          out = this.simple('concat', step.name, step.inputs.map(get), step.outChannels);
          break;
        case 'pixel_shuffle':
          out = this.simple('pixel_shuffle', step.name, [get(step.input)], step.outChannels, { factor: step.scale });
          break;
        case 'repeat_channels':
          out = this.simple('repeat_channels', step.name, [get(step.input)], step.outChannels, { times: step.times });
          break;
        case 'residual':
          out = await this.emitResidual(step, get(step.input));
          break;
        case 'repeat': {
          let x = get(step.input);
          const outs: string[] = [];
          for (const it of step.iterations) outs.push((x = await this.emitGraph(it, x)));
          out = step.emit === 'concat' ? this.simple('concat', step.name, outs, step.outChannels) : x;
          break;
        }
        default: {
          const unknown = step as { kind: string; name: string };
          throw new ExportError(`step '${unknown.name}': kind '${unknown.kind}' is not supported by the export`);
        }
      }
      env.set(step.id, out);
    }
    return get(graph.output);
  }
}

/** The header and blob `exportModel` encodes (for callers that inspect or validate them). */
export async function buildArtifact(
  network: DiscreteNetwork,
  options: ExportOptions,
): Promise<{ header: Omit<ModelArtifactHeader, 'blob'>; blob: Uint8Array }> {
  const { plan } = network;
  checkProvenance(network, options);
  const adq = {
    epsilon: options.adqOptions?.bnEpsilon ?? DEFAULT_ADQ_OPTIONS.bnEpsilon,
    correction: options.adqOptions?.sigmaCorrection ?? DEFAULT_ADQ_OPTIONS.sigmaCorrection,
  };
  if (plan.imageChannels !== 3) throw new ExportError(`the runtime takes RGB images; space '${plan.id}' has ${plan.imageChannels} image channels`);
  const graph = new ExportGraph(network, adq);
  const INPUT = graph.float('lr', plan.imageChannels);
  const sr = await graph.emitGraph(plan.root, INPUT);
  if (graph.channels.get(sr) !== 3) throw new ExportError(`the network's output has ${graph.channels.get(sr)} channels, the runtime writes RGB`);
  const output = graph.simple('clamp', 'output', [sr], 3, { min: 0, max: 1 });

  return lower(graph.pending, graph.channels, INPUT, output, network, options);
}

/**
 * Decides every tensor's dtype and writes the runtime layers: a conv output read only by convs
 * that quantize it the same way becomes their uint8 input; any other float tensor read by convs
 * gets one `quantize` layer per (step, bits).
 */
function lower(
  pending: Pending[],
  channels: ReadonlyMap<string, number>,
  input: string,
  output: string,
  network: DiscreteNetwork,
  options: ExportOptions,
): { header: Omit<ModelArtifactHeader, 'blob'>; blob: Uint8Array } {
  const key = (a: { bits: number; step: number }) => `${a.bits}@${a.step}`;
  const fusedStep = fusedActivations(pending, output);

  const tensors: Record<string, TensorInfo> = { [input]: { dtype: 'float32', channels: 3 } };
  const layers: ArtifactLayer[] = [];
  const blobWriter = new BlobWriter();
  const put = (bytes: Uint8Array) => blobWriter.put(bytes);
  const floats = (values: Float32Array) => blobWriter.floats(values);
  const quantized = new Map<string, string>();
  const codesOf = (t: string, a: { bits: number; step: number }): string => {
    if (fusedStep.has(t)) return t;
    const k = `${t}:${key(a)}`;
    let name = quantized.get(k);
    if (!name) {
      name = `${t}:q${a.bits}`;
      for (let i = 2; name in tensors; i++) name = `${t}:q${a.bits}#${i}`;
      tensors[name] = { dtype: 'uint8', channels: channels.get(t)!, step: a.step, bits: a.bits };
      layers.push({ id: name, op: 'quantize', inputs: [t], output: name });
      quantized.set(k, name);
    }
    return name;
  };

  for (const p of pending) {
    const fused = fusedStep.get(p.output);
    tensors[p.output] = fused
      ? { dtype: 'uint8', channels: channels.get(p.output)!, step: fused.step, bits: fused.bits }
      : { dtype: 'float32', channels: channels.get(p.output)! };
    if (p.op === 'conv') {
      const { conv } = p;
      layers.push({
        id: p.id,
        op: 'conv',
        inputs: [codesOf(p.input, p.activation)],
        output: p.output,
        kernel: [conv.shape.kernelH, conv.shape.kernelW],
        stride: conv.stride,
        padding: conv.padding,
        groups: conv.shape.groups,
        weightBits: p.weightBits,
        weights: put(p.weights),
        weightScales: floats(p.scales),
        ...(p.bias ? { bias: floats(p.bias) } : {}),
      });
    } else if (p.op === 'affine') {
      layers.push({ id: p.id, op: 'affine', inputs: p.inputs, output: p.output, scale: floats(p.scale), shift: floats(p.shift) });
    } else {
      layers.push(p as ArtifactLayer);
    }
  }

  const blob = blobWriter.bytes();
  const { plan, genotype } = network;
  const report = network.costReport();
  const lrPixels = report.input.height * report.input.width;
  // The runtime reads the per-LR-pixel figures; the rest is for people comparing models.
  const cost = {
    macsPerLrPixel: report.total.macs / lrPixels,
    bitOpsPerLrPixel: report.total.bitops / lrPixels,
    costInput: report.input,
    macs: report.total.macs,
    bitOps: report.total.bitops,
    params: report.total.params,
    macsPerOutputMegapixel: report.perOutputMegapixel.macs,
    bitOpsPerOutputMegapixel: report.perOutputMegapixel.bitops,
  };
  const header: Omit<ModelArtifactHeader, 'blob'> = {
    schemaVersion: 1,
    scale: plan.scale,
    input,
    output,
    tensors,
    layers,
    metadata: {
      producer: EXPORT_PRODUCER,
      space: plan.id,
      scale: plan.scale,
      channels: plan.channels,
      cells: plan.cells,
      genotype,
      cost,
      ...options.metadata,
    },
  };
  return { header, blob };
}

/**
 * Conv outputs read only by convs that all quantize them with the same step: the producing conv
 * writes those codes directly (tensor name → the readers' activation quantizer).
 */
function fusedActivations(pending: readonly Pending[], output: string): Map<string, { bits: number; step: number }> {
  const key = (a: { bits: number; step: number }) => `${a.bits}@${a.step}`;
  /** Per tensor: the quantizer keys of the convs reading it, and whether anything else reads it. */
  const uses = new Map<string, { convKeys: Set<string>; other: boolean }>();
  const use = (t: string) => {
    let u = uses.get(t);
    if (!u) uses.set(t, (u = { convKeys: new Set(), other: false }));
    return u;
  };
  for (const p of pending) {
    if (p.op === 'conv') use(p.input).convKeys.add(key(p.activation));
    else {
      for (const t of p.inputs) use(t).other = true;
      if (p.op === 'adq_scale') use(p.statisticsOf).other = true;
    }
  }

  use(output).other = true;

  const fusedStep = new Map<string, { bits: number; step: number }>();
  const producers = new Map<string, Pending>(pending.map((p) => [p.output, p]));
  for (const [t, u] of uses) {
    if (producers.get(t)?.op === 'conv' && !u.other && u.convKeys.size === 1) {
      // Every reader quantizes with the same step: the producing conv writes those codes.
      const reader = pending.find((p): p is PendingConv => p.op === 'conv' && p.input === t)!;
      fusedStep.set(t, reader.activation);
    }
  }

  return fusedStep;
}

function checkProvenance(network: DiscreteNetwork, options: ExportOptions): void {
  const { plan, genotype } = network;
  if (options.spec.id !== plan.id) throw new ExportError(`the network was built from space '${plan.id}', not '${options.spec.id}'`);
  const blocks = (g: Genotype) => JSON.stringify(Object.entries(g.blocks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  if (options.genotype.space !== genotype.space || blocks(options.genotype) !== blocks(genotype)) {
    throw new ExportError(`the genotype given does not match the network's (space '${genotype.space}')`);
  }
}
