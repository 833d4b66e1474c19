import type { BitWidth } from '@quantnas/quant';
import { genotypeCost } from './cost.js';
import type { Genotype } from './genotype.js';
import { checkGenotype } from './genotype-check.js';
import type { GraphPlan, SpacePlan } from './plan.js';
import { resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';

export interface GenotypeSvgOptions {
  /** Cell count the genotype was searched at; default the space's. */
  readonly cells?: number;
  /** Boxes per line before a row wraps; default 9 (an rfdn cell fits on one line). */
  readonly perLine?: number;
}

/** Fill colours by bit-width: warm for few bits, cool for many; fixed layers grey. */
const BIT_COLOURS: Readonly<Record<number, string>> = {
  2: '#f4a6a6',
  3: '#f8c58c',
  4: '#fde58a',
  5: '#e2f0a0',
  6: '#bfe3a0',
  7: '#9fd6a6',
  8: '#7cc4a4',
  32: '#9ecae1',
};
const FIXED = '#d9d9d9';

interface Box {
  readonly row: string;
  readonly title: string;
  readonly lines: readonly string[];
  readonly fill: string;
  readonly fixed: boolean;
  readonly bits?: BitWidth;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function collectBoxes(plan: SpacePlan, genotype: Genotype): Box[] {
  const boxes: Box[] = [];
  const visit = (graph: GraphPlan, cell: string | null) => {
    for (const step of graph.steps) {
      const row = cell ?? step.grid.toUpperCase();
      switch (step.kind) {
        case 'mixed': {
          const choice = genotype.blocks[step.group]!;
          const shared = step.group !== step.name ? ` (α: ${step.group})` : '';
          boxes.push({
            row,
            title: step.name,
            lines: [choice.op, `${choice.bits === 32 ? 'fp32' : `${choice.bits}-bit`} · ${step.inChannels}→${step.outChannels}${shared}`],
            fill: BIT_COLOURS[choice.bits] ?? '#ffffff',
            fixed: false,
            bits: choice.bits,
          });
          break;
        }
        case 'conv':
          boxes.push({
            row,
            title: step.name,
            lines: [
              `conv ${step.kernel[0]}×${step.kernel[1]}${step.groups > 1 ? ` g${step.groups}` : ''}`,
              `${plan.fixedBits}-bit fixed · ${step.inChannels}→${step.outChannels}`,
            ],
            fill: FIXED,
            fixed: true,
          });
          break;
        case 'esa':
          boxes.push({ row, title: step.name, lines: ['ESA', `${plan.fixedBits}-bit fixed · ${step.outChannels}`], fill: FIXED, fixed: true });
          break;
        case 'residual':
          visit(step.body, cell);
          break;
        case 'repeat':
          step.iterations.forEach((it, i) => visit(it, cell ?? `${step.name}${i}`));
          break;
        default:
          break;
      }
    }
  };
  visit(plan.root, null);
  return boxes;
}

/**
 * An SVG drawing of a genotype: searchable blocks in network order, one row per cell (other
 * blocks grouped into LR and HR rows), the chosen op and bits in each box, boxes coloured by
 * bit-width (legend at the bottom), fixed convs and ESA in grey.
 */
export function genotypeSvg(spec: SearchSpaceSpec, genotype: Genotype, options: GenotypeSvgOptions = {}): string {
  const plan = resolveSpace(spec, {
    channels: genotype.channels,
    scale: genotype.scale,
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
  });
  checkGenotype(plan, genotype, undefined, { anyBits: true });
  const boxes = collectBoxes(plan, genotype);
  const perLine = options.perLine ?? 9;
  const [boxW, boxH, gap, labelW, pad] = [176, 58, 10, 70, 16];

  const rows: { label: string; boxes: Box[] }[] = [];
  for (const box of boxes) {
    const last = rows[rows.length - 1];
    if (last && last.label === box.row) last.boxes.push(box);
    else rows.push({ label: box.row, boxes: [box] });
  }
  const cost = genotypeCost(plan, genotype);
  const parts: string[] = [];
  let y = pad + 34;
  for (const row of rows) {
    parts.push(`<text x="${pad}" y="${y + boxH / 2 + 5}" class="row">${escape(row.label)}</text>`);
    row.boxes.forEach((box, i) => {
      const line = Math.floor(i / perLine);
      const x = pad + labelW + (i % perLine) * (boxW + gap);
      const by = y + line * (boxH + gap);
      const dash = box.fixed ? ' stroke-dasharray="4 3"' : '';
      parts.push(
        `<g><title>${escape([box.title, ...box.lines].join('\n'))}</title>` +
          `<rect x="${x}" y="${by}" width="${boxW}" height="${boxH}" rx="6" fill="${box.fill}" stroke="#555"${dash}/>` +
          `<text x="${x + 8}" y="${by + 17}" class="name">${escape(box.title)}</text>` +
          box.lines.map((l, j) => `<text x="${x + 8}" y="${by + 34 + j * 15}" class="${j === 0 ? 'op' : 'meta'}">${escape(l)}</text>`).join('') +
          `</g>`,
      );
    });
    y += Math.ceil(row.boxes.length / perLine) * (boxH + gap) + gap;
  }
  const used = [...new Set(boxes.filter((b) => b.bits !== undefined).map((b) => b.bits!))].sort((a, b) => a - b);
  const legend: { label: string; fill: string }[] = [
    ...used.map((b) => ({ label: b === 32 ? 'full precision' : `${b}-bit`, fill: BIT_COLOURS[b] ?? '#ffffff' })),
    { label: `fixed (${plan.fixedBits}-bit)`, fill: FIXED },
  ];
  y += 6;
  legend.forEach((item, i) => {
    const x = pad + labelW + i * 130;
    parts.push(
      `<rect x="${x}" y="${y}" width="18" height="18" rx="3" fill="${item.fill}" stroke="#555"/><text x="${x + 24}" y="${y + 14}" class="meta">${escape(item.label)}</text>`,
    );
  });
  const width = pad * 2 + labelW + Math.min(perLine, Math.max(...rows.map((r) => r.boxes.length), legend.length)) * (boxW + gap);
  const height = y + 18 + pad;
  const title = `${plan.id} x${plan.scale}, C = ${plan.channels}, ${plan.cells} cell(s): ${(cost.total.bitops / 1e9).toFixed(2)} GBitOps, ${(cost.total.params / 1e3).toFixed(1)}K params at ${cost.input.height}×${cost.input.width} LR`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<style>.name{font-size:12px;font-weight:bold}.op{font-size:12px}.meta{font-size:11px;fill:#333}.row{font-size:13px;font-weight:bold;fill:#444}.title{font-size:15px;font-weight:bold}</style>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${pad}" y="${pad + 12}" class="title">${escape(title)}</text>`,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}
