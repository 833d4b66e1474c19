// Tests in a real browser: Debian's Chromium driven by playwright-core. Without it the tests skip
// with a warning, unless QUANTNAS_REQUIRE_BROWSER=1 (CI), which makes the missing browser a failure.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser is here and required; warns once (tagged by package) when its tests will skip. */
export function chromiumForTests(tag: string, what: string): { readonly hasChromium: boolean; readonly requireBrowser: boolean; readonly skipReason: string } {
  const requireBrowser = process.env.QUANTNAS_REQUIRE_BROWSER === '1';
  const hasChromium = existsSync(CHROMIUM);
  const skipReason = `${CHROMIUM} not found (Debian: apt-get install chromium); QUANTNAS_REQUIRE_BROWSER=1 makes this a failure`;
  if (!hasChromium && !requireBrowser) console.warn(`[${tag}] skipping ${what}: ${skipReason}`);
  return { hasChromium, requireBrowser, skipReason };
}

/** Headless Chromium with no background traffic: the machine may have no network beyond loopback. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
