import { parsePrimitive, type PrimitiveId } from '@quantnas/core-ops';
import { isBitWidth, type BitWidth } from '@quantnas/quant';
import { findProtoKey, SPACE_LIMITS } from './limits.js';

export const GENOTYPE_SCHEMA_VERSION = 1;

/** The choice a search made for one searchable block (or α group). */
export interface BlockChoice {
  readonly op: PrimitiveId;
  readonly bits: BitWidth;
}

/** A discrete architecture: per searchable block its chosen (op, bits), for one search space. */
export interface Genotype {
  readonly schemaVersion: typeof GENOTYPE_SCHEMA_VERSION;
  readonly space: string;
  readonly scale: number;
  readonly channels: number;
  readonly blocks: Readonly<Record<string, BlockChoice>>;
  /** Where the choice came from: the search epoch and which rule picked it. */
  readonly derivedFrom?: { readonly epoch: number; readonly selection: 'last' | 'best-validation' };
}

/** A genotype document that does not validate; `path` is the JSON path of the first problem. */
export class GenotypeError extends Error {
  override readonly name = 'GenotypeError';
  constructor(
    readonly path: string,
    problem: string,
    source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}genotype ${path}: ${problem}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates parsed JSON as a genotype; `source` (a file name) prefixes error messages. */
export function parseGenotype(json: unknown, source?: string): Genotype {
  const fail = (path: string, problem: string): never => {
    throw new GenotypeError(path, problem, source);
  };
  if (!isRecord(json)) return fail('$', 'must be a JSON object');
  const proto = findProtoKey(json);
  if (proto !== undefined) fail(proto, "the key '__proto__' is not allowed");
  if (json.schemaVersion !== GENOTYPE_SCHEMA_VERSION) {
    fail('$.schemaVersion', `must be ${GENOTYPE_SCHEMA_VERSION}, got ${JSON.stringify(json.schemaVersion)}`);
  }
  if (typeof json.space !== 'string' || json.space === '') fail('$.space', 'must be a non-empty string');
  for (const key of ['scale', 'channels'] as const) {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`$.${key}`, `must be a positive integer, got ${JSON.stringify(v)}`);
    if ((v as number) > SPACE_LIMITS[key]) fail(`$.${key}`, `${v} is over the limit of ${SPACE_LIMITS[key]}`);
  }
  if (!isRecord(json.blocks) || Object.keys(json.blocks).length === 0) fail('$.blocks', 'must be a non-empty object');
  const blocks: Record<string, BlockChoice> = {};
  for (const [name, choice] of Object.entries(json.blocks as Record<string, unknown>)) {
    const path = `$.blocks.${name}`;
    if (!isRecord(choice)) return fail(path, 'must be an object { op, bits }');
    if (typeof choice.op !== 'string') return fail(`${path}.op`, 'must be a string');
    try {
      parsePrimitive(choice.op);
    } catch (error) {
      fail(`${path}.op`, (error as Error).message);
    }
    if (typeof choice.bits !== 'number' || !isBitWidth(choice.bits)) {
      fail(`${path}.bits`, `bit-width ${JSON.stringify(choice.bits)} is not supported (use 2..8, or 32)`);
    }
    blocks[name] = { op: choice.op as PrimitiveId, bits: choice.bits as BitWidth };
  }
  let derivedFrom: Genotype['derivedFrom'];
  if (json.derivedFrom !== undefined) {
    const d = json.derivedFrom;
    if (!isRecord(d) || typeof d.epoch !== 'number' || (d.selection !== 'last' && d.selection !== 'best-validation')) {
      fail('$.derivedFrom', "must be { epoch: number, selection: 'last' | 'best-validation' }");
    }
    derivedFrom = { epoch: (d as { epoch: number }).epoch, selection: (d as { selection: 'last' | 'best-validation' }).selection };
  }
  return {
    schemaVersion: GENOTYPE_SCHEMA_VERSION,
    space: json.space as string,
    scale: json.scale as number,
    channels: json.channels as number,
    blocks,
    ...(derivedFrom ? { derivedFrom } : {}),
  };
}

/** Serialises a genotype as stable, readable JSON (blocks in their given order). */
export function genotypeToJson(genotype: Genotype): string {
  return JSON.stringify(genotype, null, 2) + '\n';
}
