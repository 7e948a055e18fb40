// The tests view, the run panel's Tests tab and the flake rates end to end: Debian's Chromium
// (playwright-core) against the real backend and a real PostgreSQL. A GitHub Actions run of one commit
// is delivered through the webhook — its first attempt failed on a test, its re-run passed — and the
// two attempts' JUnit XML reports uploaded through the API, so the test, the job and the run are
// flaky. Then the quarantine and the auto-quarantine rule managed from the tests view, the test
// retention, and a test alert rule made with the settings form. Screenshots go to
// test-output/screenshots/; with CICD_UPDATE_DOCS_SCREENSHOTS=1 the light one of the tests view also
// replaces docs/screenshots/tests.png.
import { copyFileSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CreatedToken, Schemas } from "../src/api/client";
import { ADMIN_TOKEN, backend, type Backend } from "./backend";
import { launch, openPage, settle } from "./browser";
import { github, type GitHub } from "./github";

const SHOTS = resolve(import.meta.dirname, "../test-output/screenshots");
const DOCS_SHOTS = resolve(import.meta.dirname, "../../docs/screenshots");
const REPO = "e2e/tests";
/** GitHub's run 101 and its re-run: ids with `:` and `/`, which the dashboard encodes in paths. */
const RUN = 101;
const FAILED = `github:${REPO}:${RUN}:1`;
const RERUN = `github:${REPO}:${RUN}:2`;
const COMMIT = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const MESSAGE = "AssertionError: expected 200, got 500";
let server: Backend;
let gh: GitHub;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ingest: string;
const contexts: BrowserContext[] = [];

/** A pytest report: `test_login` fails (with its traceback and output) or passes, `test_health` passes. */
function junit(loginFails: boolean): string {
  const login = loginFails
    ? `<testcase classname="tests.test_login" name="test_login" file="tests/test_login.py" time="1.25">
      <failure message="${MESSAGE}">def test_login(client):
&gt;       assert client.post("/login").status_code == 200
E       ${MESSAGE}</failure>
      <system-out>POST /login -&gt; 500
  request id 7f3a</system-out>
    </testcase>`
    : `<testcase classname="tests.test_login" name="test_login" file="tests/test_login.py" time="0.75"/>`;
  return `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="2" failures="${loginFails ? 1 : 0}" errors="0" skipped="0" time="1.3">
    ${login}
    <testcase classname="tests.test_health" name="test_health" file="tests/test_health.py" time="0.012"/>
  </testsuite>
</testsuites>`;
}

/** Delivers attempt `attempt` of RUN (15 minutes long, started `minutesAgo` minutes ago) and its `pytest` job. */
async function deliverAttempt(attempt: number, conclusion: "failure" | "success", minutesAgo: number): Promise<void> {
  const at = Date.now() - minutesAgo * 60_000;
  await gh.deliver("workflow_run", gh.workflowRun(RUN, at, "in_progress", undefined, attempt));
  const job = { runId: RUN, attempt, id: RUN * 10 + attempt, name: "pytest", labels: ["ubuntu-latest"], queuedAt: at };
  await gh.deliver("workflow_job", gh.workflowJob({ ...job, queueS: 5, ranS: 600, conclusion }, "completed"));
  await gh.deliver("workflow_run", gh.workflowRun(RUN, at, "completed", conclusion, attempt));
}

