// The report's HTML page in headless Chromium: it renders (the plot's screenshot is not blank), the
// plot has one mark per finished run, the table one row per group, and the page makes no request.
// Without /usr/bin/chromium the page test is skipped, unless QUANTNAS_REQUIRE_BROWSER=1, which makes
// the missing browser a failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromiumForTests, launchChromium } from '@quantnas/runtime/chromium-test-helpers';
import type { Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLambdaSweep } from '../report/test-helpers.js';
import { runCli } from '../test-helpers.js';

const { hasChromium, requireBrowser, skipReason } = chromiumForTests('cli', 'the report page test');

it('has Chromium when QUANTNAS_REQUIRE_BROWSER=1', () => {
  if (requireBrowser) expect(hasChromium, skipReason).toBe(true);
});

describe.skipIf(!hasChromium)('the report page in headless Chromium', () => {
  let work: string;
  let browser: Browser;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'quantnas-report-page-'));
    // Five finished runs in three groups, one job pending.
    writeLambdaSweep(join(work, 'sweep'));
    const result = await runCli(['report', join(work, 'sweep'), '--out', join(work, 'report')]);
    expect(result.code, result.stderr).toBe(0);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('renders the plot, a mark per run, a row per group, and requests nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const url = pathToFileURL(join(work, 'report.html')).href;
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => problems.push(`console ${message.type()}: ${message.text()}`));
    try {
      await page.goto(url, { waitUntil: 'load' });
      expect(await page.title()).toBe('quick λ sweep');
      expect(await page.locator('#plot svg .run').count()).toBe(5);
      expect(await page.locator('#plot svg .group').count()).toBe(3);
      expect(await page.locator('#groups tbody tr').count()).toBe(3);
      // The drawings embedded as data: images were decoded (4 genotypes, 5 training curves).
      const images = await page.locator('img').evaluateAll((all) => all.map((img) => (img as HTMLImageElement).naturalWidth));
      expect(images).toHaveLength(9);
      for (const width of images) expect(width).toBe(240);

      const png = PNG.sync.read(await page.locator('#plot svg').screenshot());
      let ink = 0;
      let red = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
        if (r < 240 || g < 240 || b < 240) ink++;
        if (r > 180 && g < 90 && b < 90) red++;
      }
      const pixels = png.width * png.height;
      // The plot's own size, give or take the pixel its position rounds to.
      expect(Math.abs(png.width - 720) + Math.abs(png.height - 460)).toBeLessThanOrEqual(2);
      // Axes, grid, text and marks: a few percent of the plot; the searched groups' red marks among them.
      expect(ink / pixels).toBeGreaterThan(0.02);
      expect(ink / pixels).toBeLessThan(0.5);
      expect(red).toBeGreaterThan(50);

      expect(requests).toEqual([url]);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
