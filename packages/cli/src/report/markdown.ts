import { paretoFront, type ReportGroup, type Stat } from './aggregate.js';
import { BITOPS_AXIS, type CostAxis } from './cost.js';
import type { PendingJob, ReportRun } from './inputs.js';
import { codeVersion } from '../software.js';

/** What every page of the report shows: its title, groups, runs and unfinished jobs. */
export interface ReportContent {
  readonly title: string;
  readonly set: string;
  readonly groups: readonly ReportGroup[];
  /** In the order given. */
  readonly runs: readonly ReportRun[];
  readonly pending: readonly PendingJob[];
  /** The x axis and the front's cost; default BitOps. */
  readonly axis?: CostAxis;
}

export const gbitops = (v: number) => (v / 1e9).toFixed(3);
const milliseconds = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const count = (v: number) => Math.round(v).toLocaleString('en-US');
const seconds = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '–' : String(Math.round(v)));

/** A mean with the range of the seeds when they differ. */
function withRange(s: Stat, format: (v: number) => string): string {
  return s.min === s.max ? format(s.mean) : `${format(s.mean)} (${format(s.min)}–${format(s.max)})`;
}

/** `29.51 ± 0.05`; `±—` for a single seed. */
export function meanStd(s: Stat, digits: number): string {
  return `${s.mean.toFixed(digits)} ± ${s.std === null ? '—' : s.std.toFixed(digits)}`;
}

export function setNames(groups: readonly ReportGroup[]): string[] {
  return [...new Set(groups.flatMap((g) => Object.keys(g.sets)))];
}

/** The rows of the groups table, as cells: the markdown and the HTML page show the same text. */
export function groupTable(groups: readonly ReportGroup[], axis: CostAxis = BITOPS_AXIS): { header: string[]; rows: string[][] } {
  const sets = setNames(groups);
  const header = [
    'group',
    'kind',
    'preset',
    'seeds',
    'params',
    'GBitOps (32×32)',
    ...(axis.column ? [axis.column] : []),
    ...sets.flatMap((s) => [`${s} PSNR`, `${s} SSIM`]),
    'search s',
    'train s',
    'front',
  ];
  const rows = groups.map((g) => [
    g.name,
    g.kind,
    g.preset,
    String(g.runs.length),
    withRange(g.params, count),
    withRange(g.bitops, gbitops),
    ...(axis.column ? [withRange(g.cost, milliseconds)] : []),
    ...sets.flatMap((s) => {
      const v = g.sets[s];
      return v ? [meanStd(v.psnr, 2), v.ssim.mean.toFixed(4)] : ['–', '–'];
    }),
    seconds(g.seconds.search),
    seconds(g.seconds.train),
    g.pareto ? '★' : '',
  ]);
  return { header, rows };
}

/** One row per run, each marked on the front of the runs (the report of single runs). */
export function runTable(groups: readonly ReportGroup[], set: string, axis: CostAxis = BITOPS_AXIS): { header: string[]; rows: string[][] } {
  const sets = setNames(groups);
  const runs = groups.flatMap((g) => g.runs).sort((a, b) => axis.of(a) - axis.of(b));
  const front = runFront(runs, set, axis);
  const header = [
    'run',
    'kind',
    'preset',
    'seed',
    'params',
    'MACs/LR px',
    'GBitOps (32×32)',
    ...(axis.column ? [axis.column] : []),
    ...sets.map((s) => `${s} PSNR (gain)`),
    'front',
  ];
  const rows = runs.map((r, i) => [
    r.label,
    r.run.kind,
    r.run.preset,
    r.seed === null ? '–' : String(r.seed),
    String(r.run.params),
    String(Math.round(r.run.macs_per_pixel)),
    gbitops(r.run.bitops_32x32),
    ...(axis.column ? [milliseconds(axis.of(r))] : []),
    ...sets.map((s) => {
      const v = r.run.sets[s];
      return v ? `${v.psnr.toFixed(2)} (${v.gain_db >= 0 ? '+' : ''}${v.gain_db.toFixed(2)})` : '–';
    }),
    front[i] ? '★' : '',
  ]);
  return { header, rows };
}

export function runFront(runs: readonly ReportRun[], set: string, axis: CostAxis = BITOPS_AXIS): boolean[] {
  return paretoFront(runs.map((r) => ({ x: axis.of(r), y: r.run.sets[set]?.psnr ?? Number.NEGATIVE_INFINITY })));
}

export function pendingLine(pending: readonly PendingJob[]): string | undefined {
  return pending.length === 0
    ? undefined
    : // Labels hold commas (", seed 2"): the jobs are set apart by semicolons.
      `Pending: ${pending.length} (${pending.map((p) => p.label).join('; ')}), not finished when this report was written.`;
}

/** Runs in the report by the code that produced them, when more than one code did. */
export function versionsLine(runs: readonly ReportRun[]): string | undefined {
  const counts = new Map<string, number>();
  for (const r of runs) {
    const v = codeVersion(r.run.software);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  if (counts.size < 2) return undefined;
  const list = [...counts].map(([v, n]) => `${v}: ${n} run${n === 1 ? '' : 's'}`).join('; ');
  return `Runs from ${counts.size} code versions (${list}): results move with the code as they move with the seed, so compare runs of one version.`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function markdownTable({ header, rows }: { header: string[]; rows: string[][] }, textColumns: number): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < textColumns ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

/** `svgName`: the plot's path relative to the markdown file (they are written side by side). */
export function reportMarkdown(content: ReportContent, svgName: string): string {
  const { title, set, groups, pending } = content;
  const axis = content.axis ?? BITOPS_AXIS;
  const lines = [
    `# ${title}: x${groups[0]?.scale ?? 4}, PSNR against ${axis.name}`,
    '',
    `PSNR on the Y channel (shave = scale), the model's own engine, as mean ± sample standard deviation over the seeds of each group ` +
      `(±— for one seed); SSIM, BitOps and times are means (a BitOps or params range: the seeds differ). ` +
      (axis.column ? `${axis.column}: the integer engine's median time per upscale of the run's model, measured when this report was made. ` : '') +
      `"front": no other group reaches a higher mean ${set} PSNR at no more mean ${axis.name}.`,
    '',
    ...markdownTable(groupTable(groups, axis), 3),
    '',
  ];
  const waiting = pendingLine(pending);
  if (waiting) lines.push(waiting, '');
  const versions = versionsLine(content.runs);
  if (versions) lines.push(versions, '');
  const bicubic = groups[0]?.sets[set]?.bicubic;
  if (bicubic !== undefined) lines.push(`Bicubic on ${set}: ${bicubic.toFixed(2)} dB.`, '');
  lines.push(
    `![${set} PSNR against ${axis.name}](${svgName})`,
    '',
    '## Runs',
    '',
    `Gain over bicubic in dB; "front": no other run reaches a higher ${set} PSNR at no more ${axis.name}.`,
    '',
  );
  lines.push(...markdownTable(runTable(groups, set, axis), 3), '');
  return lines.join('\n');
}
