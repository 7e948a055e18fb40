// Debian's Chromium driven by playwright-core (no browser download): headless, no sandbox (CI runs
// as root), no background networking (this machine has no network beyond localhost).
// playwright-core gives every launch a fresh temporary profile (user-data dir) and removes it.
import { chromium, type Browser } from "playwright-core";

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
