/**
 * The header of an exported integer model (`.qnas`): a graph of integer layers over named tensors,
 * with every weight array stored in the binary blob that follows the header.
 */
export const ARTIFACT_SCHEMA_VERSION = 1;

export type TensorDType = 'int8' | 'int4' | 'int32' | 'float32';

/** Where a weight array lives in the blob. int4 packs two values per byte, low nibble first. */
export interface TensorRef {
  readonly offset: number;
  readonly byteLength: number;
  readonly dtype: TensorDType;
  readonly shape: readonly number[];
}

interface LayerBase {
  readonly id: string;
}

/** Integer conv: uint8 activations × int8/int4 weights, int32 accumulation, per-channel requantization. */
export interface ConvLayer extends LayerBase {
  readonly op: 'conv';
  readonly input: string;
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly padding: 'same' | 'valid';
  readonly groups: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly weightBits: number;
  readonly activationBits: number;
  readonly weights: TensorRef;
  /** Per-output-channel weight steps (float32). */
  readonly weightScales: TensorRef;
  /** The step of the uint8 input activation. */
  readonly inputScale: number;
  readonly bias?: TensorRef;
  /** What follows the conv inside the kernel. */
  readonly activation: 'none' | 'relu' | 'clip';
}

export interface ElementwiseLayer extends LayerBase {
  readonly op: 'add' | 'mul' | 'concat';
  readonly inputs: readonly string[];
}

export interface UnaryLayer extends LayerBase {
  readonly op: 'pixel_shuffle' | 'sigmoid' | 'repeat_channels' | 'max_pool' | 'bilinear_resize';
  readonly input: string;
  readonly params?: Readonly<Record<string, number>>;
}

/** ADQ's runtime scale: the body output times a·σ(x) + c, σ over the whole image. */
export interface AdqScaleLayer extends LayerBase {
  readonly op: 'adq_scale';
  readonly input: string;
  readonly statisticsOf: string;
  readonly slope: number;
  readonly offset: number;
  readonly sigmaCorrection: 0 | 1;
}

export type ArtifactLayer = ConvLayer | ElementwiseLayer | UnaryLayer | AdqScaleLayer;

export interface ModelArtifactHeader {
  readonly schemaVersion: typeof ARTIFACT_SCHEMA_VERSION;
  readonly scale: number;
  /** The graph's input tensor name (the LR image, 3 channels, [0, 1]). */
  readonly input: string;
  readonly output: string;
  readonly layers: readonly ArtifactLayer[];
  /** Filled in by the container: the blob's size and CRC-32. */
  readonly blob: { readonly byteLength: number; readonly crc32: number };
  /** Free-form provenance: space, genotype, training run, cost figures. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}
