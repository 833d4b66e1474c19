import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { checkOutputPath, writeOutputFile } from '@quantnas/data';
import { UsageError, type CliIo } from '../io.js';
import type { RunSummary } from './run.js';

interface ReportCommandOptions {
  out: string;
  set: string;
  force?: boolean;
  json?: boolean;
}

/** One run of the report: its summary and where it came from. */
interface ReportRow {
  readonly dir: string;
  readonly run: RunSummary;
  /** On the quality/BitOps front of the runs given: no other run has higher PSNR at no more BitOps. */
  readonly pareto: boolean;
}

export function reportCommand(io: CliIo): Command {
  return new Command('report')
    .summary('compare runs: a markdown table and an SVG plot of PSNR against BitOps')
    .description(
      'Reads the run.json of each directory given (written by quantnas run, searched models and baselines ' +
        'alike) and writes OUT.md (one row per run: bits, params, MACs, BitOps, PSNR and the gain over bicubic ' +
        'on every set, the runs on the quality/BitOps front marked) and OUT.svg (PSNR on --set against BitOps ' +
        'at 32×32 LR, log scale, bicubic as a line).',
    )
    .argument('<dirs...>', 'run directories (each holds run.json)')
    .requiredOption('--out <prefix>', 'output path without extension: writes PREFIX.md and PREFIX.svg')
    .option('--set <name>', 'set plotted against BitOps', 'Set5')
    .option('--force', 'replace existing PREFIX.md and PREFIX.svg')
    .option('--json', 'print the rows as JSON on stdout')
    .action(async (dirs: string[], options: ReportCommandOptions) => {
      const runs = dirs.map((dir) => readRun(dir));
      for (const { dir, run } of runs) {
        if (!(options.set in run.sets))
          throw new UsageError(`${dir}: the run was not evaluated on ${options.set} (it has ${Object.keys(run.sets).join(', ')})`);
      }
      const out = resolve(options.out);
      if (!existsSync(dirname(out))) throw new UsageError(`${dirname(out)}: no such directory`);
      const rows = markPareto(runs, options.set);
      const output = { force: options.force === true, inputs: dirs.map((dir) => join(dir, 'run.json')) };
      await checkOutputPath(`${out}.md`, output);
      await checkOutputPath(`${out}.svg`, output);
      const text = new TextEncoder();
      await writeOutputFile(`${out}.md`, text.encode(reportMarkdown(rows, options.set, `${basename(out)}.svg`)), output);
      await writeOutputFile(`${out}.svg`, text.encode(reportSvg(rows, options.set)), output);
      if (options.json) {
        io.stdout(JSON.stringify({ markdown: `${out}.md`, svg: `${out}.svg`, runs: rows.map((r) => ({ dir: r.dir, pareto: r.pareto, ...r.run })) }) + '\n');
      } else {
        io.stdout(`wrote ${out}.md and ${out}.svg (${rows.length} runs, ${rows.filter((r) => r.pareto).length} on the front)\n`);
      }
    });
}

function readRun(dir: string): { dir: string; run: RunSummary } {
  const path = join(dir, 'run.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`${path}: no run summary (is ${dir} a directory written by quantnas run?)`);
  }
  let run: RunSummary;
  try {
    run = JSON.parse(text) as RunSummary;
  } catch {
    throw new UsageError(`${path}: not valid JSON`);
  }
  if (run.schemaVersion !== 1 || typeof run.bitops_32x32 !== 'number' || typeof run.sets !== 'object' || run.sets === null) {
    throw new UsageError(`${path}: not a run summary of this version`);
  }
  return { dir: resolve(dir), run };
}

function markPareto(runs: readonly { dir: string; run: RunSummary }[], set: string): ReportRow[] {
  const psnr = (r: RunSummary) => r.sets[set]!.psnr;
  return runs.map(({ dir, run }) => ({
    dir,
    run,
    pareto: !runs.some(
      ({ run: o }) => o !== run && o.bitops_32x32 <= run.bitops_32x32 && psnr(o) >= psnr(run) && (o.bitops_32x32 < run.bitops_32x32 || psnr(o) > psnr(run)),
    ),
  }));
}

const g = (v: number) => (v / 1e9).toFixed(3);

