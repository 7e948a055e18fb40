// The run panel's timeline end to end: a GitHub run and its re-run sent as signed `workflow_run`
// and `workflow_job` deliveries to the real backend (real PostgreSQL), opened in Debian's Chromium.
// Screenshots go to test-output/screenshots/; with CICD_UPDATE_DOCS_SCREENSHOTS=1 the light one
// also replaces docs/screenshots/run-gantt.png.
import { createHmac } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { backend, type Backend } from "./backend";
import { launch, openPage } from "./browser";

const SHOTS = resolve(import.meta.dirname, "../test-output/screenshots");
const DOCS_SHOTS = resolve(import.meta.dirname, "../../docs/screenshots");
const SECRET = "e2e-github-webhook-secret-0123456789";
const REPO = "e2e/gantt";
let server: Backend;
let browser: Browser;
let closeBrowser: () => Promise<void>;
const contexts: BrowserContext[] = [];
/** What finishes the jobs a test left queued or running, so that later tests see none waiting. */
const finish: (() => Promise<void>)[] = [];
let deliveries = 0;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await backend();
  ({ browser, close: closeBrowser } = await launch());
  const source = await server.api("/api/webhook-sources", {
    body: { provider: "github", name: "e2e-gantt", secret: SECRET },
  });
  expect(source.status, JSON.stringify(source.body)).toBe(201);
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
  for (const done of finish.splice(0)) await done();
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

/** Sends one delivery as GitHub does: the JSON body signed with the source's secret. */
async function deliver(event: "workflow_run" | "workflow_job", payload: unknown): Promise<void> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${server.url}/api/webhooks/github`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-GitHub-Event": event,
      "X-GitHub-Delivery": `e2e-gantt-${++deliveries}`,
      "X-Hub-Signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
    },
    body,
  });
  expect(res.status, await res.text()).toBe(200);
}

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
const conclusionOf = (status: string) => (status === "running" ? null : status);

/** A completed (or running) attempt of GitHub run `runId`, from `at` to `end`. */
async function sendRun(runId: number, attempt: number, created: number, at: number, end: number, status: string) {
  await deliver("workflow_run", {
    action: status === "running" ? "in_progress" : "completed",
    workflow_run: {
      id: runId,
      name: "CI",
      run_number: runId,
      run_attempt: attempt,
      head_branch: "main",
      head_sha: "0123abc",
      event: "push",
      status: status === "running" ? "in_progress" : "completed",
      conclusion: conclusionOf(status),
      created_at: iso(created),
      run_started_at: iso(at),
      updated_at: iso(end),
      html_url: `https://github.com/${REPO}/actions/runs/${runId}/attempts/${attempt}`,
    },
    repository: { full_name: REPO },
  });
}

interface JobSpec {
  id: number;
  name: string;
  /** Seconds after the attempt's start. */
  queued: number;
  started: number | null;
  completed: number | null;
  status: "success" | "failure" | "skipped" | "running" | "queued";
  steps?: [name: string, seconds: number][];
}

async function sendJob(runId: number, attempt: number, at: number, j: JobSpec) {
  const t = (s: number) => iso(at + s * 1000);
  let stepAt = j.started ?? 0;
  const steps = (j.steps ?? []).map(([name, seconds], i) => {
    const step = {
      name,
      number: i + 1,
      status: "completed",
      conclusion: j.status === "failure" && i === (j.steps?.length ?? 0) - 1 ? "failure" : "success",
      started_at: t(stepAt),
      completed_at: t(stepAt + seconds),
    };
    stepAt += seconds;
    return step;
  });
  const status = j.status === "running" ? "in_progress" : j.status === "queued" ? "queued" : "completed";
  await deliver("workflow_job", {
    action: status,
    workflow_job: {
      id: j.id,
      run_id: runId,
      run_attempt: attempt,
      name: j.name,
      workflow_name: "CI",
      head_branch: "main",
      status,
      conclusion: status === "completed" ? j.status : null,
      created_at: t(j.queued),
      started_at: t(j.started ?? j.queued),
      completed_at: j.completed == null ? null : t(j.completed),
      // A label of its own: the jobs and runners views of other tests do not count these.
      labels: ["e2e-gantt"],
      runner_name: j.started == null ? null : "GitHub Actions 7",
      runner_group_name: j.started == null ? null : "GitHub Actions",
      steps,
      html_url: `https://github.com/${REPO}/actions/runs/${runId}/job/${j.id}`,
    },
    repository: { full_name: REPO },
  });
}

