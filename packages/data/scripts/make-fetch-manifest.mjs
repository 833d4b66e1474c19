// Writes src/fetch/manifest.json, the table `quantnas data fetch` checks downloads against, from a
// complete copy of the SR data (its SHA256SUMS and pairs.csv files, and T91's pixels):
//   node scripts/make-fetch-manifest.mjs DATA_DIR
// Every file is a byte-for-byte copy of an upstream file, so its SHA-256 is the upstream file's;
// T91 is BMP upstream and PNG here, so its entries carry the SHA-256 of the decoded pixels instead
// (see sha256Pixels in src/fetch/pixels-hash.ts, which this mirrors).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: node scripts/make-fetch-manifest.mjs DATA_DIR');
  process.exit(2);
}
const out = join(dirname(dirname(fileURLToPath(import.meta.url))), 'src', 'fetch', 'manifest.json');

const sources = {
  swinir: { repo: 'JingyunLiang/SwinIR', commit: '6545850fbf8df298df73d81f3e8cba638787c8bd' },
  selfexsr: { repo: 'jbhuang0604/SelfExSR', commit: '8f6dd8c1d20cb7e8792a7177b4f6fd677633f598' },
  denoising: { repo: 'majedelhelou/denoising_datasets', commit: '58234876fef6f1b56306705c78dfd40cdb837b86' },
  dcscn: { repo: 'jiny2001/dcscn-super-resolution', commit: 'd382bc30d41c94ac72f8cb148d61cc4864b3b380' },
};

/** Where each local file comes from: [source, upstream path] (or with a conversion). */
function upstreamOf(path) {
  const [set, ...rest] = path.split('/');
  const tail = rest.join('/');
  let m;
  if (set === 'Set5' && (tail.startsWith('HR/') || tail.startsWith('LR_bicubic/'))) return { source: 'swinir', path: `testsets/Set5/${tail}` };
  if ((set === 'Set5' || set === 'Set14') && tail.startsWith('image_SRF_')) return { source: 'selfexsr', path: `data/${set}/${tail}` };
  if (set === 'Set14' && tail.startsWith('HR/')) return { source: 'denoising', path: `CSet14/${tail.slice(3)}` };
  if (set === 'B100' && (m = /^HR\/img_(\d{3})\.png$/.exec(tail))) return { source: 'selfexsr', path: `data/BSD100/image_SRF_3/img_${m[1]}_SRF_3_HR.png` };
  if (set === 'B100' && tail.startsWith('image_SRF_')) return { source: 'selfexsr', path: `data/BSD100/${tail}` };
  if (set === 'T91') return { source: 'dcscn', path: `data/yang91/${tail.replace(/\.png$/, '.bmp')}`, convert: 'bmp-to-png' };
  if (set === 'BSD200') return { source: 'dcscn', path: `data/bsd200/${tail}` };
  throw new Error(`no upstream for ${path}`);
}

function sha256Pixels(png) {
  const channels = 3;
  const rgb = Buffer.alloc(png.width * png.height * channels);
  for (let i = 0, j = 0; i < png.data.length; i += 4, j += 3) rgb.set(png.data.subarray(i, i + 3), j);
  const header = Buffer.from(`${png.width}x${png.height}x${channels}\n`);
  return createHash('sha256').update(header).update(rgb).digest('hex');
}

const sets = {};
for (const line of readFileSync(join(dataDir, 'SHA256SUMS'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const [sha256, rawPath] = line.split(/\s+/);
  const path = rawPath.replace(/^\.\//, '');
  const set = path.split('/')[0];
  const file = path.slice(set.length + 1);
  const up = upstreamOf(path);
  const bytes = readFileSync(join(dataDir, path));
  const entry = { file, source: up.source, path: up.path };
  if (up.convert) {
    const png = PNG.sync.read(bytes);
    entry.convert = up.convert;
    entry.pixelsSha256 = sha256Pixels(png);
    // 24-bit BMP: 54-byte header, rows padded to 4 bytes (used for progress only).
    entry.size = 54 + Math.ceil((png.width * 3) / 4) * 4 * png.height;
  } else {
    entry.sha256 = sha256;
    entry.size = bytes.length;
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new Error(`${path}: SHA256SUMS disagrees with the file`);
  }
  (sets[set] ??= { files: [] }).files.push(entry);
}
for (const [set, value] of Object.entries(sets)) {
  value.files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  try {
    value.pairsCsv = readFileSync(join(dataDir, set, 'pairs.csv'), 'utf8');
  } catch {
    // Training sets have no pairs.csv.
  }
}
const order = ['Set5', 'Set14', 'B100', 'T91', 'BSD200'];
const manifest = { schemaVersion: 1, sources, sets: Object.fromEntries(order.map((s) => [s, sets[s]])) };
writeFileSync(out, JSON.stringify(manifest, null, 1) + '\n');
console.log(`wrote ${out}: ${Object.values(sets).reduce((n, s) => n + s.files.length, 0)} files`);
