import type { Genotype, SpacePlan } from '@quantnas/search-spaces';

/**
 * A latency table (docs/method.md §7.1): for every α group of a space at one width, cell count and
 * scale, the time the integer engine spends in the group's blocks with each candidate (op, bits),
 * measured on one machine, engine and thread count at one LR input size; and the time of the rest
 * of the network (fixed layers, copies between passes). A genotype's predicted time is the rest
 * plus its pairs' entries. The search's latency penalty is the same sum under α.
 */
export const LATENCY_TABLE_KIND = 'quantnas-latency-table';

/** Milliseconds of one entry: the median of the rounds, with their range. */
export interface LatencyEntry {
  readonly ms: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: number;
}

export type LatencyEngine = 'simd128' | 'relaxed';

export interface LatencyTable {
  readonly schemaVersion: 1;
  readonly kind: typeof LATENCY_TABLE_KIND;
  /** The plan's id (`rfdn-bicubic`, or the id of a space document). */
  readonly space: string;
  readonly channels: number;
  readonly cells: number;
  readonly scale: number;
  /** The LR image the times are for. */
  readonly input: { readonly width: number; readonly height: number };
  readonly engine: LatencyEngine;
  readonly threads: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly platform: string };
  readonly measuredAt: string;
  /** Everything outside the searchable blocks. */
  readonly fixed: LatencyEntry;
  /** α group → `op@bits` → entry. */
  readonly groups: Readonly<Record<string, Readonly<Record<string, LatencyEntry>>>>;
}

export class LatencyTableError extends Error {
  override readonly name = 'LatencyTableError';
}

export const pairKey = (pair: { readonly op: string; readonly bits: number }): string => `${pair.op}@${pair.bits}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a parsed JSON document; throws LatencyTableError naming the first problem. */
export function parseLatencyTable(json: unknown, source = 'latency table'): LatencyTable {
  const fail = (problem: string): never => {
    throw new LatencyTableError(`${source}: ${problem}`);
  };
  if (!isObject(json)) return fail('not a JSON object');
  if (json.kind !== LATENCY_TABLE_KIND)
    fail(`not a latency table (kind ${JSON.stringify(json.kind)}, want '${LATENCY_TABLE_KIND}'; made by quantnas bench latency-table)`);
  if (json.schemaVersion !== 1) fail(`schemaVersion ${JSON.stringify(json.schemaVersion)} is not supported (this version reads 1)`);
  if (typeof json.space !== 'string' || json.space === '') fail(`'space' must be a non-empty string`);
  for (const key of ['channels', 'cells', 'scale', 'threads'] as const) {
    const v = json[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`'${key}' must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (json.engine !== 'simd128' && json.engine !== 'relaxed') fail(`'engine' must be 'simd128' or 'relaxed', got ${JSON.stringify(json.engine)}`);
  if (!isObject(json.input) || !Number.isInteger(json.input.width) || !Number.isInteger(json.input.height))
    fail(`'input' must be { width, height } in LR pixels`);
  const entry = (v: unknown, where: string): LatencyEntry => {
    if (!isObject(v)) return fail(`${where} must be an object { ms, min, max, rounds }`);
    for (const k of ['ms', 'min', 'max'] as const) {
      const x = v[k];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) fail(`${where}.${k} must be a finite number ≥ 0, got ${JSON.stringify(x)}`);
    }
    return v as unknown as LatencyEntry;
  };
  entry(json.fixed, `'fixed'`);
  if (!isObject(json.groups) || Object.keys(json.groups).length === 0) fail(`'groups' must be an object of α groups`);
  for (const [group, pairs] of Object.entries(json.groups as object)) {
    if (!isObject(pairs) || Object.keys(pairs).length === 0) fail(`'groups.${group}' must map 'op@bits' to entries`);
    for (const [key, v] of Object.entries(pairs)) entry(v, `'groups.${group}.${key}'`);
  }
  return json as unknown as LatencyTable;
}

/** Throws unless the table was measured for this plan (space, width, cells, scale) and has every pair of every group. */
export function checkTableFits(table: LatencyTable, plan: SpacePlan, source = 'latency table'): void {
  const fail = (problem: string): never => {
    throw new LatencyTableError(`${source}: ${problem}; measure one for it with quantnas bench latency-table`);
  };
  const want = { space: plan.id, channels: plan.channels, cells: plan.cells, scale: plan.scale };
  for (const [key, value] of Object.entries(want)) {
    const got = table[key as keyof typeof want];
    if (got !== value) fail(`measured for ${key} ${JSON.stringify(got)}, the search is at ${JSON.stringify(value)}`);
  }
  for (const g of plan.groups) {
    const row = table.groups[g.id] ?? fail(`has no entries for the group '${g.id}'`);
    for (const pair of g.pairs) if (!row[pairKey(pair)]) fail(`has no entry for '${pairKey(pair)}' in the group '${g.id}'`);
  }
}

/** Per α group, the table's milliseconds of each pair in the group's pair order (the latency penalty's costs). */
export function latencyPairCosts(table: LatencyTable, plan: SpacePlan): Record<string, number[]> {
  checkTableFits(table, plan);
  return Object.fromEntries(plan.groups.map((g) => [g.id, g.pairs.map((p) => table.groups[g.id]![pairKey(p)]!.ms)]));
}

/** L(α₀): the expected latency of the searchable blocks with every pair equally likely (α at its start, all zeros). */
export function uniformLatency(costs: Readonly<Record<string, readonly number[]>>): number {
  return Object.values(costs).reduce((sum, c) => sum + c.reduce((s, x) => s + x, 0) / c.length, 0);
}

/** The table's prediction for a genotype of its space: the rest of the network plus each group's pair. */
export function predictLatency(table: LatencyTable, genotype: Genotype): number {
  let ms = table.fixed.ms;
  for (const [group, pair] of Object.entries(genotype.blocks)) {
    const e = table.groups[group]?.[pairKey(pair)];
    if (!e) throw new LatencyTableError(`latency table: no entry for '${pairKey(pair)}' in the group '${group}'`);
    ms += e.ms;
  }
  return ms;
}