function open(path: string): Promise<Page> {
  return openPage(browser, contexts, server.url + path);
}

const runPath = (id: string) => `/?range=24h&run=${encodeURIComponent(id)}`;
const labels = (tree: Locator) =>
  tree.locator('[role="treeitem"][aria-level="1"]').evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")));
const focusedLabel = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? null);

describe("run panel timeline", () => {
  it("shows a re-run's attempts side by side, the jobs, their steps and the critical path", async () => {
    const runId = 7100 + (Date.now() % 1000);
    const t0 = Date.now() - 40 * 60_000;
    const t1 = t0 + 15 * 60_000;
    // Attempt 1: build and lint in parallel, test after build (fails), deploy skipped after it.
    const first: JobSpec[] = [
      {
        id: 1,
        name: "build",
        queued: 0,
        started: 6,
        completed: 70,
        status: "success",
        steps: [
          ["Checkout", 4],
          ["Compile", 58],
        ],
      },
      {
        id: 2,
        name: "lint",
        queued: 0,
        started: 3,
        completed: 35,
        status: "success",
        steps: [
          ["Checkout", 3],
          ["Clippy", 27],
        ],
      },
      {
        id: 3,
        name: "test",
        queued: 71,
        started: 80,
        completed: 230,
        status: "failure",
        steps: [
          ["Checkout", 3],
          ["Test", 145],
        ],
      },
      { id: 4, name: "deploy", queued: 231, started: 231, completed: 231, status: "skipped" },
    ];
    // Attempt 2 (re-run): the same jobs; test passes and deploy runs.
    const second: JobSpec[] = [
      {
        id: 11,
        name: "build",
        queued: 0,
        started: 4,
        completed: 60,
        status: "success",
        steps: [
          ["Checkout", 4],
          ["Compile", 50],
        ],
      },
      {
        id: 12,
        name: "lint",
        queued: 0,
        started: 2,
        completed: 30,
        status: "success",
        steps: [
          ["Checkout", 3],
          ["Clippy", 24],
        ],
      },
      {
        id: 13,
        name: "test",
        queued: 61,
        started: 75,
        completed: 200,
        status: "success",
        steps: [
          ["Checkout", 3],
          ["Test", 120],
        ],
      },
      { id: 14, name: "deploy", queued: 201, started: 209, completed: 260, status: "success", steps: [["Deploy", 50]] },
    ];
    await sendRun(runId, 1, t0, t0, t0 + 232_000, "failure");
    for (const j of first) await sendJob(runId, 1, t0, j);
    await sendRun(runId, 2, t0, t1, t1 + 261_000, "success");
    for (const j of second) await sendJob(runId, 2, t1, { ...j });

    const id = `github:${REPO}:${runId}:2`;
    const page = await open(runPath(id));
    const panel = page.getByRole("dialog", { name: `Run ${id}` });
    const one = panel.getByRole("tree", { name: "Attempt 1: jobs and steps over time" });
    const two = panel.getByRole("tree", { name: "Attempt 2: jobs and steps over time" });
    await one.waitFor();
    await two.waitFor();

    // Every job, with its queue and run times, and the chain that set each attempt's duration.
    expect(await labels(one)).toEqual(
      [
        "build: success, queued 6s, ran 1m 04s, 00:00:00 to 00:01:10, on the critical path, 2 steps",
        "lint: success, queued 3s, ran 32s, 00:00:00 to 00:00:35, 2 steps",
        "test: failure, queued 9s, ran 2m 30s, 00:01:11 to 00:03:50, on the critical path, 2 steps",
        "deploy: skipped, queued 0s, ran 0s, 00:03:51 to 00:03:51, on the critical path",
      ].map((l) => relabel(l, t0)),
    );
    await expect
      .poll(() => panel.getByText(/^◆ Critical path:/).allTextContents())
      .toEqual(["◆ Critical path: build → test → deploy (3m 51s)", "◆ Critical path: build → test → deploy (4m 20s)"]);
    expect(await two.locator('[data-critical="true"][aria-level="1"]').count()).toBe(3);
    // Steps are sub-rows (few in all: open).
    expect(await one.locator('[role="treeitem"][aria-level="2"]').count()).toBe(6);
    expect(await one.locator('[aria-level="2"]').first().getAttribute("aria-label")).toMatch(
      /^Checkout: success, ran 4s/,
    );

    // Side by side: attempt 2 to the right of attempt 1, at the same height, labelled.
    const a1 = (await panel.getByRole("region", { name: "Attempt 1" }).boundingBox())!;
    const a2 = (await panel.getByRole("region", { name: "Attempt 2" }).boundingBox())!;
    expect(a2.x).toBeGreaterThanOrEqual(a1.x + a1.width);
    expect(Math.abs(a2.y - a1.y)).toBeLessThan(2);
    expect(await panel.getByRole("region", { name: "Attempt 2" }).textContent()).toContain("shown");

    // The queue is hatched apart from the execution; the bars follow the theme.
    const bar = two.locator('[data-key="j0"] > .gantt-line .gantt-bar');
    const queue = two.locator('[data-key="j0"] > .gantt-line .gantt-queue');
    expect(await queue.evaluate((e) => getComputedStyle(e).backgroundImage)).toContain("repeating-linear-gradient");
    const colour = () => bar.evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(await colour()).toBe("rgb(26, 127, 55)");
    await page.emulateMedia({ colorScheme: "dark" });
    await expect.poll(colour).toBe("rgb(63, 185, 80)");
    await page.emulateMedia({ colorScheme: "light" });
    await expect.poll(colour).toBe("rgb(26, 127, 55)");

    // Keyboard: one tab stop per attempt; the arrows walk the jobs and their steps, with the tooltip.
    const start = two.locator('[role="treeitem"][tabindex="0"]');
    await start.focus();
    expect(await focusedLabel(page)).toMatch(/^build: success/);
    await expect.poll(() => two.locator(".gantt-tip").textContent()).toMatch(/^build: success, queued 4s, ran 56s/);
    await page.keyboard.press("ArrowDown");
    expect(await focusedLabel(page)).toMatch(/^Checkout: success/);
    await page.keyboard.press("ArrowLeft");
    expect(await focusedLabel(page)).toMatch(/^build: /);
    await page.keyboard.press("ArrowLeft");
    expect(await two.locator('[data-key="j0"]').getAttribute("aria-expanded")).toBe("false");
    await page.keyboard.press("ArrowDown");
    expect(await focusedLabel(page)).toMatch(/^lint: /);
    await page.keyboard.press("End");
    expect(await focusedLabel(page)).toMatch(/^Deploy: success, ran 50s/);
    await page.keyboard.press("Home");
    await page.keyboard.press("ArrowRight");
    expect(await two.locator('[data-key="j0"]').getAttribute("aria-expanded")).toBe("true");
    // Hovering a bar shows its text too.
    await two.locator('[data-key="j3"] > .gantt-line').hover();
    await expect
      .poll(() => two.locator('[data-key="j3"] .gantt-tip').textContent())
      .toMatch(/^deploy: success, queued 8s, ran 51s, .*on the critical path/);

    // The same figures as a table.
    await panel.getByRole("region", { name: "Attempt 1" }).getByText("Timeline as a table").click();
    const table = panel.getByRole("table", { name: "Attempt 1: jobs" });
    expect(await table.locator("tbody tr").count()).toBe(4);
    expect(await table.locator("tbody tr").nth(2).textContent()).toContain("failure");
    await panel.getByRole("region", { name: "Attempt 1" }).getByText("Timeline as a table").click();

    await page.mouse.move(0, 0);
    await page.getByRole("region", { name: "Timeline" }).scrollIntoViewIfNeeded();
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe(scheme);
      await page.getByRole("region", { name: "Timeline" }).screenshot({ path: `${SHOTS}/run-gantt-${scheme}.png` });
    }
    await page.screenshot({ path: `${SHOTS}/run-gantt-panel.png` });
    if (process.env.CICD_UPDATE_DOCS_SCREENSHOTS === "1") {
      copyFileSync(`${SHOTS}/run-gantt-light.png`, `${DOCS_SHOTS}/run-gantt.png`);
    }
  });

  it("scrolls a run of 55 jobs, draws a running job to now, and a queued one", async () => {
    const runId = 8100 + (Date.now() % 1000);
    const t0 = Date.now() - 10 * 60_000;
    await sendRun(runId, 1, t0, t0, t0, "running");
    for (let i = 0; i < 53; i++) {
      await sendJob(runId, 1, t0, {
        id: 100 + i,
        name: `shard ${i + 1}`,
        queued: 0,
        started: 5 + i,
        completed: 60 + i * 3,
        status: "success",
      });
    }
    await sendJob(runId, 1, t0, {
      id: 200,
      name: "integration",
      queued: 220,
      started: 230,
      completed: null,
      status: "running",
    });
    await sendJob(runId, 1, t0, {
      id: 201,
      name: "waiting",
      queued: 400,
      started: null,
      completed: null,
      status: "queued",
    });

    finish.push(async () => {
      const end = (Date.now() - t0) / 1000;
      await sendJob(runId, 1, t0, {
        id: 200,
        name: "integration",
        queued: 220,
        started: 230,
        completed: end,
        status: "success",
      });
      await sendJob(runId, 1, t0, {
        id: 201,
        name: "waiting",
        queued: 400,
        started: end,
        completed: end,
        status: "success",
      });
      await sendRun(runId, 1, t0, t0, Date.now(), "success");
    });

    const id = `github:${REPO}:${runId}:1`;
    const page = await open(runPath(id));
    const tree = page
      .getByRole("dialog", { name: `Run ${id}` })
      .getByRole("tree", { name: "Timeline: jobs and steps over time" });
    await tree.waitFor();
    expect(await tree.locator('[role="treeitem"]').count()).toBe(55);
    const scroll = page.getByTestId("gantt-scroll");
    expect(await scroll.evaluate((e) => e.scrollHeight > e.clientHeight + 100)).toBe(true);
    // The last row is reached with End, scrolled into view.
    await tree.locator('[role="treeitem"][tabindex="0"]').focus();
    await page.keyboard.press("End");
    expect(await focusedLabel(page)).toMatch(/^waiting: queued, queued for \d+m \d\ds so far/);
    await expect.poll(() => scroll.evaluate((e) => e.scrollTop)).toBeGreaterThan(0);
    await page.locator(".gantt").screenshot({ path: `${SHOTS}/run-gantt-55-jobs.png` });
    // The running job and the queued one reach the end of the axis (now). Both end now: the path
    // ends with the one queued first, after the shard that finished last before it was queued.
    const end = (key: string, cls: string) =>
      tree.locator(`[data-key="${key}"] .${cls}`).evaluate((e) => {
        const track = e.parentElement!.getBoundingClientRect();
        const r = e.getBoundingClientRect();
        return (r.right - track.left) / track.width;
      });
    expect(await end("j53", "gantt-bar")).toBeGreaterThan(0.9);
    expect(await end("j54", "gantt-queue")).toBeGreaterThan(0.99);
    expect(await tree.locator('[data-key="j54"]').getAttribute("aria-label")).not.toContain("on the critical path");
    const critical = await tree
      .locator('[data-critical="true"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute("aria-label")!.split(":")[0]));
    expect(critical).toEqual(["shard 53", "integration"]);
  });
});

/** A label with its "00:mm:ss" clock times shifted to the attempt's start `at` (UTC). */
function relabel(text: string, at: number): string {
  return text.replace(/00:(\d\d):(\d\d)/g, (_, m: string, s: string) =>
    new Date(at + (Number(m) * 60 + Number(s)) * 1000).toISOString().slice(11, 19),
  );
}
