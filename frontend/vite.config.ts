import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The backend serves dist/ (and nginx in docker-compose); `npm run dev` proxies the API to it.
const backend = process.env.CICD_BACKEND_URL ?? "http://localhost:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    sourcemap: true,
    // No inline scripts or styles, so the page works under a strict Content-Security-Policy.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { "/api": backend, "/health": backend },
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: "unit", environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test-setup.ts"] },
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