/** `svgName`: the plot's path relative to the markdown file (they are written side by side). */
export function reportMarkdown(rows: readonly ReportRow[], set: string, svgName: string): string {
  const sets = [...new Set(rows.flatMap((r) => Object.keys(r.run.sets)))];
  const sorted = [...rows].sort((a, b) => a.run.bitops_32x32 - b.run.bitops_32x32);
  const header = ['run', 'kind', 'preset', 'params', 'MACs/LR px', 'GBitOps (32×32)', ...sets.map((s) => `${s} PSNR (gain)`), 'front'];
  const lines = [
    `# QuantNAS report: x${rows[0]?.run.scale ?? 4}, PSNR against BitOps`,
    '',
    `PSNR on the Y channel (shave = scale), the model's own engine; gain over bicubic in dB. "front": no other run reaches a higher ${set} PSNR at no more BitOps.`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`,
    ...sorted.map(({ run, pareto }) => {
      const cells = sets.map((s) => {
        const v = run.sets[s];
        return v ? `${v.psnr.toFixed(2)} (${v.gain_db >= 0 ? '+' : ''}${v.gain_db.toFixed(2)})` : '–';
      });
      return `| ${run.label} | ${run.kind} | ${run.preset} | ${run.params} | ${Math.round(run.macs_per_pixel)} | ${g(run.bitops_32x32)} | ${cells.join(' | ')} | ${pareto ? '★' : ''} |`;
    }),
    '',
  ];
  const bicubic = rows[0]?.run.sets[set]?.bicubic_psnr;
  if (bicubic !== undefined) lines.push(`Bicubic on ${set}: ${bicubic.toFixed(2)} dB.`, '');
  lines.push(`![${set} PSNR against BitOps](${svgName})`, '');
  return lines.join('\n');
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A scatter plot of PSNR on `set` against BitOps (log axis); searched runs as circles, baselines as squares. */
export function reportSvg(rows: readonly ReportRow[], set: string): string {
  const W = 720;
  const H = 460;
  const m = { left: 70, right: 180, top: 40, bottom: 56 };
  const xs = rows.map((r) => Math.log10(r.run.bitops_32x32));
  const ys = rows.map((r) => r.run.sets[set]!.psnr);
  const bicubic = rows[0]?.run.sets[set]?.bicubic_psnr;
  const yAll = bicubic !== undefined ? [...ys, bicubic] : ys;
  const [x0, x1] = padRange(Math.min(...xs), Math.max(...xs), 0.15);
  const [y0, y1] = padRange(Math.min(...yAll), Math.max(...yAll), 0.25);
  const px = (x: number) => round1(m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right));
  const py = (y: number) => round1(H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.right / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(`${set} x${rows[0]?.run.scale ?? 4}: PSNR against BitOps`)}</text>`,
    `<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="black"/>`,
  ];
  for (let e = Math.ceil(x0 * 4) / 4; e <= x1; e += 0.25) {
    const x = px(e);
    parts.push(`<line x1="${x}" y1="${H - m.bottom}" x2="${x}" y2="${H - m.bottom + 5}" stroke="black"/>`);
    if (Number.isInteger(e) || x1 - x0 < 1.5) parts.push(`<text x="${x}" y="${H - m.bottom + 18}" text-anchor="middle">${formatBitops(10 ** e)}</text>`);
  }
  const yStep = niceStep((y1 - y0) / 6);
  for (let v = Math.ceil(y0 / yStep) * yStep; v <= y1; v += yStep) {
    const y = py(v);
    parts.push(
      `<line x1="${m.left - 5}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${m.left - 8}" y="${y + 4}" text-anchor="end">${v.toFixed(yStep < 0.1 ? 2 : 1)}</text>`,
    );
  }
  parts.push(
    `<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">BitOps at 32×32 LR (log scale)</text>`,
    `<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">PSNR (dB, Y)</text>`,
  );
  if (bicubic !== undefined) {
    const y = py(bicubic);
    parts.push(
      `<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#888" stroke-dasharray="6 4"/>`,
      `<text x="${W - m.right - 4}" y="${y - 5}" text-anchor="end" fill="#666">bicubic ${bicubic.toFixed(2)}</text>`,
    );
  }
  const front = rows.filter((r) => r.pareto).sort((a, b) => a.run.bitops_32x32 - b.run.bitops_32x32);
  if (front.length > 1) {
    parts.push(
      `<polyline fill="none" stroke="#555" stroke-opacity="0.5" points="${front.map((r) => `${px(Math.log10(r.run.bitops_32x32))},${py(r.run.sets[set]!.psnr)}`).join(' ')}"/>`,
    );
  }
  const markers = rows.map((_, i) => ({ x: px(xs[i]!), y: py(ys[i]!) }));
  const labels = placeLabels(
    markers.map((p, i) => ({ ...p, text: rows[i]!.run.label })),
    { left: m.left, right: W - m.right, top: m.top, bottom: H - m.bottom },
  );
  rows.forEach((r, i) => {
    const { x, y } = markers[i]!;
    const colour = r.run.kind === 'searched' ? '#d62728' : '#1f77b4';
    const label = labels[i]!;
    parts.push(
      r.run.kind === 'searched'
        ? `<circle cx="${x}" cy="${y}" r="5" fill="${colour}"/>`
        : `<rect x="${x - 4.5}" y="${y - 4.5}" width="9" height="9" fill="${colour}"/>`,
      `<text x="${label.x}" y="${label.y}" text-anchor="${label.anchor}" fill="${colour}">${escapeXml(r.run.label)}</text>`,
    );
  });
  const lx = W - m.right + 16;
  parts.push(
    `<circle cx="${lx}" cy="${m.top + 6}" r="5" fill="#d62728"/><text x="${lx + 10}" y="${m.top + 10}">searched</text>`,
    `<rect x="${lx - 4.5}" y="${m.top + 21.5}" width="9" height="9" fill="#1f77b4"/><text x="${lx + 10}" y="${m.top + 30}">fixed baseline</text>`,
    '</svg>',
    '',
  );
  return parts.join('\n');
}

