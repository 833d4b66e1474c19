import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend, tf } from '@quantnas/core-ops';
import { crop, openSet, resolveDataRoot, type ImageU8 } from '@quantnas/data';
import { createSession, decodeArtifact, runReference, validateArtifact, type RgbImage } from '@quantnas/runtime';
import { createDiscreteNetwork, getSpace, type DiscreteNetwork, type Genotype } from '@quantnas/search-spaces';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildArtifact, exportModel, ExportError } from './index.js';
import { tinyBasicGenotype } from '../test-helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
});

// Tests run the runtime from its sources; its compiled kernels live in its dist folder.
const runtimeDist = join(dirname(createRequire(import.meta.url).resolve('@quantnas/runtime/package.json')), 'dist');
const kernels = {
  source: pathToFileURL(join(runtimeDist, 'kernels.wasm')),
  relaxedSource: pathToFileURL(join(runtimeDist, 'kernels-relaxed.wasm')),
};

const rfdnGenotype: Genotype = {
  schemaVersion: 1,
  space: 'rfdn',
  scale: 4,
  channels: 12,
  blocks: {
    'cell0.skip0': { op: 'growth1_3x3', bits: 4 },
    'cell0.body0': { op: 'simple_3x3_grouped_2', bits: 8 },
    'cell0.skip1': { op: 'simple_1x1', bits: 8 },
    'cell0.body1': { op: 'simple_5x5', bits: 4 },
    'cell0.skip2': { op: 'simple_3x3_grouped_2', bits: 4 },
    'cell0.body2': { op: 'growth1_1x1', bits: 8 },
    'cell0.body3': { op: 'simple_3x3', bits: 4 },
    'cell1.skip0': { op: 'simple_1x1_grouped_2', bits: 8 },
    'cell1.body0': { op: 'growth1_5x5', bits: 4 },
    'cell1.skip1': { op: 'simple_3x3', bits: 8 },
    'cell1.body1': { op: 'simple_1x1', bits: 4 },
    'cell1.skip2': { op: 'simple_5x5_grouped_2', bits: 8 },
    'cell1.body2': { op: 'simple_3x3', bits: 8 },
    'cell1.body3': { op: 'growth1_3x3', bits: 8 },
    upsample: { op: 'simple_3x3', bits: 8 },
    tail: { op: 'growth1_3x3', bits: 4 },
  },
};

const basicGenotype: Genotype = { ...tinyBasicGenotype, scale: 2, channels: 12 };

/** A crop of a Set5 image at the given scale: LR and the matching HR. */
async function set5Crop(scale: number, size: number): Promise<{ lr: ImageU8; hr: ImageU8 }> {
  const set = await openSet(resolveDataRoot(), 'Set5', { scale });
  const pair = await set.load(set.pairs.find((p) => p.name === 'baby')!);
  const [x, y] = [60, 40];
  return { lr: crop(pair.lr, x, y, size, size), hr: crop(pair.hr, x * scale, y * scale, size * scale, size * scale) };
}

const toTensor = (img: ImageU8) =>
  tf.tensor4d(
    Float32Array.from(img.data, (u) => u / 255),
    [1, img.height, img.width, 3],
  );

/** A few Adam steps on L1, so that weights, LSQ steps, BN statistics and ADQ scalars all move. */
async function train(net: DiscreteNetwork, lr: ImageU8, hr: ImageU8, steps: number): Promise<void> {
  const x = toTensor(lr);
  const y = toTensor(hr);
  const optimizer = tf.train.adam(1e-3);
  const vars = [...net.variables().values()].filter((v) => v.trainable);
  // The first forward initialises the LSQ steps, which must exist before gradients are taken.
  tf.dispose(net.apply(x, { training: true }));
  for (let i = 0; i < steps; i++) {
    const loss = optimizer.minimize(() => tf.mean(tf.abs(tf.sub(net.apply(x, { training: true }), y))) as tf.Scalar, true, vars);
    loss?.dispose();
  }
  optimizer.dispose();
  tf.dispose([x, y]);
}

