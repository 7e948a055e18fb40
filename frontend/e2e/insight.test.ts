// The jobs, runners and usage views end to end: Debian's Chromium (playwright-core) against the real
// backend and a real PostgreSQL with demo data, fed with signed GitHub `workflow_run` and
// `workflow_job` deliveries as GitHub sends them. Screenshots go to test-output/screenshots/; with
// CICD_UPDATE_DOCS_SCREENSHOTS=1 the light ones also replace docs/screenshots/{jobs,runners,usage}.png.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Schemas } from "../src/api/client";
import { ADMIN_TOKEN, backend, type Backend } from "./backend";
import { launch, openPage, settle, type OpenOptions } from "./browser";
import { github, type GitHub, type JobSpec } from "./github";

const OUT = resolve(import.meta.dirname, "../test-output");
const SHOTS = `${OUT}/screenshots`;
const DOCS_SHOTS = resolve(import.meta.dirname, "../../docs/screenshots");
/** The secret of the GitHub webhook source these tests create (stored in the database). */
const SECRET = "e2e-insight-webhook-secret-0123456789";
const REPO = "e2e/insight";
let server: Backend;
let gh: GitHub;
let browser: Browser;
let closeBrowser: () => Promise<void>;
const figures: Record<string, number | number[]> = {};
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await backend();
  ({ browser, close: closeBrowser } = await launch());
  gh = await github(server, { name: "e2e-insight", secret: SECRET, repo: REPO, sha: "abc1234" });
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  writeFileSync(`${OUT}/insight-figures.json`, JSON.stringify(figures, null, 2));
  await closeBrowser?.();
  await server?.stop();
});

function open(path: string, options: Omit<OpenOptions, "dark"> = {}): Promise<Page> {
  return openPage(browser, contexts, server.url + path, options);
}

/** `<name>-light.png` (and `-dark`); the light one replaces docs/screenshots/<name>.png when asked to. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe(scheme);
    await expect
      .poll(() => page.locator(".chart").evaluateAll((els) => els.map((e) => e.getAttribute("data-theme"))))
      .toEqual(expect.not.arrayContaining([scheme === "dark" ? "light" : "dark"]));
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/${name}-${scheme}.png` });
  }
  await page.emulateMedia({ colorScheme: "light" });
  if (process.env.CICD_UPDATE_DOCS_SCREENSHOTS === "1")
    copyFileSync(`${SHOTS}/${name}-light.png`, `${DOCS_SHOTS}/${name}.png`);
}

/** Three runs of CI, an hour apart, each a build (hosted) and a slower test (self-hosted, e2e-gpu) that fails once. */
async function seedJobs(): Promise<void> {
  const t0 = Date.now() - 4 * 3_600_000;
  for (const i of [1, 2, 3]) {
    const runId = 9_100 + i;
    // An hour apart: each its own point of the hourly series.
    const at = t0 + i * 3_600_000;
    await gh.deliver("workflow_run", gh.workflowRun(runId, at, "in_progress"));
    const build: JobSpec = {
      runId,
      id: runId * 10 + 1,
      name: "build",
      labels: ["ubuntu-latest"],
      queuedAt: at,
      queueS: 8,
      ranS: 61,
    };
    const test: JobSpec = {
      runId,
      id: runId * 10 + 2,
      name: "test",
      labels: ["self-hosted", "E2E-GPU"],
      queuedAt: at,
      queueS: 30 * i,
      ranS: 300 + 60 * i,
      conclusion: i === 2 ? "failure" : "success",
    };
    for (const job of [build, test]) {
      await gh.deliver("workflow_job", gh.workflowJob(job, "queued"));
      await gh.deliver("workflow_job", gh.workflowJob(job, "in_progress"));
      await gh.deliver("workflow_job", gh.workflowJob(job, "completed"));
    }
    await gh.deliver("workflow_run", gh.workflowRun(runId, at, "completed", i === 2 ? "failure" : "success"));
  }
  // The job figures follow the jobs within about a second (one folder across replicas).
  await expect
    .poll(
      async () =>
        (await server.api<Schemas["JobList"]>(`/api/jobs?repo=${encodeURIComponent(REPO)}`)).body.items
          .map((j) => `${j.job}:${j.runs}`)
          .sort(),
      { timeout: 15_000, interval: 200 },
    )
    .toEqual(["build:3", "test:3"]);
}

let seeded: Promise<void> | undefined;
const jobsSeeded = () => (seeded ??= seedJobs());

