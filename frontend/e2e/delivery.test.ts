// The delivery view end to end: Debian's Chromium (playwright-core) against the real backend and a
// real PostgreSQL, fed with deployments, an incident and the run that built a deployment through
// the generic API. Screenshots go to test-output/screenshots/.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CreatedToken, Schemas } from "../src/api/client";
import { keyCards } from "../src/lib/delivery";
import { ADMIN_TOKEN, backend, type Backend } from "./backend";
import { launch, openPage, settle } from "./browser";

const SHOTS = resolve(import.meta.dirname, "../test-output/screenshots");
const SERVICE = "e2e-shop";
const REPO = "e2e/shop";
const RUN = "e2e-delivery-build-1";
let server: Backend;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ingest: string;
const contexts: BrowserContext[] = [];

const HOUR = 3_600_000;
const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * HOUR).toISOString();

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await backend();
  ({ browser, close: closeBrowser } = await launch());
  const token = await server.api<CreatedToken>("/api/tokens", { body: { name: "e2e-delivery", scope: "ingest" } });
  expect(token.status).toBe(201);
  ingest = token.body.token;
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

async function post(path: string, body: unknown): Promise<void> {
  const res = await server.api(path, { body, token: ingest });
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
}

/**
 * A week of one service: the run that built its first deployment, four production deployments (a
 * success, a failure, a success with an incident named on it, a rollback) and one to staging.
 */
async function seed(): Promise<void> {
  await post("/api/events", {
    id: RUN,
    repo: REPO,
    workflow: "deploy",
    branch: "main",
    commit_sha: "c0ffee1",
    status: "success",
    started_at: at(49),
    finished_at: at(48.5),
  });
  const deployment = (id: string, hoursAgo: number, patch: Record<string, unknown> = {}) => ({
    id,
    service: SERVICE,
    repo: REPO,
    environment: "production",
    status: "success",
    created_at: at(hoursAgo + 0.1),
    at: at(hoursAgo),
    ...patch,
  });
  await post("/api/deployments/batch", [
    deployment("e2e-d1", 48, {
      run_id: RUN,
      sha: "c0ffee1",
      commits: [{ sha: "c0ffee1", committed_at: at(51) }],
    }),
    deployment("e2e-d2", 30, { status: "failure" }),
    deployment("e2e-d3", 20, { sha: "beef002", commits: [{ sha: "beef002", committed_at: at(22) }] }),
    deployment("e2e-d4", 10, { kind: "rollback" }),
    deployment("e2e-s1", 25, { environment: "staging" }),
  ]);
  await post("/api/incidents", {
    id: "e2e-inc-1",
    service: SERVICE,
    environment: "production",
    deployment: "e2e-d3",
    title: "Checkout is down",
    started_at: at(19),
    resolved_at: at(18),
  });
}

function open(path: string, setup?: (page: Page) => Promise<unknown>): Promise<Page> {
  return openPage(browser, contexts, server.url + path, { setup });
}

