import type { ReportGroup } from './aggregate.js';
import { BITOPS_AXIS, type CostAxis } from './cost.js';

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const W = 720;
const H = 460;
const M = { left: 70, right: 180, top: 40, bottom: 56 };
const COLOUR = { searched: '#d62728', baseline: '#1f77b4' } as const;

/** A square or circle centred on (x, y): circles for searched models, squares for baselines. */
function mark(kind: 'searched' | 'baseline', x: number, y: number, r: number, attributes: string): string {
  return kind === 'searched'
    ? `<circle ${attributes}cx="${x}" cy="${y}" r="${r}" fill="${COLOUR[kind]}"/>`
    : `<rect ${attributes}x="${round1(x - r * 0.9)}" y="${round1(y - r * 0.9)}" width="${round1(r * 1.8)}" height="${round1(r * 1.8)}" fill="${COLOUR[kind]}"/>`;
}

/**
 * PSNR on `set` against BitOps, or the axis' cost (log axis): each group's mean as a mark with a ±std error bar and its
 * label, each run as a faint small point (`class="run seed"`, `data-job` its id), searched models as
 * circles and baselines as squares, bicubic as a dashed line, the groups' front as a line. The same
 * groups give the same bytes.
 */
export function reportSvg(groups: readonly ReportGroup[], set: string, axis: CostAxis = BITOPS_AXIS): string {
  const plotted = groups.filter((g) => g.sets[set] !== undefined);
  const runs = plotted.flatMap((g) => g.runs.map((r) => ({ group: g, run: r.run, id: r.id, x: axis.of(r) })));
  const psnr = (g: ReportGroup) => g.sets[set]!.psnr;
  const bicubic = plotted[0]?.sets[set]?.bicubic;
  const xs = [...plotted.map((g) => g.cost.mean), ...runs.map((r) => r.x)].map(Math.log10);
  const ys = [
    ...plotted.flatMap((g) => [psnr(g).mean - (psnr(g).std ?? 0), psnr(g).mean + (psnr(g).std ?? 0)]),
    ...runs.map((r) => r.run.sets[set]!.psnr),
    ...(bicubic !== undefined ? [bicubic] : []),
  ];
  const [x0, x1] = padRange(Math.min(...xs), Math.max(...xs), 0.15);
  const [y0, y1] = padRange(Math.min(...ys), Math.max(...ys), 0.25);
  const px = (cost: number) => round1(M.left + ((Math.log10(cost) - x0) / (x1 - x0)) * (W - M.left - M.right));
  const py = (y: number) => round1(H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(`${set} x${plotted[0]?.scale ?? 4}: PSNR against ${axis.name}`)}</text>`,
    ...axes(x0, x1, y0, y1, px, py, axis),
  ];
  if (bicubic !== undefined) {
    const y = py(bicubic);
    parts.push(
      `<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#888" stroke-dasharray="6 4"/>`,
      `<text x="${W - M.right - 4}" y="${y - 5}" text-anchor="end" fill="#666">bicubic ${bicubic.toFixed(2)}</text>`,
    );
  }
  const front = plotted.filter((g) => g.pareto);
  if (front.length > 1) {
    const points = front.map((g) => `${px(g.cost.mean)},${py(psnr(g).mean)}`).join(' ');
    parts.push(`<polyline class="front" fill="none" stroke="#555" stroke-opacity="0.5" points="${points}"/>`);
  }
  for (const r of runs) {
    const attributes = `class="run seed" data-job="${escapeXml(r.id)}" fill-opacity="0.35" `;
    parts.push(mark(r.run.kind, px(r.x), py(r.run.sets[set]!.psnr), 2.5, attributes));
  }
  const centres = plotted.map((g) => ({ x: px(g.cost.mean), y: py(psnr(g).mean), text: g.name }));
  const labels = placeLabels(centres, { left: M.left, right: W - M.right, top: M.top, bottom: H - M.bottom });
  plotted.forEach((g, i) => {
    const { x, y } = centres[i]!;
    const std = psnr(g).std;
    if (std !== null && std > 0) {
      const [top, bottom] = [py(psnr(g).mean + std), py(psnr(g).mean - std)];
      parts.push(
        `<path class="errorbar" d="M${x} ${top}V${bottom}M${x - 4} ${top}H${x + 4}M${x - 4} ${bottom}H${x + 4}" stroke="${COLOUR[g.kind]}" fill="none"/>`,
      );
    }
    const label = labels[i]!;
    parts.push(
      mark(g.kind, x, y, 5, `class="group" `),
      `<text x="${label.x}" y="${label.y}" text-anchor="${label.anchor}" fill="${COLOUR[g.kind]}">${escapeXml(g.name)}</text>`,
    );
  });
  parts.push(...legend(), '</svg>', '');
  return parts.join('\n');
}