/** The runtime's output rule: clamp(roundHalfEven(f32(x · 255)), 0, 255). */
function toBytes(values: Float32Array): Uint8Array {
  return Uint8Array.from(values, (v) => {
    const s = Math.fround(v * 255);
    if (!(s > 0)) return 0;
    if (s >= 255) return 255;
    const f = Math.floor(s);
    const d = s - f;
    return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  });
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let sse = 0;
  for (let i = 0; i < a.length; i++) sse += (a[i]! - b[i]!) ** 2;
  return sse === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / sse);
}

interface Agreement {
  psnr: number;
  exact: number;
  total: number;
  maxDiff: number;
  engineEqualsReference: boolean;
  /** Distinct byte values and the share of clipped ones: the image must not be trivially flat. */
  distinct: number;
  clipped: number;
}

/** The fake-quant evaluation forward against the reference engine and the WASM engine. */
async function compare(net: DiscreteNetwork, model: Uint8Array, lr: ImageU8): Promise<Agreement> {
  const x = toTensor(lr);
  const y = net.apply(x, { training: false });
  const float = toBytes((await y.data()) as Float32Array);
  tf.dispose([x, y]);
  const image: RgbImage = { width: lr.width, height: lr.height, channels: 3, data: lr.data };
  const reference = runReference(validateArtifact(decodeArtifact(model)), image).data;
  const session = await createSession(model, { tile: 24, kernels });
  const engine = (await session.upscale(image)).data;
  await session.dispose();
  let exact = 0;
  let maxDiff = 0;
  for (let i = 0; i < float.length; i++) {
    const d = Math.abs(float[i]! - reference[i]!);
    if (d === 0) exact++;
    maxDiff = Math.max(maxDiff, d);
  }
  const engineEqualsReference = engine.length === reference.length && engine.every((v, i) => v === reference[i]);
  const distinct = new Set(reference).size;
  const clipped = reference.filter((v) => v === 0 || v === 255).length / reference.length;
  return { psnr: psnr(float, reference), exact, total: float.length, maxDiff, engineEqualsReference, distinct, clipped };
}

