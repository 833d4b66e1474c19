import {
  blockWidths,
  packChannelParams,
  packRgbChannelParams,
  packRgbWeights,
  packTapPairWeights,
  packWeights,
  paddedGroupChannels,
  usesRgbKernel,
  usesTapPairs,
  type PackedKind,
} from './conv-pack.js';
import { convGeometry, resolveOutput, weightsOHWI, type ConvGeometry, type ConvParams, type ResolvedOutput } from './conv-spec.js';
import { WasmHeap } from './wasm-heap.js';

/**
 * Where a kernel module comes from: its bytes, a compiled module, a URL or path (file: URLs and
 * paths are read with node:fs, anything else is fetched and compiled while streaming), or a
 * fetch Response.
 */
export type WasmSource = Uint8Array | ArrayBuffer | WebAssembly.Module | URL | string | Response | PromiseLike<Response>;

export interface LoadKernelsOptions {
  /** The plain SIMD128 module; default: kernels.wasm next to this file. */
  readonly source?: WasmSource;
  /** The relaxed-SIMD module; default: kernels-relaxed.wasm next to this file, unless `source` is given. */
  readonly relaxedSource?: WasmSource;
  /**
   * 'auto' (default): the relaxed module where the engine supports relaxed SIMD (Node 20 only with
   * --experimental-wasm-relaxed-simd), else the plain one; 'off': always plain; 'require': fail
   * where relaxed SIMD is missing.
   */
  readonly relaxedSimd?: 'auto' | 'off' | 'require';
}

type ConvFn = (
  x: number,
  rowStride: number,
  pixStep: number,
  tapStep: number,
  groupStep: number,
  outH: number,
  outW: number,
  stride: number,
  kh: number,
  outer: number,
  inner: number,
  groups: number,
  coutG: number,
  cout: number,
  w: number,
  m: number,
  b: number,
  mode: number,
  lo: number,
  hi: number,
  flo: number,
  fhi: number,
  out: number,
  elem: number,
  scratch: number,
  chunk: number,
  res: number,
  resRowStride: number,
  codes: number,
  codePixel: number,
  step: number,
  qmax: number,
  floats: number,
) => void;

type PadFn = (
  src: number,
  srcStride: number,
  h: number,
  w: number,
  c: number,
  groups: number,
  dst: number,
  hp: number,
  wp: number,
  padTop: number,
  padLeft: number,
  cgp: number,
) => void;

/** Element-wise and data-movement layers (assembly/layers.ts): addresses and strides in bytes. */
export interface LayerKernels {
  quantize(
    src: number,
    srcStride: number,
    srcRun: number,
    dst: number,
    dstStride: number,
    dstRun: number,
    rows: number,
    w: number,
    n: number,
    step: number,
    max: number,
  ): void;
  outputBytes(src: number, srcStride: number, dst: number, dstStride: number, rows: number, n: number): void;
  binaryF32(op: number, a: number, aStride: number, b: number, bStride: number, dst: number, dstStride: number, rows: number, n: number): void;
  scaleF32(src: number, srcStride: number, dst: number, dstStride: number, rows: number, n: number, k: number): void;
  clampF32(src: number, srcStride: number, dst: number, dstStride: number, rows: number, n: number, lo: number, hi: number): void;
  affineF32(
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    rows: number,
    w: number,
    c: number,
    scale: number,
    shift: number,
    codes: number,
    step: number,
    max: number,
  ): void;
  sigmoidF32(src: number, srcStride: number, dst: number, dstStride: number, rows: number, n: number): void;
  expF64(x: number): number;
  adqSum(src: number, n: number, elem: number, step: number, mean: number, sum: number): number;
  copyPixels(src: number, srcStride: number, srcPixel: number, dst: number, dstStride: number, dstPixel: number, rows: number, w: number, bytes: number): void;
  repeatChannels(src: number, srcStride: number, xc: number, dst: number, dstStride: number, c: number, rows: number, w: number, elem: number): void;
  pixelShuffle(
    src: number,
    srcStride: number,
    sy0: number,
    sx0: number,
    cin: number,
    dst: number,
    dstStride: number,
    y0: number,
    x0: number,
    rows: number,
    w: number,
    c: number,
    f: number,
    elem: number,
    codes: number,
    codesStride: number,
    step: number,
    max: number,
  ): void;
  maxPoolF32(src: number, srcStride: number, dst: number, dstStride: number, rows: number, w: number, c: number, kernel: number, stride: number): void;
  bilinearF32(
    src: number,
    srcStride: number,
    sy0: number,
    sx0: number,
    c: number,
    dst: number,
    dstStride: number,
    y0: number,
    x0: number,
    rows: number,
    w: number,
    ty: number,
    tx: number,
  ): void;
}

