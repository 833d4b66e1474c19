// Bundles the browser entry (src/browser.ts) into dist/browser/quantnas-runtime.js, one ES module,
// and copies the kernel modules beside it, where the loader looks by default
// (new URL('./kernels.wasm', import.meta.url)); copies the demo page (demo/) to dist/demo/, which the
// package ships for `@quantnas/runtime/demo-server`. Part of `npm run build`; the demo and its test
// call it when the sources are newer than the bundle.
import { copyFile, mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildKernels, kernelsStale } from './build-wasm.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const BROWSER_DIR = join(root, 'dist/browser');
export const BROWSER_BUNDLE = join(BROWSER_DIR, 'quantnas-runtime.js');
const WASM = ['kernels.wasm', 'kernels-relaxed.wasm'];
const DEMO_DIR = join(root, 'dist/demo');
const DEMO_FILES = ['index.html', 'demo.js'];

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

/** Whether the bundle or a copied module is missing or older than what it is made from. */
export async function browserBundleStale() {
  if (await kernelsStale()) return true;
  const sources = (await readdir(join(root, 'src'))).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(root, 'src', f));
  const inputs = [...sources, fileURLToPath(import.meta.url), ...WASM.map((f) => join(root, 'dist', f)), ...DEMO_FILES.map((f) => join(root, 'demo', f))];
  const newest = Math.max(...(await Promise.all(inputs.map(mtime))));
  const outputs = await Promise.all([BROWSER_BUNDLE, ...WASM.map((f) => join(BROWSER_DIR, f)), ...DEMO_FILES.map((f) => join(DEMO_DIR, f))].map(mtime));
  return outputs.some((t) => t < newest);
}

// The worker pool needs node:worker_threads: the bundle gets a stand-in that refuses threads > 1.
const withoutNodePool = {
  name: 'without-node-pool',
  setup(b) {
    b.onResolve({ filter: /^\.\/node-pool\.js$/ }, () => ({ path: join(root, 'src/browser-pool.ts') }));
  },
};

async function writeAtomically(path, bytes) {
  // A page or test reading dist/browser meanwhile never sees half a file.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

export async function buildBrowser() {
  if (await kernelsStale()) await buildKernels();
  await mkdir(BROWSER_DIR, { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'src/browser.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Every engine with WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4) runs ES2022.
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    outfile: BROWSER_BUNDLE,
    write: false,
    plugins: [withoutNodePool],
    logLevel: 'warning',
  });
  for (const file of result.outputFiles) await writeAtomically(file.path, file.contents);
  for (const f of WASM) {
    const tmp = join(BROWSER_DIR, `${f}.${process.pid}.tmp`);
    await copyFile(join(root, 'dist', f), tmp);
    await rename(tmp, join(BROWSER_DIR, f));
  }
  await mkdir(DEMO_DIR, { recursive: true });
  for (const f of DEMO_FILES) {
    const tmp = join(DEMO_DIR, `${f}.${process.pid}.tmp`);
    await copyFile(join(root, 'demo', f), tmp);
    await rename(tmp, join(DEMO_DIR, f));
  }
  return { bundle: BROWSER_BUNDLE, files: [...result.outputFiles.map((f) => basename(f.path)), ...WASM, ...DEMO_FILES.map((f) => `../demo/${f}`)] };
}

/** Builds only when something changed (the demo server and the browser test). */
export async function ensureBrowserBuild() {
  if (await browserBundleStale()) await buildBrowser();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files } = await buildBrowser();
  console.log(`browser bundle: dist/browser/{${files.join(', ')}}`);
}