/** Uploads a JUnit XML report for a run, as a CI step would (`POST /api/runs/{run_id}/tests`). */
async function upload(id: string, xml: string): Promise<Schemas["UploadResult"]> {
  const res = await fetch(`${server.url}/api/runs/${encodeURIComponent(id)}/tests?job=pytest`, {
    method: "POST",
    headers: { Authorization: `Bearer ${ingest}`, "Content-Type": "application/xml" },
    body: xml,
  });
  const body = (await res.json()) as Schemas["UploadResult"];
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await backend();
  ({ browser, close: closeBrowser } = await launch());
  const token = await server.api<CreatedToken>("/api/tokens", { body: { name: "e2e-tests-ingest", scope: "ingest" } });
  expect(token.status).toBe(201);
  ingest = token.body.token;
  gh = await github(server, {
    name: "e2e-tests",
    secret: "e2e-tests-webhook-secret-0123456789",
    repo: REPO,
    sha: COMMIT,
  });
  await deliverAttempt(1, "failure", 40);
  await deliverAttempt(2, "success", 20);
  const first = await upload(FAILED, junit(true));
  expect([first.attached, first.tests, first.failed, first.passed]).toEqual([true, 2, 1, 1]);
  const second = await upload(RERUN, junit(false));
  expect([second.attached, second.passed]).toEqual([true, 2]);
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
});

function open(path: string): Promise<Page> {
  return openPage(browser, contexts, server.url + path);
}

