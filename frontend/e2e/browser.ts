// Debian's Chromium driven by playwright-core (no browser download): headless, no sandbox (CI runs
// as root), no background networking (this machine has no network beyond localhost).
// playwright-core gives every launch a fresh temporary profile (user-data dir) and removes it.
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launch(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
  return { browser, close: () => browser.close() };
}

export interface OpenOptions {
  dark?: boolean;
  width?: number;
  height?: number;
  /** Runs before navigation (routes, init scripts). */
  setup?: (page: Page) => Promise<unknown>;
}

/** Opens `url` in a fresh context of `browser` (UTC, 1440×960 unless told), kept in `contexts` for
 * the test to close; an uncaught page error fails the test. */
export async function openPage(
  browser: Browser,
  contexts: BrowserContext[],
  url: string,
  options: OpenOptions = {},
): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1440, height: options.height ?? 960 },
    colorScheme: options.dark ? "dark" : "light",
    timezoneId: "UTC",
  });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
  await options.setup?.(page);
  await page.goto(url);
  return page;
}

/** Two animation frames: what the last change drew is on screen. */
export async function settle(page: Page): Promise<void> {
  await page.evaluate(
    () => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
  );
}
