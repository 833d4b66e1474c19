import type { ReportRun } from './inputs.js';

/**
 * What a report puts on its x axis and ranks the front by: BitOps at 32×32 LR (the literature's
 * proxy, from run.json), or the time the integer engine takes, measured when the report is made.
 */
export interface CostAxis {
  readonly kind: 'bitops' | 'latency';
  /** A run's value; a latency axis needs `latencyMs` on every run. */
  of(run: ReportRun): number;
  /** `PSNR against …`, `at no more …`. */
  readonly name: string;
  readonly axisLabel: string;
  /** The column of a latency axis in the tables (BitOps have their own). */
  readonly column?: string;
  tick(value: number): string;
}

export const BITOPS_AXIS: CostAxis = {
  kind: 'bitops',
  of: (r) => r.run.bitops_32x32,
  name: 'BitOps',
  axisLabel: 'BitOps at 32×32 LR (log scale)',
  tick: (v) => (v >= 1e9 ? `${+(v / 1e9).toPrecision(3)} G` : `${+(v / 1e6).toPrecision(3)} M`),
};

/** The integer engine's median time per upscale of a size × size LR image on `threads` threads. */
export function latencyAxis(size: number, threads: number, engine: string): CostAxis {
  const where = `${size}×${size} LR, ${engine}, ${threads} thread${threads === 1 ? '' : 's'}`;
  return {
    kind: 'latency',
    of: (r) => {
      if (r.latencyMs === undefined) throw new Error(`report: run ${r.id} has no measured time`);
      return r.latencyMs;
    },
    name: 'int8 time',
    axisLabel: `int8 engine, ms per upscale (${where}; log scale)`,
    column: `ms (${where})`,
    tick: (v) => `${+v.toPrecision(3)}`,
  };
}
