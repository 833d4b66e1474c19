import type { ArtifactLayer, ModelArtifactHeader, TensorInfo } from './artifact-header.js';

/**
 * Spatial grid of a tensor: 'x<F>' is F times the input's size (the grids that tile), anything
 * else a derived key (strided conv, pooling) that only equal derivations share.
 */
export type GridKey = string;

export interface GraphTensor {
  readonly name: string;
  readonly info: TensorInfo;
  readonly grid: GridKey;
  /** F of an 'x<F>' grid, else undefined. */
  readonly factor: number | undefined;
  /** Index of the producing layer; −1 for the graph input. */
  readonly producer: number;
  /** Layers that read its values (not `sizeOf` references). */
  readonly consumers: number[];
  /** Layers whose ADQ scale uses its deviation. */
  readonly statisticOf: number[];
}

export interface ConvArithmetic {
  readonly weights: Int8Array;
  readonly multipliers: Float32Array;
  readonly offsets: Float32Array;
  readonly kind: 'uint8' | 'float32';
  readonly min: number;
  readonly max: number;
  readonly inputBits: number;
}

export interface GraphLayer {
  readonly index: number;
  readonly layer: ArtifactLayer;
  /** Convs: the weights as int8 OHWI and the per-channel requantization. */
  readonly conv?: ConvArithmetic;
  /** Affine: per-channel scale and shift. */
  readonly affine?: { readonly scale: Float32Array; readonly shift: Float32Array };
}

export interface ModelGraph {
  readonly header: ModelArtifactHeader;
  readonly tensors: ReadonlyMap<string, GraphTensor>;
  readonly layers: readonly GraphLayer[];
}
