import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoServer, type DemoServer } from '../scripts/serve-demo.mjs';

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
