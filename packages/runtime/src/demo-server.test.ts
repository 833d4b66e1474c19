import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoServerError, startDemoServer, type DemoServer } from './demo-server.js';

// The demo server serves files inside its mounts only: no path traversal, no symbolic link out.
describe('demo server', () => {
  let dir: string;
  let server: DemoServer;
  let base: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quantnas-demo-server-'));
    const models = join(dir, 'models');
    await mkdir(join(models, 'sub'), { recursive: true });
    await writeFile(join(models, 'real.qnas'), 'model bytes');
    await writeFile(join(dir, 'secret.txt'), 'outside');
    await symlink(join(dir, 'secret.txt'), join(models, 'secret.qnas'));
    await symlink('/etc/hostname', join(models, 'system.qnas'));
    await symlink(dir, join(models, 'up'));
    await symlink(join(models, 'real.qnas'), join(models, 'sub', 'alias.qnas'));
    server = await startDemoServer({ models });
    base = `http://127.0.0.1:${server.port}`;
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('serves a model file', async () => {
    const res = await fetch(`${base}/models/real.qnas`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('model bytes');
  });

  it('follows a link that stays inside the models folder', async () => {
    const res = await fetch(`${base}/models/sub/alias.qnas`);
    expect(res.status).toBe(200);
  });

  it.each(['/models/secret.qnas', '/models/system.qnas', '/models/up/secret.txt', '/models/%2e%2e/secret.txt'])(
    'refuses %s (a link or path leading outside)',
    async (path) => {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('outside');
    },
  );
});

// A model given as one file is served at /model/NAME, and the page's address opens it.
describe('demo server with a model to open', () => {
  let dir: string;
  let server: DemoServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quantnas-demo-model-'));
    await writeFile(join(dir, 'model.qnas'), 'the model');
    server = await startDemoServer({ model: join(dir, 'model.qnas'), modelName: 'my model.qnas' });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('names the model in the page address and redirects / there', async () => {
    expect(server.modelPath).toBe('/model/my model.qnas');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/demo/?model=%2Fmodel%2Fmy%20model.qnas`);
    const res = await fetch(`http://127.0.0.1:${server.port}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/demo/?model=%2Fmodel%2Fmy%20model.qnas');
  });

  it('serves the model and the page', async () => {
    const model = await fetch(new URL(new URL(server.url).searchParams.get('model')!, server.url));
    expect(model.status).toBe(200);
    expect(await model.text()).toBe('the model');
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="./demo.js"></script>');
    expect((await fetch(`http://127.0.0.1:${server.port}/model/other.qnas`)).status).toBe(404);
  });

  it('refuses a missing model or models folder, naming it', async () => {
    await expect(startDemoServer({ model: join(dir, 'none.qnas') })).rejects.toThrow(new DemoServerError(`${join(dir, 'none.qnas')}: no such model file`));
    await expect(startDemoServer({ models: join(dir, 'model.qnas') })).rejects.toThrow(DemoServerError);
  });
});