interface KernelExports extends LayerKernels {
  readonly memory: WebAssembly.Memory;
  readonly TILE_SCRATCH_BYTES: WebAssembly.Global;
  heapBase(): number;
  readonly padWidenI16: PadFn;
  readonly padU8: PadFn;
  readonly convI16: ConvFn;
  readonly convI16Rgb: ConvFn;
  pairTaps(dst: number, bytes: number, pixelBytes: number): void;
  readonly convI8Relaxed?: ConvFn;
  maxU8(src: number, n: number): number;
}

// The smallest module that uses i16x8.relaxed_dot_i8x16_i7x16_s (opcode 0xfd 0x112): validating
// it tells whether the engine has relaxed SIMD without fetching the relaxed kernels.
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b,
  0x03,
  0x02,
  0x01,
  0x00,
  0x0a,
  0x2b,
  0x01,
  0x29,
  0x00,
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0),
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0),
  0xfd,
  0x92,
  0x02,
  0x0b,
]);

/** Whether this engine validates relaxed-SIMD code. */
export function supportsRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

async function instantiate(source: WasmSource): Promise<WebAssembly.Instance> {
  if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, {});
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return (await WebAssembly.instantiate(source as BufferSource, {})).instance;
  }
  if (typeof source === 'string' || source instanceof URL) {
    let url: URL | undefined;
    if (source instanceof URL) url = source;
    else if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !/^[a-z]:[\\/]/i.test(source)) url = new URL(source);
    if (isNode && (url === undefined || url.protocol === 'file:')) {
      // A variable specifier keeps browser bundlers from trying to resolve node:fs.
      const fsModule = 'node:fs/promises';
      const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
      const bytes = await readFile(url ?? source);
      return (await WebAssembly.instantiate(bytes, {})).instance;
    }
    return instantiate(fetch(url ?? source));
  }
  const response = await source;
  if (!response.ok) throw new Error(`integer kernels: fetching ${response.url} failed (${response.status})`);
  // Streaming compilation requires the application/wasm type (parameters allowed); servers that
  // send another type get the buffered path instead of a TypeError.
  const type = response.headers.get('content-type')?.split(';')[0]!.trim().toLowerCase();
  if (typeof WebAssembly.instantiateStreaming === 'function' && type === 'application/wasm') {
    return (await WebAssembly.instantiateStreaming(response, {})).instance;
  }
  return (await WebAssembly.instantiate(await response.arrayBuffer(), {})).instance;
}

/** Loads the integer kernels (see LoadKernelsOptions for which module and from where). */
export async function loadIntegerKernels(options: LoadKernelsOptions = {}): Promise<IntegerKernels> {
  const mode = options.relaxedSimd ?? 'auto';
  const relaxedAvailable = mode !== 'off' && supportsRelaxedSimd();
  if (mode === 'require' && !relaxedAvailable) {
    throw new Error('integer kernels: relaxed SIMD is not supported by this engine (Node 20 needs --experimental-wasm-relaxed-simd)');
  }
  const relaxedSource = options.relaxedSource ?? (options.source === undefined ? new URL('./kernels-relaxed.wasm', import.meta.url) : undefined);
  const useRelaxed = relaxedAvailable && relaxedSource !== undefined;
  const source = useRelaxed ? relaxedSource : (options.source ?? new URL('./kernels.wasm', import.meta.url));
  const instance = await instantiate(source);
  return new IntegerKernels(instance.exports as unknown as KernelExports);
}

