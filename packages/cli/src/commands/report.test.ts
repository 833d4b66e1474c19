import { describe, expect, it } from 'vitest';
import { reportSvg } from './report.js';
import type { RunSummary } from './run.js';

const run = (label: string, bitops: number, psnr: number): RunSummary => ({
  schemaVersion: 1,
  kind: 'baseline',
  label,
  preset: 'quick',
  space: 'espcn',
  bits: 8,
  scale: 4,
  genotype: null,
  params: 1,
  macs_per_pixel: 1,
  bitops_32x32: bitops,
  bitops_per_output_mp: 1,
  engine: 'int8',
  sets: { Set5: { psnr, ssim: 0.8, bicubic_psnr: 28.43, gain_db: psnr - 28.43 } },
  seconds: {},
  paths: {},
});

describe('reportSvg', () => {
  it('keeps the labels of nearby runs apart', () => {
    // Three runs within a few pixels of each other, as a searched model and two baselines often are.
    const rows = [
      run('searched at a long label', 3.1e8, 29.03),
      run('fsrcnn 4-bit', 3.3e8, 29.04),
      run('espcn 4-bit', 3.2e8, 29.05),
      run('far', 3e9, 30.2),
    ].map((r) => ({ dir: r.label, run: r, pareto: false }));
    const svg = reportSvg(rows, 'Set5');
    const boxes = [...svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)" text-anchor="(start|end)" fill="#1f77b4">([^<]+)<\/text>/g)].map(
      ([, x, y, anchor, text]) => {
        const w = text!.length * 6.6;
        const x0 = anchor === 'start' ? Number(x) : Number(x) - w;
        return { text, x0, x1: x0 + w, y0: Number(y) - 11, y1: Number(y) + 3 };
      },
    );
    expect(boxes.map((b) => b.text).sort()).toEqual(['espcn 4-bit', 'far', 'fsrcnn 4-bit', 'searched at a long label']);
    for (const a of boxes)
      for (const b of boxes) if (a !== b) expect(a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1, `${a.text} / ${b.text}`).toBe(false);
  });
});
