// Tests run the TypeScript sources, but worker threads need JavaScript: bundle the search worker
// (with the sibling packages' sources) so that thread tests never run a stale build.
// Third-party packages stay external and load from node_modules.
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const packages = dirname(root);
export const TEST_WORKER = join(root, 'dist/test/search-worker.mjs');

async function newestSource(dir) {
  let newest = -1;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

async function bundleWorker() {
  const sourceDirs = (await readdir(packages)).map((p) => join(packages, p, 'src'));
  const newest = Math.max(...(await Promise.all(sourceDirs.map((d) => newestSource(d).catch(() => -1)))));
  if ((await mtime(TEST_WORKER)) > newest) return;
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(root, 'src/parallel/worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: TEST_WORKER,
    logLevel: 'error',
    conditions: ['@quantnas/source'],
    plugins: [
      {
        name: 'external-dependencies',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@quantnas/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
}

export default async function setup({ provide }) {
  await bundleWorker();
  process.env.QUANTNAS_SEARCH_WORKER = TEST_WORKER;
  provide('searchWorker', TEST_WORKER);
}