const round1 = (v: number) => Math.round(v * 10) / 10;

interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/**
 * Places each point's label (12 px sans-serif, about 6.6 px per character) at the first of: right,
 * left, above, below, further above and below, whose box stays in the plot and overlaps no marker
 * and no label placed before it; where none is free, at the right.
 */
function placeLabels(
  points: readonly { x: number; y: number; text: string }[],
  plot: { left: number; right: number; top: number; bottom: number },
): { x: number; y: number; anchor: 'start' | 'end' }[] {
  const taken: Box[] = points.map((p) => ({ x0: p.x - 6, y0: p.y - 6, x1: p.x + 6, y1: p.y + 6 }));
  const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
  return points.map((p) => {
    const w = p.text.length * 6.6;
    const spots = [
      { x: p.x + 8, y: p.y + 4, anchor: 'start' as const },
      { x: p.x - 8, y: p.y + 4, anchor: 'end' as const },
      ...[-14, 20, -28, 34].flatMap((dy) => [
        { x: p.x - 4, y: p.y + dy, anchor: 'start' as const },
        { x: p.x + 4, y: p.y + dy, anchor: 'end' as const },
      ]),
    ];
    const boxOf = (s: (typeof spots)[number]): Box =>
      s.anchor === 'start' ? { x0: s.x, y0: s.y - 11, x1: s.x + w, y1: s.y + 3 } : { x0: s.x - w, y0: s.y - 11, x1: s.x, y1: s.y + 3 };
    const free = spots.find((s) => {
      const b = boxOf(s);
      return b.x0 >= plot.left && b.x1 <= plot.right && b.y0 >= plot.top && b.y1 <= plot.bottom && !taken.some((t) => overlaps(b, t));
    });
    const spot = free ?? spots[0]!;
    taken.push(boxOf(spot));
    return spot;
  });
}

function padRange(lo: number, hi: number, fraction: number): [number, number] {
  const span = hi - lo || Math.max(Math.abs(hi) * 0.02, 0.5);
  return [lo - span * fraction, hi + span * fraction];
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function formatBitops(v: number): string {
  return v >= 1e9 ? `${+(v / 1e9).toPrecision(3)} G` : `${+(v / 1e6).toPrecision(3)} M`;
}
