// Tests load the kernels from dist/: rebuild them first when the AssemblyScript sources changed.
// Thread tests need the worker as JavaScript: bundle it from the sources (esbuild, which vite
// brings) so they never run a stale build.
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildKernels, kernelsStale } from './build-wasm.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const TEST_WORKER = join(root, 'dist/test/engine-worker.mjs');

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

async function bundleWorker() {
  const sources = (await readdir(join(root, 'src'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'src', f));
  const newest = Math.max(...(await Promise.all(sources.map(mtime))));
  if ((await mtime(TEST_WORKER)) > newest) return;
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(root, 'src/engine-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: TEST_WORKER,
    logLevel: 'error',
  });
}

export default async function setup() {
  if (await kernelsStale()) await buildKernels();
  await bundleWorker();
}