describe("jobs, runners and usage", () => {
  it("lists jobs in the server's order and pages, and opens a job's trend and a slow run", async () => {
    await jobsSeeded();
    const page = await open(`/jobs?repo=${encodeURIComponent(REPO)}&range=24h`);
    const rows = page.locator("table.jobs-table tbody tr");
    await expect
      .poll(() => rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.job)))
      .toEqual(["test", "build"]);
    const test = page.locator('tr[data-job="test"]');
    expect(await test.textContent()).toContain("33.3%");
    expect(await test.textContent()).toContain("e2e-gpu, self-hosted");
    // A sparkline per job, from its series.
    await expect.poll(() => test.locator("svg.spark path").count()).toBe(1);
    // Another order: the URL says so, and the server sorts (build never queued as long).
    await page.getByRole("button", { name: "Longest queue" }).click();
    await expect.poll(() => page.url()).toContain("order=queue");
    await page.getByRole("button", { name: "Most minutes" }).click();
    await expect.poll(() => page.url()).toContain("order=minutes");
    expect(await page.getByRole("columnheader", { name: /Billable minutes/ }).getAttribute("aria-sort")).toBe(
      "descending",
    );
    await page.goBack();
    await expect.poll(() => page.url()).toContain("order=queue");

    // The trend of the job, and its slowest runs, which open in the run panel.
    await test.click();
    await expect.poll(() => page.url()).toContain("job=test");
    const trend = page.getByRole("region", { name: /^test/ });
    await trend.locator('[data-testid="job-duration-chart"] canvas').waitFor();
    expect(await trend.locator(".chart").count()).toBe(3);
    const slowest = trend.getByRole("table", { name: "Slowest runs in this period" });
    await expect.poll(() => slowest.locator("tbody tr").count()).toBe(3);
    // Slowest first: the third run's test ran 8 minutes.
    expect(await slowest.locator("tbody tr").first().textContent()).toContain("8m 00s");
    await slowest.getByRole("button", { name: `Open run github:${REPO}:9103:1` }).click();
    await expect.poll(() => page.url()).toContain("run=github");
    const panel = page.getByRole("dialog", { name: `Run github:${REPO}:9103:1` });
    await panel.getByText("test", { exact: true }).first().waitFor();
    await page.keyboard.press("Escape");
    await expect.poll(() => panel.count()).toBe(0);
    await page.goBack();
    await expect.poll(() => page.url()).not.toContain("job=test");
    await expect.poll(() => trend.count()).toBe(0);

    // The demo's jobs span pages: the next page is another 25, and its URL is the page.
    const all = await server.api<Schemas["JobList"]>("/api/jobs?limit=1");
    expect(all.body.total).toBeGreaterThan(25);
    // Tall enough for the picture to hold a job's trend and the table under it.
    const demo = await open("/jobs?range=7d", { height: 1400 });
    const first = await demo.locator("table.jobs-table tbody tr").first().getAttribute("data-job");
    await demo.getByRole("button", { name: "Next →" }).click();
    await expect.poll(() => demo.url()).toContain("p=2");
    await expect.poll(() => demo.getByText(/^Page 2 of/).count()).toBe(1);
    expect(await demo.locator("table.jobs-table tbody tr").count()).toBeGreaterThan(0);
    await demo.goBack();
    await expect.poll(() => demo.locator("table.jobs-table tbody tr").first().getAttribute("data-job")).toBe(first);
    await demo.locator("table.jobs-table tbody tr").first().click();
    await demo.locator('[data-testid="job-duration-chart"] canvas').waitFor();
    await demo.locator(".job-trend table tbody tr").first().waitFor();
    await shoot(demo, "jobs");
  });

  it("shows each runner pool live: a queued job reaches its tile within a second, on a wall TV", async () => {
    await jobsSeeded();
    const labels = ["self-hosted", "e2e-live"];
    const key = "e2e-live,self-hosted";
    const queuedAt = Date.now() - 90_000;
    await gh.deliver("workflow_run", gh.workflowRun(9_200, queuedAt, "queued"));
    // A second apart: the waiting list's order is theirs.
    const job = (n: number): JobSpec => ({
      runId: 9_200,
      id: 92_000 + n,
      name: `shard-${n}`,
      labels,
      queuedAt: queuedAt + n * 1000,
    });
    await gh.deliver("workflow_job", gh.workflowJob(job(1), "queued"));
    // Eight pools (the demo's and these tests'), as a wall TV would show.
    const pools = async () => (await server.api<Schemas["Runners"]>("/api/runners")).body.items;
    for (let n = (await pools()).length; n < 8; n++) {
      await gh.deliver(
        "workflow_job",
        gh.workflowJob(
          { runId: 9_200, id: 93_000 + n, name: `extra-${n}`, labels: ["self-hosted", `e2e-pool-${n}`], queuedAt },
          "queued",
        ),
      );
    }
    expect((await pools()).length).toBe(8);

    const page = await open("/runners?range=24h", { width: 1920, height: 1080 });
    const queued = page.getByTestId(`queued-${key}`);
    await expect.poll(() => queued.textContent()).toBe("1");
    await expect.poll(() => page.locator(".live").textContent()).toBe("Live");
    await page.locator('[data-testid="pool-queue-chart"] canvas').waitFor();
    // Everything on one 1920 × 1080 screen, in the wall TV's type.
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize)).toBe("18px");
    expect(await page.locator("article.pool").count()).toBe(8);
    expect(
      await page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight),
      "the runners view scrolls at 1920 × 1080",
    ).toBe(true);
    const waiting = (await page.locator(".waiting-list").boundingBox())!;
    expect(waiting.y + waiting.height).toBeLessThanOrEqual(1080);

    // From the delivery to the tile: queued jobs in, then one started (queued goes down).
    const measure = async (deliveries: () => Promise<void>, expected: string) => {
      const started = Date.now();
      await deliveries();
      await page.waitForFunction(
        ([id, text]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === text,
        [`queued-${key}`, expected] as const,
        { polling: "raf", timeout: 10_000 },
      );
      return Date.now() - started;
    };
    const times = [
      await measure(() => gh.deliver("workflow_job", gh.workflowJob(job(2), "queued")), "2"),
      await measure(() => gh.deliver("workflow_job", gh.workflowJob(job(3), "queued")), "3"),
      await measure(() => gh.deliver("workflow_job", gh.workflowJob({ ...job(1), queueS: 90 }, "in_progress")), "2"),
    ];
    console.log("runners tile after a job event (ms)", times.join(" "));
    figures.runners_live_ms = times;
    const budget = Number(process.env.CICD_E2E_RUNNERS_BUDGET_MS ?? 1_000);
    expect(Math.max(...times)).toBeLessThanOrEqual(budget);
    await expect.poll(() => page.getByTestId(`running-${key}`).textContent()).toBe("1");

    // The pool's charts, chosen from its tile (in the URL), and the jobs waiting longest.
    const tile = page.getByRole("article", { name: "Pool e2e-live, self-hosted" });
    await tile.getByRole("button", { name: "e2e-live, self-hosted" }).click();
    await expect.poll(() => page.url()).toContain("labels=e2e-live%2Cself-hosted");
    await page.getByRole("heading", { name: "Queue time · e2e-live, self-hosted" }).waitFor();
    await page.locator('[data-testid="pool-busy-chart"] canvas').waitFor();
    const item = page.locator(".waiting-jobs li", { hasText: "shard-2" });
    await expect.poll(() => item.textContent()).toContain("e2e-live, self-hosted");
    await item.getByRole("button", { name: "Open the run of shard-2" }).click();
    await page.getByRole("dialog", { name: `Run github:${REPO}:9200:1` }).waitFor();
    await page.keyboard.press("Escape");
    // The picture shows the demo's starved gpu pool.
    await page.getByRole("button", { name: "gpu, linux, self-hosted" }).click();
    await page.getByRole("heading", { name: "Queue time · gpu, linux, self-hosted" }).waitFor();
    await page.locator('[data-testid="pool-queue-chart"] canvas').waitFor();
    await shoot(page, "runners");
    await page.goBack();
    await expect.poll(() => page.url()).toContain("labels=e2e-live%2Cself-hosted");
    // The waiting job's trend link leads to the jobs view, with its job open.
    await item.getByRole("link", { name: "The trend of shard-2" }).click();
    await expect.poll(() => page.url()).toContain("/jobs?");
    expect(page.url()).toContain("job=shard-2");
    await page.goBack();
    await expect.poll(() => page.url()).toContain("/runners");
    await page.getByTestId(`queued-${key}`).waitFor();
  });

  it("prices labels in Settings, and shows and downloads minutes and cost per group", async () => {
    await jobsSeeded();
    const before = (await server.api<Schemas["Settings"]>("/api/settings")).body;
    const settings = await open("/settings");
    const dialog = settings.getByRole("dialog", { name: "API token needed" });
    await dialog.getByLabel("Token").fill(ADMIN_TOKEN);
    await dialog.getByRole("button", { name: "Use token" }).click();
    const prices = settings.locator("section", { has: settings.getByRole("heading", { name: "Runner prices" }) });
    await prices.getByRole("button", { name: "+ Add a label" }).click();
    const rows = await prices.locator("tbody tr").count();
    await prices.getByLabel(`Label of row ${rows}`).fill("E2E-GPU");
    await prices.getByLabel(`Price per minute of row ${rows}`).fill("0.5");
    await prices.getByLabel("Currency").fill("EUR");
    await prices.getByRole("button", { name: "Save prices" }).click();
    await prices.getByRole("status").waitFor();
    const after = (await server.api<Schemas["Settings"]>("/api/settings")).body;
    expect(after).toMatchObject({
      retention_days: before.retention_days,
      rollup_retention_days: before.rollup_retention_days,
      currency: "EUR",
      runner_prices: { ...before.runner_prices, "e2e-gpu": 0.5 },
    });

    // The token in the tab's session storage: the CSV is fetched with it (a plain link would not be).
    const page = await open(`/usage?repo=${encodeURIComponent(REPO)}&range=24h`, {
      setup: (p) => p.addInitScript((token) => sessionStorage.setItem("cicd-monitor.token", token), ADMIN_TOKEN),
    });
    await page.getByTestId("usage-Billable minutes").waitFor();
    const byRepo = page.locator("table.usage-table tbody tr");
    await expect
      .poll(() => byRepo.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.group)))
      .toEqual([REPO]);
    const shownRequest = page.waitForRequest(
      (r) => new URL(r.url()).pathname === "/api/usage" && new URL(r.url()).searchParams.get("group_by") === "labels",
    );
    await page.getByRole("button", { name: "Label set" }).click();
    await expect.poll(() => page.url()).toContain("by=labels");
    // Label sets span every repository: the page asks without the repository, and says so.
    const shown = new URL((await shownRequest).url()).searchParams;
    expect(shown.get("repo")).toBeNull();
    await page.getByRole("note").filter({ hasText: "whole installation" }).waitFor();
    const answer = await server.api<Schemas["Usage"]>(`/api/usage?${shown.toString()}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const usage = answer.body;
    const gpu = usage.groups.find((g) => g.labels?.join(",") === "e2e-gpu,self-hosted")!;
    // Three runs of 6, 7 and 8 minutes at 0.5 a minute.
    expect(gpu.cost).toBeCloseTo(10.5, 6);
    const row = page.locator('tr[data-group="e2e-gpu, self-hosted"]');
    await expect.poll(() => row.textContent()).toContain("€10.50");
    expect(await page.getByTestId("usage-Estimated cost").textContent()).toBe(
      new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(usage.total.cost),
    );
    await page.locator('[data-testid="usage-days-chart"] canvas').waitFor();

    const request = page.waitForRequest((r) => r.url().includes("format=csv"));
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "Download CSV" }).click();
    const sent = await request;
    expect(await sent.headerValue("authorization")).toBe(`Bearer ${ADMIN_TOKEN}`);
    const asked = new URL(sent.url()).searchParams;
    // The same figures as on screen.
    expect(Object.fromEntries(asked)).toEqual({ ...Object.fromEntries(shown), format: "csv" });
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^usage-by-labels-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync(await file.path(), "utf8");
    const expected = await fetch(`${server.url}/api/usage?${asked.toString()}`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(csv).toBe(await expected.text());
    expect(csv).toContain("e2e-gpu");

    // The whole installation's usage, by repository, for the picture: with the docs' price table.
    const priced = await server.api("/api/settings", {
      method: "PUT",
      body: {
        ...after,
        currency: "USD",
        runner_prices: { "ubuntu-latest": 0.008, "windows-latest": 0.016, "macos-14": 0.08, gpu: 0.12 },
      },
    });
    expect(priced.status, JSON.stringify(priced.body)).toBe(200);
    const all = await open("/usage?range=30d");
    await all.locator('[data-testid="usage-days-chart"] canvas').waitFor();
    await all.locator("table.usage-table tbody tr").first().waitFor();
    await shoot(all, "usage");
  });
});
