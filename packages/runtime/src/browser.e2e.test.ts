// The browser build end to end: the demo page, served on 127.0.0.1, loads a model and upscales in
// headless Chromium; its output must equal Node's byte for byte (both kernels), and a damaged model
// must show the ArtifactError. Without /usr/bin/chromium the page tests are skipped, unless
// QUANTNAS_REQUIRE_BROWSER=1, which makes the missing browser a failure.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_BUNDLE, ensureBrowserBuild } from '../scripts/build-browser.mjs';
import { startDemoServer, type DemoServer } from './demo-server.js';
import { ArtifactError, decodeArtifact, encodeArtifact } from './container.js';
import { createSession, type SessionInfo } from './engine.js';
import type { RgbImage } from './image.js';
import { syntheticRfdn } from './synthetic-model.js';
import { chromiumForTests, launchChromium } from './chromium-test-helpers.js';
import { seeded } from './test-helpers.js';

const { hasChromium, requireBrowser, skipReason } = chromiumForTests('runtime', 'the browser tests');

interface DemoHandle {
  setImage(image: { width: number; height: number; data: number[] }): void;
  readonly result: RgbImage | undefined;
  readonly session: { readonly info: SessionInfo } | undefined;
}
declare global {
  interface Window {
    quantnasDemo: DemoHandle;
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  const i = a.findIndex((v, k) => v !== b[k]);
  return i < 0 ? 'equal' : `byte ${i}: ${a[i]} vs ${b[i]}`;
}

describe('browser bundle', () => {
  it('is built and references no Node module', async () => {
    await ensureBrowserBuild();
    const text = await readFile(BROWSER_BUNDLE, 'utf8');
    expect(text).not.toMatch(/from\s*["']node:|import\s*\(?\s*["']node:|require\(/);
    expect(text).toContain('new URL("./kernels.wasm",import.meta.url)');
  });

  it('has Chromium when QUANTNAS_REQUIRE_BROWSER=1', () => {
    if (requireBrowser) expect(hasChromium, skipReason).toBe(true);
  });
});

describe.skipIf(!hasChromium)('demo page in headless Chromium', () => {
  let dir: string;
  let server: DemoServer;
  let browser: Browser;
  let model: Uint8Array;
  let tampered: Uint8Array;
  const image: RgbImage = (() => {
    const r = seeded(11);
    const width = 37;
    const height = 23;
    return { width, height, channels: 3, data: Uint8Array.from({ length: width * height * 3 }, () => r.int(0, 255)) };
  })();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quantnas-browser-'));
    // Mixed 4/8-bit ops with int4 weights, ESA and ADQ: every layer type in the page.
    const { header, blob } = syntheticRfdn({ seed: 5, channels: 24, cells: 2, scale: 3 });
    model = encodeArtifact(header, blob);
    tampered = model.slice();
    tampered[tampered.length - 5]! ^= 0x10;
    await writeFile(join(dir, 'rfdn.qnas'), model);
    await writeFile(join(dir, 'tampered.qnas'), tampered);
    await ensureBrowserBuild();
    server = await startDemoServer({ models: dir });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function openDemo(query: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    await page.goto(`${server.url}?${query}`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 30_000 });
    return { page, problems };
  }

  async function upscaleInPage(query: string) {
    const { page, problems } = await openDemo(query);
    try {
      expect(await page.textContent('#error')).toBe('');
      await page.evaluate((rgb) => window.quantnasDemo.setImage(rgb), { width: image.width, height: image.height, data: [...image.data] });
      await page.click('#upscale');
      await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
      expect(await page.textContent('#error')).toBe('');
      const read = await page.evaluate(() => {
        const result = window.quantnasDemo.result!;
        const canvas = document.getElementById('output-view') as HTMLCanvasElement;
        const rgba = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        return {
          width: result.width,
          height: result.height,
          data: [...result.data],
          canvas: [...rgba],
          info: window.quantnasDemo.session!.info,
          status: document.getElementById('status')!.textContent,
          shown: document.getElementById('model-info')!.textContent,
        };
      });
      expect(problems).toEqual([]);
      return { ...read, data: Uint8Array.from(read.data), canvas: Uint8Array.from(read.canvas.filter((_, i) => i % 4 !== 3)) };
    } finally {
      await page.close();
    }
  }

  it('upscales exactly as Node does, with either kernel', async () => {
    // The sources run here: the kernels come from dist/, as in the other engine tests.
    const session = await createSession(model, { kernels: { source: new URL('../dist/kernels.wasm', import.meta.url), relaxedSimd: 'off' } });
    const expected = await session.upscale(image);
    await session.dispose();
    expect(new Set(expected.data).size, 'a non-trivial image').toBeGreaterThan(50);
    const costs = decodeArtifact(model).header.metadata!.cost!;
    for (const kernels of ['auto', 'off']) {
      // tile=8: many tiles in the page against one whole-image tile in Node.
      const page = await upscaleInPage(`model=/models/rfdn.qnas&tile=8&kernels=${kernels}`);
      expect([page.width, page.height]).toEqual([expected.width, expected.height]);
      expect(firstDifference(page.data, expected.data), `kernels=${kernels}, relaxed=${page.info.relaxedSimd}`).toBe('equal');
      expect(firstDifference(page.canvas, expected.data), 'canvas').toBe('equal');
      expect(page.info.tile).toBe(8);
      // Chromium has relaxed SIMD: 'auto' compares its relaxed kernel with Node's plain one.
      expect(page.info.relaxedSimd).toBe(kernels === 'auto');
      expect(page.status).toMatch(/^Upscaled 37×23 → 111×69 in [\d.]+ ms$/);
      expect(page.info.macsPerLrPixel).toBe(costs.macsPerLrPixel);
      expect(page.info.bitOpsPerLrPixel).toBe(costs.bitOpsPerLrPixel);
      expect(page.shown).toContain('BitOps per LR pixel');
    }
  });

  it('shows the ArtifactError of a damaged model', async () => {
    let expected = '';
    try {
      decodeArtifact(tampered, 'tampered.qnas');
    } catch (error) {
      expect(error).toBeInstanceOf(ArtifactError);
      expected = `ArtifactError: ${(error as Error).message}`;
    }
    expect(expected).toContain('checksum');
    const { page, problems } = await openDemo('model=/models/tampered.qnas');
    try {
      expect(await page.getAttribute('body', 'data-state')).toBe('error');
      expect(await page.textContent('#error')).toBe(expected);
      expect(await page.isDisabled('#upscale')).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
