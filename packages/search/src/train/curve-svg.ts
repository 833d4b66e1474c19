/** One finished epoch of a training run, as the curve plots it. */
export interface CurvePoint {
  readonly epoch: number;
  /** Mean training L1 loss over the epoch's steps. */
  readonly loss: number;
  readonly validationPsnr: number;
}

const W = 640;
const PANEL_H = 200;
const M = { left: 64, right: 24, top: 54, gap: 44, bottom: 44 };

/**
 * The training curve as an SVG: validation PSNR per epoch (the best epoch ringed: its weights are
 * `best.qnc`) above the mean training loss per epoch, sharing the epoch axis. One point draws a
 * dot, so the file is useful from the first epoch on.
 */
export function trainingCurveSvg(points: readonly CurvePoint[], title: string): string {
  if (points.length === 0) throw new RangeError('trainingCurveSvg: no epochs to plot');
  const H = M.top + 2 * PANEL_H + M.gap + M.bottom;
  const epochs = points.map((p) => p.epoch + 1);
  const [x0, x1] = epochs.length > 1 ? [Math.min(...epochs), Math.max(...epochs)] : [epochs[0]! - 1, epochs[0]! + 1];
  const px = (e: number) => round1(M.left + ((e - x0) / (x1 - x0)) * (W - M.left - M.right));
  const best = points.reduce((a, b) => (b.validationPsnr > a.validationPsnr ? b : a));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
    ...panel(
      points.map((p) => p.validationPsnr),
      M.top,
      'validation PSNR (dB)',
      '#d62728',
      2,
    ),
    ...panel(
      points.map((p) => p.loss),
      M.top + PANEL_H + M.gap,
      'training L1 loss',
      '#1f77b4',
      4,
    ),
    `<circle cx="${px(best.epoch + 1)}" cy="${panelY(
      points.map((p) => p.validationPsnr),
      M.top,
    )(best.validationPsnr)}" r="7" fill="none" stroke="black"/>`,
    `<text x="${W - M.right}" y="${M.top - 6}" text-anchor="end">best: epoch ${best.epoch + 1}, ${best.validationPsnr.toFixed(2)} dB</text>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">epoch</text>`,
  ];
  const xStep = Math.max(1, Math.ceil((x1 - x0) / 10));
  const axisY = M.top + 2 * PANEL_H + M.gap;
  for (let e = Math.ceil(x0); e <= x1; e += xStep) parts.push(`<text x="${px(e)}" y="${axisY + 18}" text-anchor="middle">${e}</text>`);
  parts.push('</svg>', '');
  return parts.join('\n');

  function panel(values: readonly number[], top: number, label: string, colour: string, digits: number): string[] {
    const py = panelY(values, top);
    const bottom = top + PANEL_H;
    const [lo, hi] = range(values);
    const out = [
      `<line x1="${M.left}" y1="${bottom}" x2="${W - M.right}" y2="${bottom}" stroke="black"/>`,
      `<line x1="${M.left}" y1="${top}" x2="${M.left}" y2="${bottom}" stroke="black"/>`,
      `<text transform="translate(16 ${top + PANEL_H / 2}) rotate(-90)" text-anchor="middle">${label}</text>`,
    ];
    for (const v of [lo, (lo + hi) / 2, hi]) {
      out.push(
        `<line x1="${M.left - 4}" y1="${py(v)}" x2="${W - M.right}" y2="${py(v)}" stroke="#ddd"/>`,
        `<text x="${M.left - 6}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(digits)}</text>`,
      );
    }
    const xy = values.map((v, i) => `${px(epochs[i]!)},${py(v)}`);
    if (xy.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${xy.join(' ')}"/>`);
    for (const p of xy) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${colour}"/>`);
    }
    return out;
  }
}

/** The panel's y mapping: its values' range, padded by a tenth, onto [top, top + PANEL_H]. */
function panelY(values: readonly number[], top: number): (v: number) => number {
  const [lo, hi] = range(values);
  const pad = (hi - lo) * 0.1;
  return (v) => round1(top + PANEL_H - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * PANEL_H);
}

function range(values: readonly number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  // A flat series still needs a span to draw.
  return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