describe('exportModel', () => {
  it('exports a trained mixed 4/8-bit rfdn with ADQ that the runtime reproduces', async () => {
    const spec = getSpace('rfdn');
    const net = createDiscreteNetwork(spec, rfdnGenotype, { mode: 'qat', adq: true, seed: 3, cells: 2 });
    const { lr, hr } = await set5Crop(4, 48);
    await train(net, lr, hr, 2);
    const vars = net.variables();
    const runningMean = await vars.get('cell1.unit.bn.runningMean')!.data();
    const runningVar = await vars.get('cell1.unit.bn.runningVar')!.data();
    expect(runningMean.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(runningVar.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);

    const model = await exportModel(net, { spec, genotype: rfdnGenotype, metadata: { run: 'test' } });
    const { header } = decodeArtifact(model);
    const ops = new Set(header.layers.map((l) => l.op));
    for (const op of [
      'conv',
      'affine',
      'adq_scale',
      'max_pool',
      'bilinear_resize',
      'sigmoid',
      'mul',
      'concat',
      'repeat_channels',
      'pixel_shuffle',
      'clamp',
      'quantize',
    ]) {
      expect(ops, op).toContain(op);
    }
    const convs = header.layers.filter((l) => l.op === 'conv');
    expect(convs.length).toBe(net.convs.length);
    expect(convs.some((l) => l.op === 'conv' && l.weightBits === 4)).toBe(true);
    // Some conv outputs are requantized in place (fused), so not every conv needs a quantize layer.
    expect(convs.some((l) => header.tensors[l.output]!.dtype === 'uint8')).toBe(true);
    expect(header.metadata).toMatchObject({ space: 'rfdn', scale: 4, run: 'test', genotype: rfdnGenotype });
    const report = net.costReport();
    expect(header.metadata!.cost!.bitOpsPerLrPixel).toBeCloseTo(report.total.bitops / 1024, 6);

    // ADQ: σ with ADQ's default n − 1 and the learned scalars, one unit per cell.
    const adqLayers = header.layers.filter((l) => l.op === 'adq_scale');
    expect(adqLayers.length).toBe(2);
    const slope = (await vars.get('cell1.unit.phi.slope')!.data())[0]!;
    expect(slope).not.toBe(1.5);
    expect(adqLayers[1]).toMatchObject({ deviation: 'sample', slope, offset: (await vars.get('cell1.unit.phi.offset')!.data())[0]! });

    // Measured: 1 cell byte-exact; 2 cells 99.7 % of the bytes exact, 61 dB (float32 rounding of
    // σ and of the float convolutions flips a few activation codes).
    const agreement = await compare(net, model, lr);
    console.log('rfdn agreement', agreement);
    expect(agreement.engineEqualsReference).toBe(true);
    expect(agreement.psnr).toBeGreaterThanOrEqual(55);
    expect(agreement.exact / agreement.total).toBeGreaterThan(0.99);
    expect(agreement.distinct).toBeGreaterThan(64);
    expect(agreement.clipped).toBeLessThan(0.5);
    net.dispose();
  });

  it('exports basic without ADQ, faithfully', async () => {
    const spec = getSpace('basic');
    const net = createDiscreteNetwork(spec, basicGenotype, { mode: 'qat', adq: false, seed: 5, cells: 2 });
    const { lr, hr } = await set5Crop(2, 32);
    await train(net, lr, hr, 1);
    const model = await exportModel(net, { spec, genotype: basicGenotype });
    const { header } = decodeArtifact(model);
    expect(header.layers.some((l) => l.op === 'affine' || l.op === 'adq_scale')).toBe(false);
    const agreement = await compare(net, model, lr);
    console.log('basic agreement', agreement);
    expect(agreement.engineEqualsReference).toBe(true);
    expect(agreement.psnr).toBeGreaterThanOrEqual(50);
    expect(agreement.distinct).toBeGreaterThan(64);
    // A barely trained net saturates more; still most of the image must carry values.
    expect(agreement.clipped).toBeLessThan(0.75);
    net.dispose();
  });

  it('refuses a network whose quantizer steps are not initialised', async () => {
    const spec = getSpace('basic');
    const net = createDiscreteNetwork(spec, basicGenotype, { mode: 'qat', adq: false, seed: 5, cells: 1 });
    const error = await exportModel(net, { spec, genotype: basicGenotype }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExportError);
    expect((error as Error).message).toMatch(/^conv 'head0\.simple_3x3_grouped_3\.conv0': weight steps are not initialised \(run a forward first\)$/);
    net.dispose();
  });

  it('refuses full-precision networks, naming the conv', async () => {
    const spec = getSpace('basic');
    const net = createDiscreteNetwork(spec, basicGenotype, { mode: 'fp', adq: false, seed: 5, cells: 1 });
    await expect(exportModel(net, { spec, genotype: basicGenotype })).rejects.toThrow(
      /^conv 'head0\.simple_3x3_grouped_3\.conv0' is full precision \(32 bits\)/,
    );
    net.dispose();
  });

  it('refuses unsupported ops and a mismatched spec or genotype', async () => {
    const spec = getSpace('basic');
    const withZero = structuredClone(spec) as { candidates: Record<string, string[]> } & typeof spec;
    withZero.candidates.skip = [...withZero.candidates.skip!, 'zero'];
    const zeroGenotype: Genotype = { ...basicGenotype, blocks: { ...basicGenotype.blocks, skip: { op: 'zero', bits: 8 } } };
    const net = createDiscreteNetwork(withZero, zeroGenotype, { mode: 'qat', adq: false, seed: 5, cells: 1 });
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    tf.dispose(net.apply(x, { training: false }));
    await expect(buildArtifact(net, { spec: withZero, genotype: zeroGenotype })).rejects.toThrow(
      "block 'cell0.skip': op 'zero' has no runtime layer (unsupported by the export)",
    );
    await expect(buildArtifact(net, { spec: getSpace('rfdn'), genotype: zeroGenotype })).rejects.toThrow(
      "the network was built from space 'basic', not 'rfdn'",
    );
    await expect(buildArtifact(net, { spec: withZero, genotype: basicGenotype })).rejects.toThrow(/does not match the network's/);
    x.dispose();
    net.dispose();
  });
});