export type ConvKernelChoice = 'auto' | 'plain' | 'relaxed';

/** One instance of the kernel module: its memory, heap and the convolutions prepared on it. */
export class IntegerKernels {
  readonly heap: WasmHeap;
  /** Whether the relaxed-SIMD kernel is loaded (only for inputs of 7 bits or fewer). */
  readonly relaxedSimd: boolean;
  private workspace = { at: 0, size: 0 };

  /** @internal */
  constructor(readonly exports: KernelExports) {
    this.heap = new WasmHeap(exports.memory, exports.heapBase());
    this.relaxedSimd = typeof exports.convI8Relaxed === 'function';
  }

  /**
   * Packs the weights into the heap once. kernel 'auto' takes the relaxed kernel when it is loaded,
   * params.inputBits <= 7 and the conv is dense with a window wider than one pixel; 'relaxed'
   * insists on it. Both kernels give the same bytes.
   */
  prepareConv(params: ConvParams, options: { kernel?: ConvKernelChoice } = {}): WasmConv {
    const choice = options.kernel ?? 'auto';
    const inputBits = params.inputBits ?? 8;
    if (!Number.isInteger(inputBits) || inputBits < 1 || inputBits > 8) throw new RangeError(`conv: inputBits must be 1..8, got ${inputBits}`);
    if (choice === 'relaxed') {
      if (!this.relaxedSimd) throw new Error('conv: the relaxed-SIMD kernel is not loaded (see loadIntegerKernels relaxedSimd)');
      if (inputBits > 7) throw new RangeError('conv: the relaxed-SIMD kernel needs inputs of 7 bits or fewer');
    }
    // Measured with latency tables (README, Speed): the relaxed kernel pays on dense 3×3 and 5×5
    // convs, and loses to the plain one on 1×1 and grouped convs, whose few multiply-adds per output
    // do not cover its widening and int16 flushes, and on the plain kernel's 3-channel layout (the
    // HR tail's 3×3 at 4 bits: 21 ms relaxed against 10 plain).
    const [kh, kw] = params.kernel;
    const pays = (params.groups ?? 1) === 1 && kh * kw > 1 && !usesRgbKernel(convGeometry(params), 'i16');
    const relaxed = choice === 'relaxed' || (choice === 'auto' && this.relaxedSimd && inputBits <= 7 && pays);
    return new WasmConv(this, params, relaxed ? 'i8' : 'i16');
  }

  /** @internal One shared area for padded inputs and tile scratch: convs run one at a time. */
  workspaceFor(bytes: number): number {
    if (this.workspace.size < bytes) {
      if (this.workspace.size > 0) this.heap.release(this.workspace.at);
      this.workspace = { at: this.heap.alloc(bytes), size: bytes };
    }
    return this.workspace.at;
  }
}

/** Where and how a float32 conv also writes its output as activation codes (see runCropAt). */
export interface ConvCodes {
  readonly at: number;
  readonly step: number;
  readonly max: number;
  /** Bytes between pixels; default outChannels. */
  readonly pixel?: number;
  /** Only the codes, no float32 output. */
  readonly only?: boolean;
}

const MODES = { uint8: 0, int32: 1, float32: 2 } as const;
const MODE_FLOAT32_ADD = 3;
const MODE_FLOAT32_ADD_CLAMP = 4;

/** A residual added to a conv's float32 output, and optionally the clamp layer after that add. */
export interface ConvResidual {
  readonly at: number;
  /** Bytes between the residual's rows. */
  readonly rowStride: number;
  /** min(max(sum, min), max) of the sum, as the clamp layer computes it; the conv's own output must be unbounded. */
  readonly clampAfter?: { readonly min: number; readonly max: number };
}

interface ConvLayout {
  h: number;
  w: number;
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
  cgp: number;
  hp: number;
  wp: number;
  rowStride: number;
  pixelBytes: number;
  outer: number;
  inner: number;
  /** Bytes between a kernel row's runs of steps. */
  tapStep: number;
  paddedBytes: number;
}