describe("delivery", () => {
  it("shows the DORA keys, the deployments per environment and a deployment's panel, which opens its run", async () => {
    await seed();
    let asked!: Promise<Request>;
    const page = await open(`/delivery?service=${SERVICE}`, (p) => {
      asked = p.waitForRequest((r) => new URL(r.url()).pathname === "/api/dora");
      return Promise.resolve();
    });
    const query = new URL((await asked).url()).searchParams;
    expect(query.get("service")).toBe(SERVICE);
    // The figures on screen are the API's, with their bands.
    const answer = await server.api<Schemas["Dora"]>(`/api/dora?${query.toString()}`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const dora = answer.body;
    // Successful deployments: the two successes and the rollback.
    expect(dora.deployment_frequency.sample).toBe(3);
    expect(dora.lead_time_for_changes.sample).toBe(2);
    expect(dora.change_failure_rate.sample).toBe(4);
    for (const card of keyCards(dora)) {
      await expect.poll(() => page.getByTestId(`dora-${card.id}`).textContent()).toBe(card.value);
      const article = page.getByRole("article", { name: card.label }).first();
      expect(await article.locator(".band").getAttribute("data-band")).toBe(card.band);
    }
    expect(await page.getByTestId("dora-lead_time_for_changes").textContent()).toMatch(/^\d+h \d{2}m$/);
    await page.locator('[data-testid="dora-chart-deployment_frequency"] canvas').waitFor();
    expect(await page.locator(".dora-trends .chart").count()).toBe(4);

    // Production only, newest first, each marked.
    const production = page.getByRole("table", { name: /^production/ });
    const rows = production.locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(4);
    const marks = await rows.evaluateAll((trs) =>
      trs.map((tr) => [
        (tr as HTMLElement).dataset.status,
        (tr as HTMLElement).dataset.kind,
        Array.from(tr.querySelectorAll(".pill")).map((p) => p.textContent),
      ]),
    );
    expect(marks).toEqual([
      ["success", "rollback", ["rollback"]],
      ["success", "deploy", ["1 incident"]],
      ["failure", "deploy", ["failed"]],
      ["success", "deploy", []],
    ]);
    expect(await page.getByRole("table", { name: /^staging/ }).count()).toBe(0);
    await page.getByRole("button", { name: "All environments" }).click();
    await expect.poll(() => page.url()).toContain("envs=all");
    await page.getByRole("table", { name: /^staging/ }).waitFor();
    await page.goBack();
    await expect.poll(() => page.getByRole("table", { name: /^staging/ }).count()).toBe(0);

    // The incident, in its list and on its deployment.
    const incidents = page.getByRole("table", { name: "Incidents in production" });
    await incidents.getByText("Checkout is down").waitFor();
    expect(await incidents.locator("tbody tr").first().textContent()).toContain("1h 00m");

    // A deployment's panel: its commit and lead time, its incident.
    await rows.nth(1).click();
    await expect.poll(() => page.url()).toMatch(/deployment=\d+/);
    const panel = page.getByRole("dialog", { name: `Deployment of ${SERVICE} to production` });
    const commits = panel.getByRole("table", { name: "Commits (1)" });
    await expect.poll(() => commits.locator("tbody tr").first().textContent()).toContain("2h 00m");
    await panel.getByText("Checkout is down").waitFor();
    expect(await panel.getByText("named", { exact: true }).count()).toBe(1);
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/delivery-panel-light.png` });
    await page.keyboard.press("Escape");
    await expect.poll(() => panel.count()).toBe(0);
    await expect.poll(() => page.url()).not.toContain("deployment=");

    // The first deployment's run opens in the run panel; closing it goes back to the deployment.
    await rows.nth(3).click();
    await panel.getByRole("button", { name: `Open run ${RUN}` }).click();
    const run = page.getByRole("dialog", { name: `Run ${RUN}` });
    await run.getByText("deploy", { exact: true }).first().waitFor();
    expect(page.url()).toContain(`run=${RUN}`);
    await page.keyboard.press("Escape");
    await expect.poll(() => run.count()).toBe(0);
    await panel.getByRole("table", { name: "Commits (1)" }).waitFor();
    await page.keyboard.press("Escape");
    await expect.poll(() => panel.count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/delivery-light.png`, fullPage: true });
  });

  it("edits the production environments in Settings, sends every other setting back, and the keys follow", async () => {
    const before = (await server.api<Schemas["Settings"]>("/api/settings")).body;
    try {
      const settings = await open("/settings");
      const dialog = settings.getByRole("dialog", { name: "API token needed" });
      await dialog.getByLabel("Token").fill(ADMIN_TOKEN);
      await dialog.getByRole("button", { name: "Use token" }).click();
      const section = settings.getByRole("region", { name: "Delivery" });
      const environments = section.getByLabel(/Production environments/);
      await expect.poll(() => environments.inputValue()).toBe((before.production_environments ?? []).join("\n"));
      await environments.fill("staging\nqa-*");
      await section.getByRole("checkbox", { name: /^Rollbacks/ }).uncheck();
      await section.getByRole("button", { name: "Save delivery settings" }).click();
      await section.getByRole("status").waitFor();
      const after = (await server.api<Schemas["Settings"]>("/api/settings")).body;
      expect(after).toEqual({
        ...before,
        production_environments: ["staging", "qa-*"],
        change_failure_causes: ["failed_deployment", "incident"],
      });

      // The keys and the timeline count staging now.
      const page = await open(`/delivery?service=${SERVICE}`);
      await page
        .getByRole("table", { name: /^staging/ })
        .locator("tbody tr")
        .first()
        .waitFor();
      expect(await page.getByRole("table", { name: /^production/ }).count()).toBe(0);
      await expect
        .poll(() => page.locator(".dora-scope").textContent())
        .toContain("production environments: staging, qa-*. Failed changes: failed deployments, incidents");
    } finally {
      await server.api("/api/settings", { method: "PUT", body: before });
    }
  });
});
