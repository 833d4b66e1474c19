import { parsePrimitive, type PrimitiveId } from '@quantnas/core-ops';
import { isBitWidth, type BitWidth } from '@quantnas/quant';
import { z } from 'zod';
import { parseChannelExpr, type ChannelExpr } from './channel-expr.js';
import { SPACE_LIMITS } from './limits.js';
import { SPEC_SCHEMA_VERSION, type GraphSpec, type NodeSpec, type SearchSpaceSpec } from './spec.js';

// The structural half of validation (types, required fields, no unknown keys, ids, expressions,
// primitive ids, bit-widths); `resolveSpace` does the semantic half (references, channels, grids).
// Objects are strict so that a misspelt key ("inputs" on a one-input node) is an error, not ignored.

const id = z.string().regex(/^[A-Za-z_][\w-]*$/, { error: 'must be an identifier (letters, digits, _ and -; not starting with a digit)' });

const positiveInt = z
  .number({ error: 'must be a positive integer' })
  .int({ error: 'must be a positive integer' })
  .positive({ error: 'must be a positive integer' });

const channelExpr = z.unknown().superRefine((value, ctx) => {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1) ctx.addIssue({ code: 'custom', message: `channel count ${value} must be a positive integer` });
    return;
  }
  if (typeof value !== 'string') {
    ctx.addIssue({ code: 'custom', message: 'must be a positive integer or a channel expression such as "C/2" or "3*s*s"' });
    return;
  }
  try {
    parseChannelExpr(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}) as unknown as z.ZodType<ChannelExpr>;

const primitiveId = z.string({ error: 'must be a primitive id string' }).superRefine((value, ctx) => {
  try {
    parsePrimitive(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
}) as unknown as z.ZodType<PrimitiveId>;

const bitWidth = z.unknown().refine((v) => typeof v === 'number' && isBitWidth(v), {
  error: (issue) => `bit-width ${JSON.stringify(issue.input)} is not supported (use 2..8, or 32)`,
}) as unknown as z.ZodType<BitWidth>;

function uniqueList<T>(item: z.ZodType<T>, what: string) {
  return z
    .array(item)
    .min(1, { error: `the ${what} list is empty` })
    .superRefine((list, ctx) => {
      const seen = new Set<unknown>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(v)} is listed twice` });
        seen.add(v);
      });
    });
}

const bitList = uniqueList(bitWidth, 'bit-width');
const candidateList = uniqueList(primitiveId, 'candidate');
const atMost = (max: number, what: string) => positiveInt.max(max, { error: `${what} must be at most ${max}` });
const kernelSize = atMost(SPACE_LIMITS.kernel, 'a kernel edge').refine((k) => k % 2 === 1, {
  error: "must be odd ('same' padding is symmetric only for odd kernels)",
});

const graph: z.ZodType<GraphSpec> = z.lazy(() => z.strictObject({ nodes: z.array(node).min(1, { error: 'a graph needs at least one node' }), output: id }));

const node: z.ZodType<NodeSpec> = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({
      kind: z.literal('mixed'),
      id,
      input: id,
      in: channelExpr,
      out: channelExpr,
      candidates: z.union([id, candidateList]),
      alphaGroup: id.optional(),
      bits: bitList.optional(),
      width: channelExpr.optional(),
      initScale: z.number().positive().max(1).optional(),
      init: z.literal('he').optional(),
      imageInput: z.boolean().optional(),
    }),
    z.strictObject({
      kind: z.literal('conv'),
      id,
      input: id,
      in: channelExpr,
      out: channelExpr,
      kernel: z.union([kernelSize, z.tuple([kernelSize, kernelSize])]),
      groups: positiveInt.optional(),
      bias: z.boolean().optional(),
      init: z.literal('bicubic').optional(),
      frozen: z.boolean().optional(),
      imageInput: z.boolean().optional(),
    }),
    z.strictObject({ kind: z.literal('add'), id, inputs: z.array(id).min(2, { error: 'an add needs at least two inputs' }) }),
    z.strictObject({ kind: z.literal('concat'), id, inputs: z.array(id).min(2, { error: 'a concat needs at least two inputs' }) }),
    z.strictObject({ kind: z.literal('pixel_shuffle'), id, input: id }),
    z.strictObject({ kind: z.literal('repeat_channels'), id, input: id, times: channelExpr }),
    z.strictObject({ kind: z.literal('esa'), id, input: id, channels: channelExpr }),
    z.strictObject({ kind: z.literal('residual'), id, input: id, adq: z.boolean(), body: graph }),
    z.strictObject({
      kind: z.literal('repeat'),
      id,
      input: id,
      times: channelExpr,
      emit: z.enum(['last', 'concat']).optional(),
      body: graph,
    }),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union' && issue.note === 'No matching discriminator'
        ? `unknown node kind ${JSON.stringify((issue.input as { kind?: unknown } | undefined)?.kind)} (expected mixed, conv, add, concat, pixel_shuffle, repeat_channels, esa, residual or repeat)`
        : undefined,
  },
) as unknown as z.ZodType<NodeSpec>;

/** The zod schema of a `SearchSpaceSpec` document (structure only). */
export const searchSpaceSchema: z.ZodType<SearchSpaceSpec> = z.strictObject({
  $schema: z.string().optional(),
  schemaVersion: z.literal(SPEC_SCHEMA_VERSION, { error: (issue) => `must be ${SPEC_SCHEMA_VERSION}, got ${JSON.stringify(issue.input)}` }),
  id,
  description: z.string().optional(),
  channels: atMost(SPACE_LIMITS.channels, 'channels'),
  scale: atMost(SPACE_LIMITS.scale, 'scale'),
  cells: atMost(SPACE_LIMITS.cells, 'cells').optional(),
  imageChannels: atMost(SPACE_LIMITS.imageChannels, 'imageChannels').optional(),
  bits: bitList,
  fixedBits: bitWidth.optional(),
  candidates: z.record(id, candidateList),
  baseline: z.record(id, primitiveId).optional(),
  nodes: z.array(node).min(1, { error: 'a graph needs at least one node' }),
  output: id,
}) as unknown as z.ZodType<SearchSpaceSpec>;
