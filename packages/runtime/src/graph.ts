import { ARTIFACT_SCHEMA_VERSION, type ArtifactLayer, type TensorInfo } from './artifact-header.js';
import { ArtifactError, type ModelArtifact } from './container.js';
import type { GraphLayer, GraphTensor, ModelGraph } from './graph-types.js';
import { isFiniteNumber, isInt, isObject, layerSpec, MAX_CHANNELS, type Size } from './layer-ops.js';

export type { ConvArithmetic, GraphLayer, GraphTensor, GridKey, ModelGraph } from './graph-types.js';
export { adqFactor, adqPhi, bilinearTaps, convParams, f32, outputByte, quantizeCode } from './layer-math.js';

/**
 * A model header checked against its blob and resolved into what the engines run: weights decoded,
 * per-channel conv arithmetic computed once, every tensor's grid known. Both engines (the scalar
 * reference and the WASM one) execute a ModelGraph, so they share this lowering and nothing else.
 */

const MAX_LAYERS = 100_000;

/** Checks a decoded artifact completely; every problem is an ArtifactError naming the layer. */
export function validateArtifact(artifact: ModelArtifact, source = 'model'): ModelGraph {
  const fail = (problem: string): never => {
    throw new ArtifactError(`${source}: ${problem}`);
  };
  const { header, blob } = artifact;
  if (!isObject(header)) fail('header is not a JSON object');
  if (header.schemaVersion !== ARTIFACT_SCHEMA_VERSION) fail(`schemaVersion ${JSON.stringify(header.schemaVersion)} is not supported`);
  if (!(blob instanceof Uint8Array)) fail('blob is not a Uint8Array');
  if (isObject(header.blob) && header.blob.byteLength !== blob.byteLength) {
    fail(`header says ${String(header.blob.byteLength)} weight bytes, blob has ${blob.byteLength}`);
  }
  if (!isInt(header.scale, 1, 16)) fail(`scale must be an integer in 1..16, got ${JSON.stringify(header.scale)}`);
  if (typeof header.input !== 'string' || typeof header.output !== 'string') fail('input and output must be tensor names');
  if (!isObject(header.tensors)) fail('tensors must be an object of tensor descriptions');
  if (!Array.isArray(header.layers) || header.layers.length === 0 || header.layers.length > MAX_LAYERS) fail('layers must be a non-empty array');
  if (header.metadata !== undefined && !isObject(header.metadata)) fail('metadata must be an object');

  const infos = new Map<string, TensorInfo>();
  for (const [name, info] of Object.entries(header.tensors)) {
    const where = `tensor '${name}'`;
    if (!isObject(info)) fail(`${where}: not an object`);
    if (!isInt(info.channels, 1, MAX_CHANNELS)) fail(`${where}: channels must be an integer in 1..${MAX_CHANNELS}`);
    if (info.dtype === 'uint8') {
      if (!isFiniteNumber(info.step) || info.step <= 0 || !Number.isFinite(Math.fround(info.step)) || Math.fround(info.step) === 0) {
        fail(`${where}: step must be a positive finite float32`);
      }
      if (!isInt(info.bits, 1, 8)) fail(`${where}: bits must be an integer in 1..8`);
    } else if (info.dtype !== 'float32') {
      fail(`${where}: dtype must be 'uint8' or 'float32', got ${JSON.stringify((info as { dtype?: unknown }).dtype)}`);
    }
    infos.set(name, info as TensorInfo);
  }

  const tensors = new Map<string, GraphTensor>();
  const inputInfo = infos.get(header.input);
  if (!inputInfo) return fail(`input tensor '${header.input}' is not declared`);
  if (inputInfo.dtype !== 'float32' || inputInfo.channels !== 3) fail(`input tensor '${header.input}' must be float32 with 3 channels`);
  tensors.set(header.input, { name: header.input, info: inputInfo, grid: 'x1', factor: 1, producer: -1, consumers: [], statisticOf: [] });

  const layers: GraphLayer[] = [];
  const ids = new Set<string>();
  header.layers.forEach((raw, index) => {
    const at = isObject(raw) && typeof raw.id === 'string' ? `layer '${raw.id}'` : `layer ${index}`;
    const bad = (problem: string): never => fail(`${at}: ${problem}`);
    if (!isObject(raw)) bad('not an object');
    const layer = raw as ArtifactLayer;
    if (typeof layer.id !== 'string' || layer.id.length === 0) bad('id must be a non-empty string');
    if (ids.has(layer.id)) bad('duplicate id');
    ids.add(layer.id);
    const spec = layerSpec(layer.op);
    if (!spec) return bad(`unknown op ${JSON.stringify(layer.op)}`);
    if (!Array.isArray(layer.inputs) || layer.inputs.some((n) => typeof n !== 'string')) bad('inputs must be an array of tensor names');
    const [lo, hi] = spec.arity;
    if (layer.inputs.length < lo || layer.inputs.length > hi) bad(`${layer.op} takes ${lo === hi ? lo : `${lo}..${hi}`} inputs, got ${layer.inputs.length}`);
    const inputs = layer.inputs.map((name) => {
      const t = tensors.get(name);
      if (!t) return bad(infos.has(name) ? `input '${name}' is used before a layer produces it` : `unknown tensor '${name}'`);
      return t;
    });
    if (typeof layer.output !== 'string') bad('output must be a tensor name');
    const outInfo = infos.get(layer.output);
    if (!outInfo) bad(`output '${layer.output}' is not declared in tensors`);
    if (tensors.has(layer.output)) bad(`output '${layer.output}' is already produced`);
    const out = outInfo as TensorInfo;
    const first = inputs[0]!;
    const expectFloat = (t: { info: TensorInfo; name: string }, role: string) => {
      if (t.info.dtype !== 'float32') bad(`${role} '${t.name}' must be float32`);
    };
    const sameChannels = (c: number, what: string) => {
      if (out.channels !== c) bad(`output '${layer.output}' has ${out.channels} channels, ${what} gives ${c}`);
    };
    const resolved =
      spec.check({
        layer,
        index,
        inputs,
        first,
        out,
        tensors,
        blob,
        bad,
        expectFloat,
        sameChannels,
        sameGrid: () => {
          for (const t of inputs) if (t.grid !== first.grid) bad(`inputs '${first.name}' and '${t.name}' have different spatial sizes`);
        },
        floatInOut: () => {
          expectFloat(first, 'input');
          expectFloat({ info: out, name: layer.output }, 'output');
          sameChannels(first.info.channels, 'the input');
        },
      }) ?? {};
    const { grid = first.grid, conv, affine } = resolved;
    const factor = 'factor' in resolved ? resolved.factor : first.factor;
    for (const t of inputs) t.consumers.push(index);
    tensors.set(layer.output, { name: layer.output, info: out, grid, factor, producer: index, consumers: [], statisticOf: [] });
    layers.push({ index, layer, ...(conv ? { conv } : {}), ...(affine ? { affine } : {}) });
  });

  for (const name of infos.keys()) if (!tensors.has(name)) fail(`tensor '${name}' is declared but no layer produces it`);
  const output = tensors.get(header.output);
  if (!output || output.producer < 0) return fail(`output tensor '${header.output}' is not produced by a layer`);
  if (output.info.dtype !== 'float32' || output.info.channels !== 3) fail(`output tensor '${header.output}' must be float32 with 3 channels`);
  if (output.grid !== `x${header.scale}`) fail(`output tensor '${header.output}' is not ${header.scale} times the input's size`);
  for (const t of tensors.values()) {
    if (t.name !== header.output && t.consumers.length === 0 && t.statisticOf.length === 0 && t.producer >= 0) {
      fail(`layer '${header.layers[t.producer]!.id}': output '${t.name}' is never used`);
    }
  }
  return { header, tensors, layers };
}

/** Spatial size of every tensor for an input of height × width; fails when the image is too small. */
export function inferSizes(graph: ModelGraph, height: number, width: number): Map<string, Size> {
  const sizes = new Map<string, Size>();
  sizes.set(graph.header.input, { h: height, w: width });
  for (const { layer } of graph.layers) {
    const s = sizes.get(layer.inputs[0]!)!;
    const size = layerSpec(layer.op)!.size;
    sizes.set(layer.output, size ? size(layer, s, sizes) : s);
  }
  return sizes;
}