function axes(x0: number, x1: number, y0: number, y1: number, px: (cost: number) => number, py: (y: number) => number, axis: CostAxis): string[] {
  const parts = [
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`,
  ];
  for (const { value, label } of logTicks(x0, x1)) {
    const x = px(value);
    parts.push(`<line x1="${x}" y1="${H - M.bottom}" x2="${x}" y2="${H - M.bottom + 5}" stroke="black"/>`);
    if (label) parts.push(`<text x="${x}" y="${H - M.bottom + 18}" text-anchor="middle">${axis.tick(value)}</text>`);
  }
  const yStep = niceStep((y1 - y0) / 6);
  for (let v = Math.ceil(y0 / yStep) * yStep; v <= y1; v += yStep) {
    const y = py(v);
    parts.push(
      `<line x1="${M.left - 5}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${v.toFixed(yStep < 0.1 ? 2 : 1)}</text>`,
    );
  }
  parts.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${escapeXml(axis.axisLabel)}</text>`,
    `<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">PSNR (dB, Y)</text>`,
  );
  return parts;
}

function legend(): string[] {
  const lx = W - M.right + 16;
  const row = (i: number) => M.top + 6 + i * 20;
  return [
    `<g class="legend">`,
    mark('searched', lx, row(0), 5, ''),
    `<text x="${lx + 12}" y="${row(0) + 4}">searched (mean)</text>`,
    mark('baseline', lx, row(1), 5, ''),
    `<text x="${lx + 12}" y="${row(1) + 4}">fixed baseline (mean)</text>`,
    `<path d="M${lx} ${row(2) - 7}V${row(2) + 7}M${lx - 4} ${row(2) - 7}H${lx + 4}M${lx - 4} ${row(2) + 7}H${lx + 4}" stroke="#555" fill="none"/>`,
    `<text x="${lx + 12}" y="${row(2) + 4}">± std over seeds</text>`,
    `<circle cx="${lx}" cy="${row(3)}" r="2.5" fill="#555" fill-opacity="0.35"/>`,
    `<text x="${lx + 12}" y="${row(3) + 4}">one seed</text>`,
    `<line x1="${lx - 8}" y1="${row(4)}" x2="${lx + 8}" y2="${row(4)}" stroke="#888" stroke-dasharray="6 4"/>`,
    `<text x="${lx + 12}" y="${row(4) + 4}">bicubic</text>`,
    `</g>`,
  ];
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
 * and no label placed before it; where none is free, the one in the plot that overlaps the fewest.
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
    // A box out of the plot weighs more than any number of overlaps; the first spot of the least weight wins.
    const weight = (s: (typeof spots)[number]) => {
      const b = boxOf(s);
      const inside = b.x0 >= plot.left && b.x1 <= plot.right && b.y0 >= plot.top && b.y1 <= plot.bottom;
      return (inside ? 0 : 1000) + taken.filter((t) => overlaps(b, t)).length;
    };
    const spot = spots.reduce((best, s) => (weight(s) < weight(best) ? s : best));
    taken.push(boxOf(spot));
    return spot;
  });
}

/**
 * Ticks of a log axis spanning 10^x0 to 10^x1: over 1.5 decades, every quarter decade, the decades
 * labelled; below, 1, 2 and 5 times a power of ten, all labelled, or every integer mantissa where
 * those give fewer than three, or five ticks in between where even those give fewer than two.
 */
export function logTicks(x0: number, x1: number): { value: number; label: boolean }[] {
  if (x1 - x0 >= 1.5) {
    const ticks = [];
    for (let e = Math.ceil(x0 * 4) / 4; e <= x1; e += 0.25) ticks.push({ value: 10 ** e, label: Number.isInteger(e) });
    return ticks;
  }
  const within = (mantissas: readonly number[]) => {
    const values = [];
    for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) for (const m of mantissas) values.push(m * 10 ** e);
    return values.filter((v) => Math.log10(v) >= x0 && Math.log10(v) <= x1);
  };
  const coarse = within([1, 2, 5]);
  const fine = coarse.length >= 3 ? coarse : within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A span narrower than one mantissa step: five ticks evenly spaced, at three significant digits.
  const values = fine.length >= 2 ? fine : [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => +(10 ** (x0 + f * (x1 - x0))).toPrecision(3));
  return values.map((value) => ({ value, label: true }));
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
