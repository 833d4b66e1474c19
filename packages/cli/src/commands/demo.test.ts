import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL, loadModelBytes } from '@quantnas/models';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, runCli as run } from '../test-helpers.js';
import { demoServerOptions, startDemo } from './demo.js';

describe('quantnas demo', () => {
  it('opens the bundled model when no --models folder is given', async () => {
    const server = await startDemo({ port: '0' });
    try {
      const page = new URL(server.url);
      expect(page.pathname).toBe('/demo/');
      const modelUrl = page.searchParams.get('model');
      expect(modelUrl).toBe(`/model/${DEFAULT_MODEL}.qnas`);
      const redirect = await fetch(`http://127.0.0.1:${server.port}/`, { redirect: 'manual' });
      expect(redirect.headers.get('location')).toBe(`${page.pathname}${page.search}`);
      const served = await fetch(new URL(modelUrl!, page));
      expect(served.status).toBe(200);
      expect(Buffer.from(await served.arrayBuffer()).equals(Buffer.from(await loadModelBytes()))).toBe(true);
      const html = await fetch(page);
      expect(html.status).toBe(200);
      expect(await html.text()).toContain('demo.js');
    } finally {
      await server.close();
    }
  });

  it('serves a folder of models instead, opening none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quantnas-demo-'));
    await writeFile(join(dir, 'a.qnas'), 'bytes');
    expect(demoServerOptions({ port: '0', models: dir })).toEqual({ port: 0, models: dir });
    const server = await startDemo({ port: '0', models: dir });
    try {
      expect(new URL(server.url).search).toBe('');
      expect(await (await fetch(`http://127.0.0.1:${server.port}/models/a.qnas`)).text()).toBe('bytes');
    } finally {
      await server.close();
    }
  });

  it('refuses a bad port and a missing folder in one line', async () => {
    expectOneLineError(await run(['demo', '--port', '80000']), '--port', "'80000'");
    expectOneLineError(await run(['demo', '--port', '0', '--models', '/nonexistent/models']), '/nonexistent/models', 'not a folder');
  });
});
