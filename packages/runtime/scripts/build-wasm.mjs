// Compiles the AssemblyScript kernels (assembly/) into dist/kernels.wasm (SIMD128) and
// dist/kernels-relaxed.wasm (SIMD128 + relaxed SIMD). Run by `npm run build`, and by the test
// setup when the sources are newer than the modules.
import { mkdir, rename, stat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const MODULES = [
  { entry: 'assembly/index.ts', out: 'dist/kernels.wasm', features: ['simd'] },
  { entry: 'assembly/relaxed.ts', out: 'dist/kernels-relaxed.wasm', features: ['simd', 'relaxed-simd'] },
];

async function mtime(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return -1;
  }
}

/** Whether some module is missing or older than a kernel source. */
export async function kernelsStale() {
  const sources = (await readdir(join(root, 'assembly'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'assembly', f));
  const newest = Math.max(...(await Promise.all([...sources, fileURLToPath(import.meta.url)].map(mtime))));
  const outputs = await Promise.all(MODULES.map((m) => mtime(join(root, m.out))));
  return outputs.some((t) => t < newest);
}

export async function buildKernels() {
  await mkdir(join(root, 'dist'), { recursive: true });
  for (const m of MODULES) {
    const out = join(root, m.out);
    // Written under a temporary name and renamed, so a concurrent reader never sees half a module.
    const tmp = `${out}.${process.pid}.tmp`;
    const args = [
      join(root, m.entry),
      '--outFile',
      tmp,
      '--optimizeLevel',
      '3',
      '--shrinkLevel',
      '0',
      '--noAssert',
      '--runtime',
      'stub',
      '--use',
      'abort=',
      ...m.features.flatMap((f) => ['--enable', f]),
    ];
    const { error, stderr } = await asc.main(args);
    if (error) throw new Error(`asc ${m.entry}: ${error.message}\n${stderr.toString()}`);
    await rename(tmp, out);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildKernels();
}
