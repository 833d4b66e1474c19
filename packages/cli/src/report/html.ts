import type { ReportGroup } from './aggregate.js';
import type { ReportRun } from './inputs.js';
import { BITOPS_AXIS } from './cost.js';
import { groupTable, pendingLine, runTable, versionsLine, type ReportContent } from './markdown.js';
import { escapeXml } from './plot.js';

const STYLE = `
body { font-family: sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; white-space: nowrap; }
th:nth-child(-n + 3), td:nth-child(-n + 3) { text-align: left; }
tr.front td:first-child { font-weight: bold; }
figure { margin: 1rem 0; }
#plot svg { display: block; }
figure img { max-width: 100%; border: 1px solid #eee; }
section.group { border-top: 1px solid #ccc; margin-top: 1.5rem; }
.drawings { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.note { color: #555; }
`;

function table({ header, rows }: { header: string[]; rows: string[][] }, id: string, front: (i: number) => boolean): string {
  const head = `<thead><tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead>`;
  const body = rows.map((r, i) => `<tr${front(i) ? ' class="front"' : ''}>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table id="${id}">\n${head}\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** An SVG read from a run's files, as an image: nothing in it runs or reaches the page. */
function image(svg: string | undefined, alt: string): string {
  if (svg === undefined) return '';
  return `<figure><img alt="${escapeXml(alt)}" src="data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}"><figcaption>${escapeXml(alt)}</figcaption></figure>`;
}

function drawings(run: ReportRun, read: (path: string) => string | undefined): string {
  const parts = [
    image(run.files.genotypeSvg && read(run.files.genotypeSvg), `genotype, ${run.label}`),
    image(run.files.curveSvg && read(run.files.curveSvg), `training curve, ${run.label}`),
  ].filter((p) => p !== '');
  return parts.length === 0 ? '<p class="note">No genotype drawing or training curve in this run.</p>' : `<div class="drawings">${parts.join('\n')}</div>`;
}

function groupSection(g: ReportGroup, index: number, read: (path: string) => string | undefined): string {
  const [first, ...others] = g.runs;
  const seed = (r: ReportRun) => (r.seed === null ? r.id : `seed ${r.seed}`);
  return [
    `<section class="group" id="group-${index + 1}">`,
    `<h3>${escapeXml(g.name)}</h3>`,
    `<p class="note">${escapeXml(`${g.kind}, ${g.runs.length} seed${g.runs.length === 1 ? '' : 's'}: ${g.runs.map(seed).join(', ')}`)}</p>`,
    drawings(first!, read),
    ...others.map((r) => `<details><summary>${escapeXml(`${seed(r)}: ${r.label}`)}</summary>\n${drawings(r, read)}\n</details>`),
    '</section>',
  ].join('\n');
}

/**
 * The report as one self-contained page: the groups table, the plot inline, the runs table, and
 * each group's genotype drawing and training curve (its first seed's; the other seeds' folded).
 * Every text taken from the runs is escaped, the drawings read from their files are embedded as
 * `data:` images, and the page's Content-Security-Policy allows no request beyond them.
 */
export function reportHtml(content: ReportContent, plotSvg: string, read: (path: string) => string | undefined): string {
  const { title, set, groups, pending } = content;
  const axis = content.axis ?? BITOPS_AXIS;
  const runs = runTable(groups, set, axis);
  const runFront = runs.rows.map((r) => r[r.length - 1] === '★');
  const waiting = pendingLine(pending);
  const versions = versionsLine(content.runs);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeXml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeXml(title)}</h1>`,
    `<p class="note">x${groups[0]?.scale ?? 4}, PSNR on the Y channel as mean ± sample standard deviation over each group's seeds (±— for one seed); ` +
      `SSIM, BitOps (at 32×32 LR) and times are means. ★: no other group reaches a higher mean ${escapeXml(set)} PSNR at no more mean ${escapeXml(axis.name)}.</p>`,
    table(groupTable(groups, axis), 'groups', (i) => groups[i]!.pareto),
    waiting ? `<p class="pending">${escapeXml(waiting)}</p>` : '',
    versions ? `<p class="pending">${escapeXml(versions)}</p>` : '',
    `<figure id="plot">\n${plotSvg.trimEnd()}\n</figure>`,
    `<details><summary>Runs (${runs.rows.length})</summary>\n${table(runs, 'runs', (i) => runFront[i]!)}\n</details>`,
    '<h2>Groups</h2>',
    ...groups.map((g, i) => groupSection(g, i, read)),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
