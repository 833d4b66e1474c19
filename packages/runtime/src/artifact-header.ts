/**
 * The header of an exported integer model (`.qnas`): a graph of layers over named tensors, every
 * weight array stored in the binary blob that follows the header. The arithmetic of each layer is
 * specified in the README ("Model format"); `validateArtifact` checks a header completely before
 * anything runs.
 */
export const ARTIFACT_SCHEMA_VERSION = 1;

/**
 * A tensor of the graph: NHWC, one image. uint8 tensors hold activation codes `q` standing for
 * `q · step` (HWGQ: the step of the consuming conv's input bits, codes in [0, 2^bits − 1]);
 * float32 tensors hold values.
 */
export type TensorInfo =
  | { readonly dtype: 'uint8'; readonly channels: number; readonly step: number; readonly bits: number }
  | { readonly dtype: 'float32'; readonly channels: number };

/** A byte range of the blob; what it holds is fixed by the field that refers to it. */
export interface BlobRef {
  readonly offset: number;
  readonly byteLength: number;
}

interface LayerBase {
  readonly id: string;
  readonly inputs: readonly string[];
  readonly output: string;
}

/**
 * Integer conv over a uint8 input: int8/int4 weights (OHWI; int4 packs two values per byte, low
 * nibble first), per-output-channel weight steps and an optional bias (float32 little-endian).
 * A uint8 output is requantized to the output tensor's step and clipped to [0, 2^bits − 1] (the
 * next conv's ReLU + HWGQ, fused); a float32 output is the dequantized value (for adds, concats,
 * products and residuals).
 */
export interface ConvLayer extends LayerBase {
  readonly op: 'conv';
  readonly kernel: readonly [number, number];
  readonly stride: number;
  readonly padding: 'same' | 'valid';
  readonly groups: number;
  readonly weightBits: 8 | 4;
  readonly weights: BlobRef;
  readonly weightScales: BlobRef;
  readonly bias?: BlobRef;
}

/** Element-wise on float32 tensors of one shape: f32(a + b), f32(a · b). */
export interface BinaryLayer extends LayerBase {
  readonly op: 'add' | 'mul';
}

/** Along channels, in input order; all inputs float32, or all uint8 with the same step and bits. */
export interface ConcatLayer extends LayerBase {
  readonly op: 'concat';
}

/** PyTorch order: output channel c at sub-pixel (i, j) is input channel c·r² + i·r + j. */
export interface PixelShuffleLayer extends LayerBase {
  readonly op: 'pixel_shuffle';
  readonly factor: number;
}

/** Output channel c is input channel c mod C (PyTorch `x.repeat(1, times, 1, 1)`). */
export interface RepeatChannelsLayer extends LayerBase {
  readonly op: 'repeat_channels';
  readonly times: number;
}

/** No padding, windows that do not fit are dropped (PyTorch's floor mode). */
export interface MaxPoolLayer extends LayerBase {
  readonly op: 'max_pool';
  readonly kernel: number;
  readonly stride: number;
}

/** Bilinear resize to the spatial size of `sizeOf` (its values are not read), align_corners false. */
export interface BilinearResizeLayer extends LayerBase {
  readonly op: 'bilinear_resize';
  readonly sizeOf: string;
}

export interface SigmoidLayer extends LayerBase {
  readonly op: 'sigmoid';
}

/**
 * ADQ's runtime scale: y = f32(x · φ), φ = f32(slope · σ + offset), σ the standard deviation of
 * `statisticsOf` over the whole image (H, W, C), divided by n (population) or n − 1 (sample).
 */
export interface AdqScaleLayer extends LayerBase {
  readonly op: 'adq_scale';
  readonly statisticsOf: string;
  readonly slope: number;
  readonly offset: number;
  readonly deviation: 'population' | 'sample';
}

/** Per-channel y = f32(f32(x · scale_c) + shift_c): a batch norm with its statistics folded in. */
export interface AffineLayer extends LayerBase {
  readonly op: 'affine';
  readonly scale: BlobRef;
  readonly shift: BlobRef;
}

/**
 * The activation quantizer in front of a conv, float32 → uint8 codes of the output tensor:
 * q = clamp(roundHalfEven(f32(x / step)), 0, 2^bits − 1), which is ReLU + HWGQ.
 */
export interface QuantizeLayer extends LayerBase {
  readonly op: 'quantize';
}

/** y = min(max(x, min), max) on float32. */
export interface ClampLayer extends LayerBase {
  readonly op: 'clamp';
  readonly min: number;
  readonly max: number;
}

export type ArtifactLayer =
  | ConvLayer
  | BinaryLayer
  | ConcatLayer
  | PixelShuffleLayer
  | RepeatChannelsLayer
  | MaxPoolLayer
  | BilinearResizeLayer
  | SigmoidLayer
  | AdqScaleLayer
  | AffineLayer
  | QuantizeLayer
  | ClampLayer;

export type LayerOp = ArtifactLayer['op'];

/** Cost figures an exporter may record; the session reports them. */
export interface ArtifactCost {
  readonly macsPerLrPixel?: number;
  readonly bitOpsPerLrPixel?: number;
}

export interface ModelArtifactHeader {
  readonly schemaVersion: typeof ARTIFACT_SCHEMA_VERSION;
  readonly scale: number;
  /** The LR image: float32, 3 channels, values f32(u / 255) of the uint8 RGB input. */
  readonly input: string;
  /** The HR image: float32, 3 channels, `scale` times the input's size; written as uint8 (see README). */
  readonly output: string;
  readonly tensors: Readonly<Record<string, TensorInfo>>;
  /** In execution order: every input is the graph input or an earlier layer's output. */
  readonly layers: readonly ArtifactLayer[];
  /** Filled in by the container: the blob's size and CRC-32. */
  readonly blob: { readonly byteLength: number; readonly crc32: number };
  /** Free-form provenance (space, genotype, training run); `cost` is read by the session. */
  readonly metadata?: Readonly<Record<string, unknown>> & { readonly cost?: ArtifactCost };
}
