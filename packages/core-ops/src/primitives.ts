/**
 * Primitive operation ids of docs/method.md §3, as a typed registry key. A misspelt id fails to compile
 * where ids are literals, and fails `parsePrimitive` with the id named where they come from JSON.
 */
export type KernelSize = 1 | 3 | 5;
export type PrimitiveId =
  | `simple_${KernelSize}x${KernelSize}`
  | `simple_${KernelSize}x${KernelSize}_grouped_${number}`
  | `growth1_${KernelSize}x${KernelSize}`
  | `growth2_${KernelSize}x${KernelSize}`
  | `conv_${3 | 5}x1_1x${3 | 5}`
  | 'skip_connect'
  | 'zero';

export type Primitive =
  | { readonly kind: 'simple'; readonly id: PrimitiveId; readonly kernel: KernelSize; readonly groups: number }
  | { readonly kind: 'growth'; readonly id: PrimitiveId; readonly kernel: KernelSize; readonly widthFactor: 1 | 2 }
  | { readonly kind: 'factorized'; readonly id: PrimitiveId; readonly kernel: 3 | 5 }
  | { readonly kind: 'skip'; readonly id: 'skip_connect' }
  | { readonly kind: 'zero'; readonly id: 'zero' };

const SIMPLE = /^simple_([135])x\1(?:_grouped_([1-9]\d*))?$/;
const GROWTH = /^growth([12])_([135])x\2$/;
const FACTORIZED = /^conv_([35])x1_1x\1$/;

/** Parses an op id (from a genotype or a search-space file) into its structure. */
export function parsePrimitive(id: string): Primitive {
  let m = SIMPLE.exec(id);
  if (m) return { kind: 'simple', id: id as PrimitiveId, kernel: Number(m[1]) as KernelSize, groups: m[2] ? Number(m[2]) : 1 };
  m = GROWTH.exec(id);
  if (m) return { kind: 'growth', id: id as PrimitiveId, kernel: Number(m[2]) as KernelSize, widthFactor: Number(m[1]) as 1 | 2 };
  m = FACTORIZED.exec(id);
  if (m) return { kind: 'factorized', id: id as PrimitiveId, kernel: Number(m[1]) as 3 | 5 };
  if (id === 'skip_connect') return { kind: 'skip', id };
  if (id === 'zero') return { kind: 'zero', id };
  throw new Error(`unknown op '${id}' (expected simple_KxK[_grouped_G], growth1_KxK, growth2_KxK, conv_Kx1_1xK, skip_connect or zero; K in 1, 3, 5)`);
}

/** One convolution inside an op: what BitOps and MAC accounting need. */
export interface ConvShape {
  readonly kernelH: number;
  readonly kernelW: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
}

/**
 * The convolutions an op performs for given channels; `width` is the space's channel width C that
 * growth and factorized ops pass through. Throws on channel counts the op cannot take.
 */
export function primitiveConvs(op: Primitive, inChannels: number, outChannels: number, width: number): ConvShape[] {
  switch (op.kind) {
    case 'simple':
      if (inChannels % op.groups !== 0 || outChannels % op.groups !== 0) {
        throw new Error(`${op.id}: channels ${inChannels} → ${outChannels} are not divisible by ${op.groups} groups`);
      }
      return [{ kernelH: op.kernel, kernelW: op.kernel, inChannels, outChannels, groups: op.groups }];
    case 'growth': {
      const mid = width * op.widthFactor;
      return [
        { kernelH: op.kernel, kernelW: op.kernel, inChannels, outChannels: mid, groups: 1 },
        { kernelH: op.kernel, kernelW: op.kernel, inChannels: mid, outChannels, groups: 1 },
      ];
    }
    case 'factorized':
      return [
        { kernelH: op.kernel, kernelW: 1, inChannels, outChannels: width, groups: 1 },
        { kernelH: 1, kernelW: op.kernel, inChannels: width, outChannels, groups: 1 },
      ];
    case 'skip':
      if (inChannels !== outChannels) throw new Error(`skip_connect: needs equal channels, got ${inChannels} → ${outChannels}`);
      return [];
    case 'zero':
      return [];
  }
}

/** Multiply-accumulates of one conv per output pixel (stride 1, bias ignored). */
export function convMacsPerPixel(conv: ConvShape): number {
  return (conv.kernelH * conv.kernelW * conv.inChannels * conv.outChannels) / conv.groups;
}

/** MACs of an op per output pixel: the cost model that BitOps are built on. */
export function primitiveMacsPerPixel(op: Primitive, inChannels: number, outChannels: number, width: number): number {
  return primitiveConvs(op, inChannels, outChannels, width).reduce((sum, c) => sum + convMacsPerPixel(c), 0);
}
