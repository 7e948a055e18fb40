// The real backend for end-to-end tests: the release binary on a free port, against the
// PostgreSQL in DATABASE_URL (scripts/with-postgres.sh makes a throwaway one), with demo data.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";

export const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";
const SECRET_KEY = "e2e-secret-key-0123456789abcdef0123456789";

export interface Backend {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Calls the API as admin (or with another token). */
  api<T = unknown>(
    path: string,
    init?: { method?: string; body?: unknown; token?: string },
  ): Promise<{ status: number; body: T }>;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

export async function backend(): Promise<Backend> {
  const bin = process.env.CICD_BIN;
  const db = process.env.DATABASE_URL;
  if (!bin || !db) throw new Error("set CICD_BIN and DATABASE_URL (make test-e2e does)");
  const env = {
    ...process.env,
    DATABASE_URL: db,
    CICD_ADMIN_TOKEN: ADMIN_TOKEN,
    CICD_SECRET_KEY: SECRET_KEY,
    // Integrations may name loopback and Slack (never resolved, never called).
    CICD_OUTBOUND_ALLOW: "127.0.0.0/8,::1,hooks.slack.com",
    CICD_STATIC_DIR: resolve(import.meta.dirname, "../dist"),
    CICD_ENVIRONMENT: "e2e",
    CICD_ALERT_TICK: "1",
    RUST_LOG: "warn",
  };
  for (const args of [["migrate"], ["demo"]]) {
    const r = spawnSync(bin, args, { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cicd-monitor ${args[0]} failed: ${r.stderr}`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const stopOnExit = () => child?.kill("SIGKILL");
  process.on("exit", stopOnExit);

  const self: Backend = {
    url,
    port,
    async start() {
      child = spawn(bin, ["serve"], {
        env: { ...env, CICD_LISTEN: `127.0.0.1:${port}` },
        stdio: ["ignore", "inherit", "inherit"],
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        try {
          if ((await fetch(`${url}/ready`)).ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("backend did not become ready in 30 s");
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode != null) return;
      await new Promise<void>((done) => {
        c.once("exit", () => done());
        c.kill("SIGTERM");
        setTimeout(() => c.kill("SIGKILL"), 5_000);
      });
    },
    async api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
      const res = await fetch(url + path, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: { Authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`, "Content-Type": "application/json" },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
  };
  await self.start();
  return self;
}