/** `<name>-light.png` and `-dark`; with `docs`, the light one replaces docs/screenshots/<name>.png when asked to. */
async function shoot(page: Page, name: string, docs = false): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe(scheme);
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/${name}-${scheme}.png` });
  }
  await page.emulateMedia({ colorScheme: "light" });
  if (docs && process.env.CICD_UPDATE_DOCS_SCREENSHOTS === "1") {
    copyFileSync(`${SHOTS}/${name}-light.png`, `${DOCS_SHOTS}/${name}.png`);
  }
}

/** Gives the admin token to the dialog that asks for one (a fresh page has none). */
async function giveAdminToken(page: Page): Promise<void> {
  const dialog = page.getByRole("dialog", { name: "API token needed" });
  await dialog.getByLabel("Token").fill(ADMIN_TOKEN);
  await dialog.getByRole("button", { name: "Use token" }).click();
}

describe("tests view", () => {
  it("ranks the flaky test, shows its results by commit, and the run's failure first", async () => {
    const page = await open(`/tests?repo=${encodeURIComponent(REPO)}`);
    const table = page.getByRole("table", { name: "Tests" });
    const row = table.locator("tbody tr", { hasText: "test_login" });
    await row.waitFor();
    // The only flaky test: it failed in the first run and passed in the re-run of the same commit,
    // which makes that failed run one it made red.
    expect(await table.locator("tbody tr").count()).toBe(1);
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toContain("tests.test_login · e2e/tests");
    expect(cells.slice(1, 4)).toEqual(["1", "15 min", "1"]);

    await row.click();
    expect(new URL(page.url()).searchParams.get("test_repo")).toBe(REPO);
    const history = page.getByRole("region", { name: /^test_login/ });
    const strip = history.getByTestId("history-strip");
    await strip.waitFor();
    // Oldest left: the failure, then the re-run's pass; both on the commit it flaked on.
    const results = strip.getByRole("button");
    expect(
      await results.evaluateAll((els: HTMLElement[]) =>
        els.map((e): [string?, string?] => [e.dataset.status, e.className]),
      ),
    ).toEqual([
      ["failed", "history-cell failed flaky-commit"],
      ["passed", "history-cell passed flaky-commit"],
    ]);
    expect(await results.first().getAttribute("aria-label")).toMatch(
      /^failed · commit 4b825dc · .* · branch main · job pytest · flaky on this commit\. Open run github:e2e\/tests:101:1$/,
    );
    expect(await history.locator(".latest-failure pre").textContent()).toBe(MESSAGE);
    await shoot(page, "tests-flaky");

    // A cell opens its run in the panel, on its Tests tab: the failure first, with its message.
    await results.first().click();
    const panel = page.getByRole("dialog", { name: `Run ${FAILED}` });
    await expectFailureFirst(panel.getByRole("tabpanel", { name: /^Tests/ }));
    expect(await panel.getByRole("tab", { name: /^Tests/ }).getAttribute("aria-selected")).toBe("true");
    await shoot(page, "run-tests");

    // The test's name there leads back to its history.
    await panel.getByRole("button", { name: "test_login" }).first().click();
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    await history.getByTestId("history-strip").waitFor();
  });

  it("ranks the demo data's flaky tests, the costliest first, and opens one's history", async () => {
    // The demo's CI runs of the last two weeks: hundreds of tests per repository, a few flaky.
    const page = await open("/tests?range=30d");
    const rows = page.getByRole("table", { name: "Tests" }).locator("tbody tr");
    await expect.poll(() => rows.count()).toBeGreaterThan(2);
    // By impact: the minutes of the runs each made red.
    const minutes = await rows.evaluateAll((trs: HTMLElement[]) =>
      trs.map((tr) => parseFloat((tr.querySelectorAll("td")[2]!.textContent ?? "").replace(/,/g, ""))),
    );
    expect(minutes.every((m) => m >= 0)).toBe(true);
    expect(minutes).toEqual([...minutes].sort((a, b) => b - a));
    await rows.first().click();
    const history = page.getByRole("region", { name: /^test_/ });
    await history.getByTestId("history-strip").waitFor();
    expect(await history.getByTestId("history-strip").getByRole("button").count()).toBeGreaterThan(5);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shoot(page, "tests", true);
  });

  it("ranks the tests by failures, and finds them by name", async () => {
    const page = await open(`/tests?repo=${encodeURIComponent(REPO)}`);
    await page.getByRole("button", { name: "Most failing" }).click();
    expect(new URL(page.url()).searchParams.get("rank")).toBe("failing");
    const rows = page.getByRole("table", { name: "Tests" }).locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(2);
    // test_login failed once in its two runs; its newest report passed, so it is not failing now.
    const login = await rows.first().locator("td").allTextContents();
    expect([login[0], ...login.slice(1, 5)]).toEqual([
      "test_logintests.test_login · e2e/tests",
      "2",
      "1",
      "50.0%",
      "50.0%",
    ]);
    await page.getByRole("searchbox", { name: "Search tests" }).fill("health");
    await page.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => rows.allTextContents()).toEqual([expect.stringContaining("test_health")]);
    expect(new URL(page.url()).searchParams.get("q")).toBe("health");
    await page.goBack();
    await expect.poll(() => rows.count()).toBe(2);
  });

  it("shows a run's test results in the run panel's Tests tab, opened from the dashboard", async () => {
    const page = await open(`/?run=${encodeURIComponent(FAILED)}`);
    const panel = page.getByRole("dialog", { name: `Run ${FAILED}` });
    const tab = panel.getByRole("tab", { name: "Tests 1 failed" });
    await tab.waitFor();
    expect(await panel.getByRole("tab", { name: "Run" }).getAttribute("aria-selected")).toBe("true");
    await tab.click();
    await expectFailureFirst(panel.getByRole("tabpanel", { name: /^Tests/ }));
    // The re-run passed: it has a Tests tab with no failure.
    await panel.getByRole("button", { name: "Close run details" }).click();
    const rerun = await open(`/?run=${encodeURIComponent(RERUN)}`);
    const rerunPanel = rerun.getByRole("dialog", { name: `Run ${RERUN}` });
    await rerunPanel.getByRole("tab", { name: "Tests" }).click();
    await rerunPanel.getByText("No test failed or flaked in this run.").waitFor();
  });

  it("quarantines the test with a reason once an admin token is given, and releases it", async () => {
    const page = await open(`/tests?repo=${encodeURIComponent(REPO)}`);
    await page.getByRole("table", { name: "Tests" }).locator("tbody tr", { hasText: "test_login" }).click();
    const box = page.getByTestId("quarantine");
    await box.getByRole("textbox", { name: "Reason (optional)" }).fill("fails when the login service is slow");
    await box.getByRole("button", { name: "Quarantine" }).click();
    await giveAdminToken(page);
    await box.getByRole("button", { name: "Release" }).waitFor();
    expect(await box.textContent()).toContain("fails when the login service is slow");
    const listed = await server.api<Schemas["Quarantined"][]>(`/api/tests/quarantine?repo=${encodeURIComponent(REPO)}`);
    expect(listed.body.map((q) => [q.name, q.reason])).toEqual([
      ["test_login", "fails when the login service is slow"],
    ]);
    // The ranking marks it too.
    await page.getByRole("table", { name: "Tests" }).getByText("quarantined").waitFor();

    await box.getByRole("button", { name: "Release" }).click();
    await box.getByRole("button", { name: "Quarantine" }).waitFor();
    const after = await server.api<Schemas["Quarantined"][]>(`/api/tests/quarantine?repo=${encodeURIComponent(REPO)}`);
    expect(after.body).toEqual([]);
  });
});

describe("quarantine", () => {
  const quarantineOf = async () =>
    (await server.api<Schemas["Quarantined"][]>(`/api/tests/quarantine?repo=${encodeURIComponent(REPO)}`)).body;

  it("lists the repository's quarantine: a test found and added with a reason, read by CI as text, released", async () => {
    const page = await open(`/tests?repo=${encodeURIComponent(REPO)}`);
    const card = page.getByRole("region", { name: "Quarantine" });
    await card.getByText(`No test is quarantined in ${REPO}.`).waitFor();
    // The URL a CI step reads the list from.
    const url = `${server.url}/api/tests/quarantine?repo=${encodeURIComponent(REPO)}&format=text`;
    expect(await card.locator("code").textContent()).toBe(url);

    // Found by name among the tests with results in the period, and added with a reason.
    await card.getByRole("searchbox", { name: "Find a test to quarantine" }).fill("health");
    await card.getByRole("button", { name: "Find" }).click();
    const found = card.getByRole("list", { name: "Tests found" });
    await found.getByText("test_health", { exact: true }).waitFor();
    expect(await found.locator("li").count()).toBe(1);
    await card.getByRole("textbox", { name: "Reason (optional)" }).fill("needs the staging database");
    await found.getByRole("button", { name: `Quarantine test_health in ${REPO}` }).click();
    await giveAdminToken(page);
    const row = card.getByRole("table", { name: "Quarantine" }).locator("tbody tr", { hasText: "test_health" });
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    expect(cells[0]).toBe(`test_healthtests.test_health · ${REPO}`);
    expect(cells[1]).toBe("needs the staging database");
    expect(cells[2]).toMatch(/by bootstrap admin$/);
    // The search's answer marks it, and CI reads it.
    await found.getByText("quarantined", { exact: true }).waitFor();
    expect((await quarantineOf()).map((q) => [q.name, q.reason])).toEqual([
      ["test_health", "needs the staging database"],
    ]);
    const text = await fetch(url, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await text.text()).toBe("test_health\n");
    await shoot(page, "tests-quarantine");

    // Its name opens its history, which says it is quarantined.
    await row.getByRole("button", { name: "test_health", exact: true }).click();
    const history = page.getByRole("region", { name: /^test_health/ });
    await history.getByTestId("quarantine").getByText("quarantined", { exact: true }).waitFor();

    await row.getByRole("button", { name: `Release test_health in ${REPO}` }).click();
    await card.getByText(`No test is quarantined in ${REPO}.`).waitFor();
    expect(await quarantineOf()).toEqual([]);
    await history.getByTestId("quarantine").getByRole("button", { name: "Quarantine" }).waitFor();
  });

  it("sets the auto-quarantine rule, checked as the backend checks it, and turns it off", async () => {
    const page = await open(`/tests?repo=${encodeURIComponent(REPO)}`);
    const card = page.getByRole("region", { name: "Quarantine" });
    const auto = card.getByTestId("auto-quarantine");
    await expect.poll(() => auto.textContent()).toBe("Auto-quarantine: off.Change");
    await auto.getByRole("button", { name: "Change" }).click();
    const form = card.getByRole("form", { name: "Auto-quarantine" });
    await form.getByRole("checkbox").check();
    await form.getByRole("spinbutton", { name: "Flaky commits" }).fill("5");
    await form.getByRole("spinbutton", { name: "Days" }).fill("400");
    await form.getByRole("button", { name: "Save" }).click();
    expect(await form.getByRole("alert").locator("li").allTextContents()).toEqual([
      "auto_quarantine.days: must be a whole number of days from 1 to 365",
    ]);
    await form.getByRole("spinbutton", { name: "Days" }).fill("30");
    await form.getByRole("button", { name: "Save" }).click();
    await giveAdminToken(page);
    await expect
      .poll(() => card.getByTestId("auto-quarantine").textContent())
      .toContain("a test that flaked on 5 commits within 30 days is quarantined.");
    const stored = await server.api<Schemas["Settings"]>("/api/settings");
    expect(stored.body.auto_quarantine).toEqual({ flakes: 5, days: 30 });

    await card.getByTestId("auto-quarantine").getByRole("button", { name: "Change" }).click();
    await form.getByRole("checkbox").uncheck();
    await form.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(() => card.getByTestId("auto-quarantine").textContent())
      .toBe("Auto-quarantine: off.ChangeSaved.");
    expect((await server.api<Schemas["Settings"]>("/api/settings")).body.auto_quarantine).toBeNull();
  });
});

describe("settings", () => {
  /** The settings page, once given the admin token its admin-only lists ask for. */
  async function openSettings(): Promise<Page> {
    const page = await open("/settings");
    await giveAdminToken(page);
    await page.getByRole("table", { name: "Audit log" }).waitFor();
    return page;
  }

  it("keep test results for the days the retention form sets", async () => {
    const page = await openSettings();
    const retention = page.getByRole("region", { name: "Retention" });
    const days = retention.getByLabel("Keep test results (days)");
    await expect.poll(() => days.inputValue()).toBe("30");
    await days.fill("45");
    await retention.getByRole("button", { name: "Save" }).click();
    await retention.getByText("Saved.").waitFor();
    expect((await server.api<Schemas["Settings"]>("/api/settings")).body.test_retention_days).toBe(45);
    await days.fill("30");
    await retention.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(async () => (await server.api<Schemas["Settings"]>("/api/settings")).body.test_retention_days)
      .toBe(30);
  });

  it("make a TestFailureRate rule on one test with the form, checked before saving and by the backend", async () => {
    const page = await openSettings();
    page.on("dialog", (d) => void d.accept());
    const rules = page.getByRole("region", { name: "Alert rules" });
    await rules.getByRole("button", { name: "New rule" }).click();
    const form = page.getByRole("form", { name: "New alert rule" });
    await form.getByLabel("Name", { exact: true }).fill("e2e-login-failing");
    await form.getByLabel("Repository (glob)").fill(REPO);
    await form.getByLabel("Condition").selectOption("TestFailureRate");
    // A glob of tests in the repository, first with two mistakes the form finds before saving.
    await form.getByLabel("Tests (glob on class::name)").fill("tests.{test_login");
    await form.getByLabel("Window (whole days)").fill("12h");
    await form.getByRole("button", { name: "Save rule" }).click();
    expect(await form.getByRole("alert").locator("li").allTextContents()).toEqual([
      `spec.condition.testMatch: "tests.{test_login" is not a valid glob: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)`,
      "spec.condition.window: must be between 1d and 90d (tests are counted by UTC day)",
    ]);

    // One test instead (its repository, the one typed above), and an integration only the backend knows is missing.
    await form.getByLabel("One test").check();
    expect(await form.getByLabel("Repository (glob)").count()).toBe(0);
    expect(await form.getByLabel("Test's repository").inputValue()).toBe(REPO);
    await form.getByLabel("Test name").fill("test_login");
    await form.getByLabel("Test class (optional)").fill("tests.test_login");
    await form.getByLabel("Window (whole days)").fill("7d");
    await form.getByLabel("Failure rate (%)").fill("40");
    await form.getByLabel("Notify (integration names, comma-separated)").fill("e2e-nobody");
    expect(await form.getByRole("alert").count()).toBe(0);
    await form.scrollIntoViewIfNeeded();
    await shoot(page, "rule-test-failure-rate");
    await form.getByRole("button", { name: "Save rule" }).click();
    const refused = form.getByRole("alert");
    await refused.waitFor();
    expect(await refused.locator("li").allTextContents()).toEqual([
      'spec.notify.integrations[0].name: no integration named "e2e-nobody"',
    ]);

    await form.getByLabel("Notify (integration names, comma-separated)").fill("");
    await form.getByRole("button", { name: "Save rule" }).click();
    const row = rules.locator('tr[data-rule="e2e-login-failing"]');
    await row.waitFor();
    expect(await form.count()).toBe(0);
    const cells = await row.locator("td").allTextContents();
    expect(cells.slice(1, 3)).toEqual([
      `test ${REPO} · tests.test_login::test_login`,
      `failure rate of ${REPO} · tests.test_login::test_login ≥ 40% over 7d (at least 5 runs)`,
    ]);
    const stored = await server.api<Schemas["RuleInfo"][]>("/api/alert-rules");
    const rule = stored.body.find((r) => r.name === "e2e-login-failing")!;
    expect(rule.spec.condition).toEqual({
      type: "TestFailureRate",
      test: { repo: REPO, name: "test_login", classname: "tests.test_login" },
      threshold: 40,
      window: "7d",
      minRuns: 5,
    });
    // No selector: the rule watches the test it names.
    expect(rule.spec.match).toEqual({});

    // Deleted again: it watches the test these tests made flaky.
    await row.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => row.count()).toBe(0);
  });
});

describe("flake rates", () => {
  it("count the run that failed and passed on its re-run, on the dashboard and in the jobs view", async () => {
    const filter = `repo=${encodeURIComponent(REPO)}&range=24h`;
    // One flaky run of the two that succeeded or failed: the re-run that passed.
    const dashboard = await open(`/?${filter}`);
    const kpi = (label: string) => dashboard.getByTestId(`kpi-${label}`);
    await expect.poll(() => kpi("Success rate").textContent()).toBe("50.0%");
    await expect.poll(() => kpi("Flake rate").textContent()).toBe("50.0%");
    const card = dashboard.getByRole("article", { name: "Flake rate" });
    expect(await card.locator(".label").getAttribute("title")).toBe(
      "flaky runs ÷ (success + failure): 1 run passed on a re-run after an attempt of the same run and commit failed",
    );
    // Nothing ran in the day before: no change to show.
    expect(await card.locator(".delta").getAttribute("aria-label")).toBe("no data for the previous period");

    // Its pytest job: failed in the first attempt, passed in the re-run (figures folded within a second or so).
    const jobs = await open(`/jobs?${filter}`);
    const row = jobs.locator('tr[data-job="pytest"]');
    await row.waitFor();
    const headers = await jobs.locator("table.jobs-table thead th").allTextContents();
    const column = headers.indexOf("Flake rate");
    expect(headers[column - 1]).toMatch(/^Failure rate/);
    await expect.poll(async () => (await row.locator("td").allTextContents())[column]).toBe("50.0%1 flaky");
    expect((await row.locator("td").allTextContents())[column - 1]).toMatch(/^50\.0%/);
  });
});

/** The Tests tab of the failed run: its counts, then `test_login`'s failure with its message, output folded. */
async function expectFailureFirst(tests: ReturnType<Page["getByRole"]>): Promise<void> {
  await tests.getByTestId("test-summary").waitFor();
  expect(await tests.getByTestId("test-summary").textContent()).toBe("2 tests in 1 report:1 failed1 passed");
  const first = tests.locator("li[data-status]").first();
  expect(await first.getAttribute("data-status")).toBe("failed");
  expect(await first.locator(".test-name").textContent()).toBe("test_login");
  expect(await first.locator("pre.test-message").textContent()).toBe(MESSAGE);
  const output = first.locator("details.test-output");
  expect(await output.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
  await output.locator("summary").click();
  expect(await output.locator("pre").textContent()).toContain("POST /login -> 500\n  request id 7f3a");
}
