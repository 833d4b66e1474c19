import { BITOPS_AXIS, type CostAxis } from './cost.js';
import type { ReportRun } from './inputs.js';

/** The arithmetic mean; NaN for no values. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The sample standard deviation (n − 1 in the denominator); null below two values. */
export function sampleStd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** Mean, sample std, and the range of a quantity over the seeds of a group. */
export interface Stat {
  readonly mean: number;
  readonly std: number | null;
  readonly min: number;
  readonly max: number;
}

export function stat(values: readonly number[]): Stat {
  return { mean: mean(values), std: sampleStd(values), min: Math.min(...values), max: Math.max(...values) };
}

/** For each point: no other point has a higher y at no more x (lower x and higher y are better). */
export function paretoFront(points: readonly { x: number; y: number }[]): boolean[] {
  return points.map((p, i) => !points.some((o, j) => j !== i && o.x <= p.x && o.y >= p.y && (o.x < p.x || o.y > p.y)));
}

/** The runs of one configuration, seeds aggregated. */
export interface ReportGroup {
  readonly key: string;
  readonly name: string;
  readonly kind: 'searched' | 'baseline';
  readonly preset: string;
  readonly scale: number;
  /** Ordered by seed, then id. */
  readonly runs: readonly ReportRun[];
  readonly bitops: Stat;
  /** The report's x quantity (BitOps, or the measured time). */
  readonly cost: Stat;
  readonly params: Stat;
  readonly sets: Readonly<Record<string, { readonly n: number; readonly psnr: Stat; readonly ssim: Stat; readonly bicubic: number }>>;
  /** Mean seconds of each stage the runs timed (search, train, ...). */
  readonly seconds: Readonly<Record<string, number>>;
  /** On the front of the groups: no other group has a higher mean PSNR on the plotted set at no more mean cost. */
  readonly pareto: boolean;
}

/**
 * Groups the runs by their group key and aggregates each group's seeds. Groups come in order of
 * mean cost (BitOps by default), then name: the same runs give the same groups in the same order,
 * whatever the order of the arguments.
 */
export function groupRuns(runs: readonly ReportRun[], set: string, axis: CostAxis = BITOPS_AXIS): ReportGroup[] {
  const byKey = new Map<string, ReportRun[]>();
  for (const r of runs) byKey.set(r.groupKey, [...(byKey.get(r.groupKey) ?? []), r]);
  const groups = [...byKey.entries()].map(([key, members]) => aggregate(key, sortRuns(members), axis));
  groups.sort((a, b) => a.cost.mean - b.cost.mean || compare(a.name, b.name) || compare(a.key, b.key));
  const front = paretoFront(groups.map((g) => ({ x: g.cost.mean, y: g.sets[set]?.psnr.mean ?? Number.NEGATIVE_INFINITY })));
  return groups.map((g, i) => ({ ...g, pareto: front[i]! }));
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function sortRuns(runs: readonly ReportRun[]): ReportRun[] {
  return [...runs].sort((a, b) => (a.seed ?? Infinity) - (b.seed ?? Infinity) || compare(a.id, b.id) || compare(a.dir, b.dir));
}

function aggregate(key: string, runs: readonly ReportRun[], axis: CostAxis): Omit<ReportGroup, 'pareto'> {
  const first = runs[0]!.run;
  const setNames = [...new Set(runs.flatMap((r) => Object.keys(r.run.sets)))];
  const sets = Object.fromEntries(
    setNames.map((s) => {
      const values = runs.flatMap((r) => (r.run.sets[s] ? [r.run.sets[s]] : []));
      return [s, { n: values.length, psnr: stat(values.map((v) => v.psnr)), ssim: stat(values.map((v) => v.ssim)), bicubic: values[0]!.bicubic_psnr }];
    }),
  );
  const stages = [...new Set(runs.flatMap((r) => Object.keys(r.run.seconds ?? {})))];
  const seconds = Object.fromEntries(stages.map((k) => [k, mean(runs.flatMap((r) => (typeof r.run.seconds?.[k] === 'number' ? [r.run.seconds[k]] : [])))]));
  return {
    key,
    name: runs[0]!.group,
    kind: first.kind,
    preset: first.preset,
    scale: first.scale,
    runs,
    bitops: stat(runs.map((r) => r.run.bitops_32x32)),
    cost: stat(runs.map((r) => axis.of(r))),
    params: stat(runs.map((r) => r.run.params)),
    sets,
    seconds,
  };
}