/** A convolution with its weights packed into the kernel heap. */
export class WasmConv {
  readonly geometry: ConvGeometry;
  readonly kernel: 'plain' | 'relaxed';
  readonly outputKind: ResolvedOutput['kind'];
  /** Bytes of the uint8 input and of the output. */
  readonly inputBytes: number;
  readonly outputBytes: number;
  /**
   * Relaxed kernel only: steps of int16 accumulation between widenings (0: none). Chosen so that
   * chunk · 2 · (2^inputBits − 1) · max|w| <= 32767, which keeps the int16 sums exact.
   */
  readonly int16Chunk: number;
  private readonly maxInput: number;
  private readonly output: ResolvedOutput;
  private readonly packedKind: PackedKind;
  /** Runs convI16Rgb (usesRgbKernel), its weights and channel parameters packed for it. */
  private readonly rgb: boolean;
  /** Runs over horizontal tap pairs (usesTapPairs), its weights packed for them. */
  private readonly tapPairs: boolean;
  private readonly regions: number[] = [];
  private readonly weightsAt: number;
  private readonly multipliersAt: number;
  private readonly offsetsAt: number;
  private readonly layout: ConvLayout;
  private disposed = false;

  /** @internal */
  constructor(
    private readonly kernels: IntegerKernels,
    params: ConvParams,
    kind: PackedKind,
  ) {
    const g = convGeometry(params);
    this.geometry = g;
    this.packedKind = kind;
    this.kernel = kind === 'i8' ? 'relaxed' : 'plain';
    this.output = resolveOutput(params.output, g.outChannels);
    this.outputKind = this.output.kind;
    this.inputBytes = g.height * g.width * g.inChannels;
    this.outputBytes = g.outHeight * g.outWidth * g.outChannels * (this.outputKind === 'uint8' ? 1 : 4);
    const ohwi = weightsOHWI(params, g);
    this.maxInput = 2 ** (params.inputBits ?? 8) - 1;
    let maxWeight = 1;
    for (const w of ohwi) maxWeight = Math.max(maxWeight, Math.abs(w));
    const chunk = Math.floor(32767 / (2 * this.maxInput * maxWeight));
    this.int16Chunk = kind === 'i8' && chunk >= 2 ? chunk : 0;
    this.rgb = usesRgbKernel(g, kind);
    this.tapPairs = usesTapPairs(g, kind);
    const weights = this.rgb ? packRgbWeights(ohwi, g) : this.tapPairs ? packTapPairWeights(ohwi, g) : packWeights(ohwi, g, kind);
    const { multipliers, offsets } = this.rgb ? packRgbChannelParams(this.output) : packChannelParams(this.output, g);
    this.weightsAt = this.place(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength));
    this.multipliersAt = this.place(new Uint8Array(multipliers.buffer));
    this.offsetsAt = this.place(new Uint8Array(offsets.buffer));
    this.layout = this.layoutFor(g.height, g.width, g.padTop, g.padLeft, g.outHeight, g.outWidth);
  }

  /** Padded-image geometry for an input of h × w placed at (padTop, padLeft), giving outH × outW. */
  private layoutFor(h: number, w: number, padTop: number, padLeft: number, outH: number, outW: number) {
    const g = this.geometry;
    const kind = this.packedKind;
    const cgp = paddedGroupChannels(g.inPerGroup, kind);
    const bytesPerChannel = kind === 'i16' ? 2 : 1;
    const pixelBytes = g.groups * cgp * bytesPerChannel;
    // Wide enough that the last tile (up to 8 pixels) reads only padding past the image.
    const widestTile = blockWidths(g.outPerGroup).includes(4) ? 8 : 4;
    const tiledWidth = Math.ceil(outW / widestTile) * widestTile;
    const wp = Math.max(padLeft + w, (tiledWidth - 1) * g.stride + g.kw);
    const hp = Math.max(padTop + h, (outH - 1) * g.stride + g.kh);
    const steps = (cgp * bytesPerChannel) / 4;
    return {
      h,
      w,
      padTop,
      padLeft,
      outH,
      outW,
      cgp,
      hp,
      wp,
      pixelBytes,
      rowStride: wp * pixelBytes,
      // Without groups a kernel row's taps are one contiguous run of channel steps; tap pairs are
      // one step every other pixel.
      outer: this.tapPairs ? Math.ceil(g.kw / 2) : g.groups === 1 ? 1 : g.kw,
      inner: this.tapPairs ? 1 : g.groups === 1 ? g.kw * steps : steps,
      tapStep: this.tapPairs ? 2 * pixelBytes : pixelBytes,
      paddedBytes: hp * wp * pixelBytes,
    };
  }

  private place(bytes: Uint8Array): number {
    const at = this.kernels.heap.alloc(bytes.byteLength);
    this.kernels.heap.bytes().set(bytes, at);
    this.regions.push(at);
    return at;
  }

  /** Runs on an input given as an array; returns a new output array (uint8, int32 or float32). */
  run(input: Uint8Array): Uint8Array | Int32Array | Float32Array {
    if (input.length !== this.inputBytes) {
      const g = this.geometry;
      throw new RangeError(`conv: input has ${input.length} values, expected ${g.height}×${g.width}×${g.inChannels}`);
    }
    const heap = this.kernels.heap;
    const inputAt = heap.alloc(this.inputBytes);
    const outputAt = heap.alloc(this.outputBytes);
    try {
      heap.bytes().set(input, inputAt);
      this.runAt(inputAt, outputAt);
      const buffer = heap.memory.buffer.slice(outputAt, outputAt + this.outputBytes);
      return this.outputKind === 'uint8' ? new Uint8Array(buffer) : this.outputKind === 'int32' ? new Int32Array(buffer) : new Float32Array(buffer);
    } finally {
      heap.release(outputAt);
      heap.release(inputAt);
    }
  }

  /**
   * Runs on an input already in the kernel heap (inputBytes at inputAt) into outputBytes at outputAt
   * (4-byte aligned for int32/float32): how a graph keeps activations in the heap between layers.
   */
  runAt(inputAt: number, outputAt: number): void {
    this.execute(inputAt, this.layout.w * this.geometry.inChannels, outputAt, this.layout);
  }

  /**
   * Runs on an h × w crop of a larger image, as a tiled graph does: the crop sits at (padTop,
   * padLeft) of a zero image (the zeros are the conv's padding where the crop touches the image
   * border) and the result is outH × outW; everything but the spatial size is as prepared.
   */
  runPadded(input: Uint8Array, h: number, w: number, padTop: number, padLeft: number, outH: number, outW: number): Uint8Array | Int32Array | Float32Array {
    const g = this.geometry;
    if (input.length !== h * w * g.inChannels) throw new RangeError(`conv: input has ${input.length} values, expected ${h}×${w}×${g.inChannels}`);
    const layout = this.layoutFor(h, w, padTop, padLeft, outH, outW);
    const heap = this.kernels.heap;
    const outputBytes = outH * outW * g.outChannels * (this.outputKind === 'uint8' ? 1 : 4);
    const inputAt = heap.alloc(input.length);
    const outputAt = heap.alloc(outputBytes);
    try {
      heap.bytes().set(input, inputAt);
      this.execute(inputAt, w * g.inChannels, outputAt, layout);
      const buffer = heap.memory.buffer.slice(outputAt, outputAt + outputBytes);
      return this.outputKind === 'uint8' ? new Uint8Array(buffer) : this.outputKind === 'int32' ? new Int32Array(buffer) : new Float32Array(buffer);
    } finally {
      heap.release(outputAt);
      heap.release(inputAt);
    }
  }

  /**
   * runPadded on data in the kernel heap: the crop's rows are inputRowStride bytes apart (a
   * rectangle of a larger tensor), the outH × outW output goes to outputAt. Two layers after a
   * float32 conv can run inside it: with `residual`, the output is f32(conv + residual) (a
   * residual add; residual's pixels laid out like the output's, its rows rowStride bytes apart),
   * clamped with residual.clampAfter (a clamp layer after the add);
   * with `codes`, the final float32 output y is also written as uint8 codes
   * clamp(roundHalfEven(f32(y / step)), 0, max) to codes.at, pixels codes.pixel bytes apart
   * (default outChannels; more for a slice of a concat's channels), and with codes.only, instead of
   * the float32 output (the activation quantizer in front of a following conv).
   */
  runCropAt(
    inputAt: number,
    inputRowStride: number,
    h: number,
    w: number,
    padTop: number,
    padLeft: number,
    outH: number,
    outW: number,
    outputAt: number,
    residual?: ConvResidual,
    codes?: ConvCodes,
  ): void {
    if ((residual || codes) && this.outputKind !== 'float32') throw new Error('conv: a fused residual or quantizer needs a float32 output');
    if (residual?.clampAfter && (this.output.min !== -Infinity || this.output.max !== Infinity)) {
      throw new Error('conv: a clamp after the residual add needs an unbounded output');
    }
    this.execute(inputAt, inputRowStride, outputAt, this.layoutFor(h, w, padTop, padLeft, outH, outW), residual, codes);
  }

  private execute(inputAt: number, inputRowStride: number, outputAt: number, l: ConvLayout, residual?: ConvResidual, codes?: ConvCodes): void {
    if (this.disposed) throw new Error('conv: used after dispose()');
    const g = this.geometry;
    const e = this.kernels.exports;
    const scratchBytes = e.TILE_SCRATCH_BYTES.value as number;
    // pairTaps reads a pixel and a vector past the image.
    const workspace = this.kernels.workspaceFor(l.paddedBytes + scratchBytes + 16 + (this.tapPairs ? l.pixelBytes : 0));
    const padded = workspace;
    const scratch = workspace + Math.ceil(l.paddedBytes / 16) * 16;
    const pad = this.packedKind === 'i8' ? e.padU8 : e.padWidenI16;
    pad(inputAt, inputRowStride, l.h, l.w, g.inChannels, g.groups, padded, l.hp, l.wp, l.padTop, l.padLeft, l.cgp);
    if (this.tapPairs) e.pairTaps(padded, l.paddedBytes, l.pixelBytes);
    if (this.packedKind === 'i8') {
      // The relaxed dot's i7 operand gives engine-dependent sums when its top bit is set, and the
      // int16 chunks rely on the declared input bits: refuse anything larger (the padding is 0).
      const found = e.maxU8(padded, l.paddedBytes);
      if (found > this.maxInput) {
        throw new RangeError(`conv: input value ${found} exceeds the declared ${Math.log2(this.maxInput + 1)} input bits (relaxed-SIMD kernel)`);
      }
    }
    const o = this.output;
    const conv = this.packedKind === 'i8' ? e.convI8Relaxed! : this.rgb ? e.convI16Rgb : e.convI16;
    conv(
      padded,
      l.rowStride,
      g.stride * l.pixelBytes,
      l.tapStep,
      l.pixelBytes / g.groups,
      l.outH,
      l.outW,
      g.stride,
      g.kh,
      l.outer,
      l.inner,
      g.groups,
      g.outPerGroup,
      g.outChannels,
      this.weightsAt,
      this.multipliersAt,
      this.offsetsAt,
      residual?.clampAfter ? MODE_FLOAT32_ADD_CLAMP : residual ? MODE_FLOAT32_ADD : MODES[o.kind],
      o.kind === 'uint8' ? o.min : 0,
      o.kind === 'uint8' ? o.max : 0,
      residual?.clampAfter ? Math.fround(residual.clampAfter.min) : o.kind === 'float32' ? o.min : 0,
      residual?.clampAfter ? Math.fround(residual.clampAfter.max) : o.kind === 'float32' ? o.max : 0,
      outputAt,
      o.kind === 'uint8' ? 1 : 4,
      scratch,
      this.int16Chunk,
      residual?.at ?? 0,
      residual?.rowStride ?? 0,
      codes?.at ?? 0,
      codes?.pixel ?? g.outChannels,
      codes?.step ?? 1,
      codes?.max ?? 0,
      codes?.only ? 0 : 1,
    );
  }

  /** Frees the packed weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const at of this.regions) this.kernels.heap.release(at);
  }
}
