/**
 * Throughput of PNG decoding and of the MATLAB-exact bicubic x4 downscale on real SR images, each
 * next to a reference measured in the same run, because absolute numbers on shared machines are
 * noisy and only the ratios travel:
 * - decode vs zlib inflate of the same IDAT bytes alone (the floor any PNG decoder pays);
 * - imresize (separable, weights precomputed per row/column) vs a straightforward implementation
 *   that recomputes the kernel weights for every output sample (same result, checked).
 *
 * Usage: node dist/bench.js [--json] [--data DIR]
 */
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { modcrop } from './crop.js';
import { resolveDataRoot } from './data-root.js';
import { DataError } from './errors.js';
import { createImage, type ImageU8 } from './image.js';
import { cubic, imresize } from './imresize.js';
import { decodePng } from './png.js';
import { readPngLayout } from './png-chunks.js';
import { listHrFiles, resolveSetDir } from './set-folders.js';

const ROUNDS = 5;
const SCALE = 4;

interface Measure {
  name: string;
  mpPerSecond: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const dataArg = args.indexOf('--data');
  const root = resolveDataRoot(dataArg >= 0 ? { explicit: args[dataArg + 1] } : {});

  const files = [...(await listHrFiles(resolveSetDir(root, 'Set14'))), ...(await listHrFiles(resolveSetDir(root, 'B100'))).slice(0, 6)];
  const bytes = files.map((f) => readFileSync(f));
  const idat = bytes.map((b) => Buffer.concat(readPngLayout(b).idat));
  const images = bytes.map((b, i) => decodePng(b, files[i]));
  const megapixels = images.reduce((s, img) => s + (img.width * img.height) / 1e6, 0);
  const hrs = images.map((img) => modcrop(img, SCALE));
  const hrMegapixels = hrs.reduce((s, img) => s + (img.width * img.height) / 1e6, 0);
  // The unoptimised resize is slow: it runs on the first few images only.
  const naiveSet = hrs.slice(0, 3);
  const naiveMegapixels = naiveSet.reduce((s, img) => s + (img.width * img.height) / 1e6, 0);
  for (const hr of naiveSet) {
    if (!Buffer.from(naiveImresize(hr, 1 / SCALE).data).equals(Buffer.from(imresize(hr, { scale: 1 / SCALE }).data))) {
      throw new Error('bench: the unoptimised reference resize disagrees with imresize');
    }
  }

  // Rounds interleave the measures so that a slow spell of the machine hits all of them.
  const samples: Record<string, number[]> = { decode: [], inflate: [], imresize: [], naive: [] };
  for (let r = 0; r < ROUNDS; r++) {
    samples.decode.push(rate(megapixels, () => bytes.forEach((b) => decodePng(b))));
    samples.inflate.push(rate(megapixels, () => idat.forEach((d) => inflateSync(d))));
    samples.imresize.push(rate(hrMegapixels, () => hrs.forEach((hr) => imresize(hr, { scale: 1 / SCALE }))));
    samples.naive.push(rate(naiveMegapixels, () => naiveSet.forEach((hr) => naiveImresize(hr, 1 / SCALE))));
  }
  const m = (name: string): Measure => ({ name, mpPerSecond: median(samples[name]) });
  const decode = m('decode');
  const inflate = m('inflate');
  const resize = m('imresize');
  const naive = m('naive');
  const result = {
    images: files.length,
    megapixels: round(megapixels, 2),
    rounds: ROUNDS,
    decodePngMPs: round(decode.mpPerSecond, 1),
    inflateOnlyMPs: round(inflate.mpPerSecond, 1),
    decodeVsInflate: round(decode.mpPerSecond / inflate.mpPerSecond, 3),
    imresizeX4MPs: round(resize.mpPerSecond, 1),
    naiveImresizeX4MPs: round(naive.mpPerSecond, 2),
    imresizeSpeedup: round(resize.mpPerSecond / naive.mpPerSecond, 1),
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`data bench: ${result.images} HR images (Set14 + 6 of B100), ${result.megapixels} MP, median of ${ROUNDS} rounds`);
  console.log(`  PNG decode                       ${fmt(result.decodePngMPs)} MP/s`);
  console.log(`  reference: zlib inflate of IDAT  ${fmt(result.inflateOnlyMPs)} MP/s  (same files, inflate alone)`);
  console.log(`  decode / inflate                 ${fmt(result.decodeVsInflate, 3)}       (1 = unfiltering and copying are free)`);
  console.log(`  imresize x4 down                 ${fmt(result.imresizeX4MPs)} MP/s  (of HR input)`);
  console.log(`  reference: unoptimised bicubic   ${fmt(result.naiveImresizeX4MPs)} MP/s  (weights recomputed per sample)`);
  console.log(`  imresize speedup                 ${fmt(result.imresizeSpeedup)}x     (outputs checked identical)`);
}

/** Megapixels per second of one run of `work`. */
function rate(megapixels: number, work: () => void): number {
  const t0 = performance.now();
  work();
  return megapixels / ((performance.now() - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function fmt(v: number, digits = 1): string {
  return v.toFixed(digits).padStart(7);
}

/**
 * MATLAB's bicubic as one would first write it: two passes, and for every output sample the taps
 * and weights are recomputed from the kernel. The precomputed version must match it exactly.
 */
function naiveImresize(img: ImageU8, scale: number): ImageU8 {
  const outH = Math.ceil(scale * img.height);
  const outW = Math.ceil(scale * img.width);
  const weightsAt = (x: number, inLen: number): { idx: number[]; w: number[] } => {
    const shrink = scale < 1;
    const kw = shrink ? 4 / scale : 4;
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kw / 2);
    const idx: number[] = [];
    const w: number[] = [];
    let sum = 0;
    for (let j = 0; j < Math.ceil(kw) + 2; j++) {
      const d = u - (left + j);
      const v = shrink ? scale * cubic(scale * d) : cubic(d);
      w.push(v);
      sum += v;
      const k = left + j - 1;
      const m = ((k % (2 * inLen)) + 2 * inLen) % (2 * inLen);
      idx.push(m < inLen ? m : 2 * inLen - 1 - m);
    }
    return { idx, w: w.map((v) => v / sum) };
  };
  const toU8 = (v: number): number => Math.min(255, Math.max(0, Math.floor(v + 0.5)));
  const c = img.channels;
  const mid = createImage(img.width, outH, c);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let k = 0; k < c; k++) {
        const { idx, w } = weightsAt(y + 1, img.height);
        let acc = 0;
        for (let t = 0; t < idx.length; t++) acc += w[t] * img.data[(idx[t] * img.width + x) * c + k];
        mid.data[(y * img.width + x) * c + k] = toU8(acc);
      }
    }
  }
  const out = createImage(outW, outH, c);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      for (let k = 0; k < c; k++) {
        const { idx, w } = weightsAt(x + 1, img.width);
        let acc = 0;
        for (let t = 0; t < idx.length; t++) acc += w[t] * mid.data[(y * img.width + idx[t]) * c + k];
        out.data[(y * outW + x) * c + k] = toU8(acc);
      }
    }
  }
  return out;
}

main().catch((err: unknown) => {
  if (err instanceof DataError) {
    console.error(`bench: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
