import react from "@vitejs/plugin-react";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

/**
 * Writes `<file>.br` and `<file>.gz` beside every text asset of the build, compressed once at the
 * highest levels, so that the backend (and nginx's gzip_static) send them as they are instead of
 * compressing the bundle again on every request, at a lower level and a larger size
 * (docs/decisions/0007-precompressed-static-files.md).
 */
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "cicd-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !/\.(js|css|html|svg|json|txt)$/.test(entry.name)) continue;
        const path = join(entry.parentPath, entry.name);
        const data = readFileSync(path);
        if (data.length < 1024) continue;
        writeFileSync(`${path}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
      }
    },
  };
}

// The backend serves dist/ (and nginx in docker-compose); `npm run dev` proxies the API to it.
const backend = process.env.CICD_BACKEND_URL ?? "http://localhost:8080";

export default defineConfig({
  plugins: [react(), precompress()],
  build: {
    target: "es2022",
    sourcemap: true,
    // No inline scripts or styles, so the page works under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
    // The dashboard, and the API documentation the backend serves at /api/docs.
    rollupOptions: { input: { main: "index.html", "api-docs": "api-docs.html" } },
    // The API documentation's Swagger UI is one 1.5 MB chunk, loaded by that page alone.
    chunkSizeWarningLimit: 1600,
  },
  server: {
    proxy: { "/api": backend, "/health": backend },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          environment: "jsdom",
          include: ["src/**/*.test.{ts,tsx}"],
          setupFiles: ["src/test-setup.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          environment: "node",
          include: ["e2e/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // Polls wait for the browser and the backend (CI has 2 slow cores): no tight timings.
          expect: { poll: { timeout: 10_000, interval: 50 } },
        },
      },
    ],
  },
});
