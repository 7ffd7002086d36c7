// What the browser test needs around the page: Debian's chromium (found, or a clear reason why
// not), the page built with Vite, and a preview server on 127.0.0.1 that the test starts and stops.
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { type PreviewServer, build, preview } from "vite";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const WEB_CONFIG = `${ROOT}web/vite.config.ts`;

/** Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
/** .ci/run sets this, so CI fails instead of skipping when chromium is absent. */
export const REQUIRE_BROWSER = process.env.MLAKIT_REQUIRE_BROWSER === "1";

/**
 * Headless, no sandbox (CI runs as root), and no background networking: this machine's network is
 * closed, and without these flags chromium keeps trying Google's hosts at every start.
 * (playwright gives each launch a fresh, empty profile directory of its own.)
 */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** vite build of web/ into web/dist (fails on any Node built-in in the bundle). */
export async function buildPage(): Promise<void> {
  if (!existsSync(`${ROOT}dist/index.js`)) throw new Error("dist/index.js is missing: run `npm run build` first (npm test does)");
  await build({ configFile: WEB_CONFIG, logLevel: "warn" });
}

export async function servePage(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: PreviewServer = await preview({ configFile: WEB_CONFIG, logLevel: "warn", preview: { host: "127.0.0.1", port: 0, strictPort: false, open: false } });
  const addr = server.httpServer.address() as AddressInfo;
  return { url: `http://127.0.0.1:${addr.port}/`, close: () => server.close() };
}
