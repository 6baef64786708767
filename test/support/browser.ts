import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';

/**
 * Headless Chromium for the browser suites: Debian's `chromium` driven by playwright-core, which
 * never downloads a browser of its own. In CI (`CI=true`) a missing browser fails the suite;
 * elsewhere the suite is skipped with a warning.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const IN_CI = process.env.CI === 'true';

/** Where the suites leave screenshots (ignored by git; CI keeps the folder). */
export const ARTIFACTS = path.resolve(__dirname, '../..', 'test-artifacts');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

type Playwright = typeof import('playwright-core');

function loadPlaywright(): { playwright?: Playwright; missing?: string } {
  try {
    return { playwright: require('playwright-core') as Playwright };
  } catch (error) {
    return { missing: `playwright-core cannot be loaded (${(error as Error).message.split('\n')[0]}): run npm ci` };
  }
}

const loaded = loadPlaywright();

/** Why the browser suites cannot run here, or undefined when they can. */
export const browserMissing: string | undefined =
  loaded.missing ??
  (fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found: install Debian's chromium package (apt-get install chromium), or set CHROMIUM_PATH`);

/**
 * Whether to skip a browser suite: never in CI, where the suite runs and {@link launchChromium}
 * fails with the reason; elsewhere when the browser is missing, with a warning.
 */
export function skipBrowserSuite(suite: string): boolean {
  if (!browserMissing) return false;
  if (IN_CI) return false;
  console.warn(`${suite}: skipping the browser tests: ${browserMissing}`);
  return true;
}

export interface Chromium {
  browser: Browser;
  /** A fresh context (cookies, storage) with `options`; closed with the browser. */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** Starts Chromium with a fresh profile in a temporary folder, removed on close. */
export async function launchChromium(): Promise<Chromium> {
  if (browserMissing || !loaded.playwright) {
    throw new Error(`The browser tests need Chromium and playwright-core, and CI=true forbids skipping them: ${browserMissing}`);
  }
  // playwright-core gives every launch a fresh, empty --user-data-dir, deleted on close; Chromium's
  // own temporary files go to a folder of ours, removed on close too.
  const profileRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-console-chromium-'));
  const browser = await loaded.playwright.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    env: { ...process.env, TMPDIR: profileRoot },
    timeout: 15_000,
  });
  return {
    browser,
    context: (options) => browser.newContext(options),
    close: async () => {
      await browser.close().catch(() => undefined);
      fs.rmSync(profileRoot, { recursive: true, force: true });
    },
  };
}

/**
 * Records every request a page makes outside `allowedOrigins` and aborts it, so a test can show
 * that the page needs nothing beyond the service.
 */
export async function blockOtherOrigins(context: BrowserContext, allowedOrigins: string[]): Promise<string[]> {
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = url;
    }
    if (allowedOrigins.includes(origin) || url.startsWith('data:')) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  return outside;
}

/** Saves a screenshot under test-artifacts/ and returns its path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage, animations: 'disabled' });
  return file;
}
