// A bundler builds a page that imports @quantnas/models: the `browser` entry is taken (no Node
// module), and the model file is emitted as an asset the bundle's URL points at, byte for byte.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, describe, expect, it } from 'vitest';
import { MODEL_NAMES, modelPath } from './index.js';

// Inside the repository's node_modules, so that the bare import resolves to this workspace package.
const cache = fileURLToPath(new URL('../../../node_modules/.cache/', import.meta.url));
let dir: string | undefined;

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('@quantnas/models in a bundler (vite)', () => {
  it('emits every model as an asset and points the URL at it', async () => {
    await mkdir(cache, { recursive: true });
    dir = await mkdtemp(join(cache, 'quantnas-models-bundle-'));
    await writeFile(
      join(dir, 'entry.js'),
      "import { MODEL_NAMES, modelUrl, loadModelBytes } from '@quantnas/models';\nexport const urls = MODEL_NAMES.map((n) => modelUrl(n).href);\nexport { loadModelBytes };\n",
    );
    const out = join(dir, 'out');
    await build({
      root: dir,
      configFile: false,
      logLevel: 'silent',
      build: { outDir: out, emptyOutDir: true, minify: false, rollupOptions: { input: join(dir, 'entry.js'), preserveEntrySignatures: 'exports-only' } },
    });
    const files = await readdir(join(out, 'assets'));
    const js = files.filter((f) => f.endsWith('.js'));
    expect(js).toHaveLength(1);
    const code = await readFile(join(out, 'assets', js[0]!), 'utf8');
    expect(code).not.toMatch(/["']node:/);
    const models = files.filter((f) => f.endsWith('.qnas'));
    expect(models).toHaveLength(MODEL_NAMES.length);
    for (const name of MODEL_NAMES) {
      const bytes = await readFile(modelPath(name));
      const emitted = await Promise.all(models.map(async (f) => ({ f, same: (await readFile(join(out, 'assets', f))).equals(bytes) })));
      const asset = emitted.find((e) => e.same);
      expect(asset, `${name} emitted`).toBeDefined();
      expect(code).toContain(asset!.f);
    }
  }, 120_000);
});
