// Backend selection and the benchmark may run on webgpu, where synchronous reads fail in Node.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('backend and bench sources never read tensors synchronously', async () => {
  const offenders: string[] = [];
  for (const dir of ['backend', 'backend/kernels', 'bench']) {
    const path = join(import.meta.dirname, '..', dir);
    for (const file of await readdir(path)) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
      const text = await readFile(join(path, file), 'utf8');
      if (/\.(dataSync|arraySync)\(/.test(text)) offenders.push(`${dir}/${file}`);
    }
  }
  expect(offenders).toEqual([]);
});
