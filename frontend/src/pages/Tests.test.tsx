import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { tokenStore, type Schemas } from "../api/client";
import type { View } from "../lib/url";
import { Tests } from "./Tests";
import { answer, renderPage, serve } from "./testing";

afterEach(() => {
  vi.unstubAllGlobals();
  tokenStore.set(null);
});

const name = (id: number, test: string): Schemas["TestName"] => ({
  test_id: id,
  repo: "acme/api",
  suite: "pytest",
  classname: "tests.test_login",
  name: test,
  file: "tests/test_login.py",
});

function flaky(id: number, test: string, patch: Partial<Schemas["FlakyTest"]> = {}): Schemas["FlakyTest"] {
  return {
    ...name(id, test),
    first_seen: "2026-11-20T08:00:00Z",
    last_seen: "2026-11-27T09:00:00Z",
    flakes: 3,
    runs: 40,
    flake_rate: 0.075,
    red_runs: 2,
    red_minutes: 12.5,
    quarantined: false,
    ...patch,
  };
}

function stats(id: number, test: string, patch: Partial<Schemas["TestStats"]> = {}): Schemas["TestStats"] {
  return {
    ...name(id, test),
    runs: 40,
    failures: 6,
    errors: 1,
    skipped: 0,
    flaky_reports: 1,
    flakes: 2,
    failure_rate: 0.15,
    flake_rate: 0.05,
    duration_avg_seconds: 1.2,
    duration_p50_seconds: 0.8,
    duration_p95_seconds: 3,
    last_failure_at: "2026-11-27T09:00:00Z",
    failing_since: null,
    quarantined: false,
    ...patch,
  };
}

function entry(run: string, status: Schemas["TestStatus"], patch: Partial<Schemas["HistoryEntry"]> = {}) {
  return {
    run_id: run,
    repo: "acme/api",
    workflow: "ci",
    branch: "main",
    commit: `${run.slice(-1).repeat(12)}`,
    run_at: "2026-11-27T09:00:00Z",
    job: "test",
    status,
    attempts: 1,
    flaky_commit: false,
    ...patch,
  } satisfies Schemas["HistoryEntry"];
}

/** Newest first, as the API answers: a failure on commit 3, which passed on a re-run (flaky). */
const history: Schemas["History"] = {
  test: { test_id: 7, suite: "pytest", classname: "tests.test_login", name: "test_login", file: "" },
  quarantined_in: [],
  results: [
    entry("run-3b", "passed", { commit: "3".repeat(12), flaky_commit: true, run_at: "2026-11-27T10:00:00Z" }),
    entry("run-3a", "failed", {
      commit: "3".repeat(12),
      flaky_commit: true,
      message: "AssertionError: expected 200\n  got 500",
      run_at: "2026-11-27T09:30:00Z",
    }),
    entry("run-2", "passed", { commit: "2".repeat(12), run_at: "2026-11-26T09:00:00Z" }),
  ],
  next_before: null,
};

const filters = () => ({ providers: [], repos: ["acme/api"], workflows: [], branches: ["main"] });

function show(view: View, onView = vi.fn()) {
  renderPage(<Tests view={view} onView={onView} />);
  return onView;
}

const base: View = { page: "tests", range: "7d", sort: "newest" };

it("ranks the flaky tests by what they cost, with their figures, and pages", async () => {
  const asked = serve({
    "/api/filters": filters,
    "/api/tests/flaky": () => ({
      from: "",
      to: "",
      total: 30,
      tests: [flaky(7, "test_login", { quarantined: true }), flaky(8, "test_logout", { red_runs: 1 })],
    }),
  });
  const onView = show({ ...base, repo: "acme/api", workflow: "ci", branch: "main", testSearch: "log", testsPage: 2 });
  const table = await screen.findByRole("table", { name: "Tests" });
  const rows = within(table).getAllByRole("row").slice(1);
  expect(rows.map((r) => r.dataset.testId)).toEqual(["7", "8"]);
  const first = within(rows[0]!);
  expect(first.getByText("test_login")).toBeTruthy();
  expect(first.getByText("tests.test_login · acme/api")).toBeTruthy();
  expect(first.getByText("quarantined")).toBeTruthy();
  expect(first.getByText("12.5 min")).toBeTruthy();
  expect(first.getByText("7.5%")).toBeTruthy();
  expect(within(rows[1]!).queryByText("quarantined")).toBeNull();
  expect(
    within(table)
      .getByRole("columnheader", { name: /Red minutes/ })
      .getAttribute("aria-sort"),
  ).toBe("descending");
  // Every filter and the search narrow it, as they do the other rankings.
  const list = asked.find((u) => u.pathname === "/api/tests/flaky")!;
  expect(Object.fromEntries(list.searchParams)).toMatchObject({
    repo: "acme/api",
    workflow: "ci",
    branch: "main",
    q: "log",
    limit: "25",
    offset: "25",
  });
  expect(screen.getByText(/Only flakes on commits that runs matching the filters tested/)).toBeTruthy();
  expect(screen.getByRole("combobox", { name: "Workflow" })).toBeTruthy();
  expect(screen.getByRole("combobox", { name: "Branch" })).toBeTruthy();
  const search = screen.getByRole<HTMLInputElement>("searchbox", { name: "Search tests" });
  expect([search.value, search.disabled]).toEqual(["log", false]);
  expect(screen.getByText(/Page 2 of 2/).textContent).toContain("tests 26–30 of 30");

  fireEvent.click(screen.getByRole("button", { name: "Most failing" }));
  expect(onView).toHaveBeenLastCalledWith({ testRank: "failing" });
  fireEvent.click(screen.getByRole("button", { name: "← Previous" }));
  expect(onView).toHaveBeenLastCalledWith({ testsPage: undefined });
  fireEvent.keyDown(rows[1]!, { key: "Enter" });
  expect(onView).toHaveBeenLastCalledWith({ test: { id: 8, repo: "acme/api" } });
});

it("ranks the most failing tests with where they started failing, and searches", async () => {
  const asked = serve({
    "/api/filters": filters,
    "/api/tests": () => ({
      from: "",
      to: "",
      total: 1,
      tests: [
        stats(7, "test_login", {
          failing_since: {
            first_failing_commit: "b".repeat(40),
            first_failing_run: "run-9",
            first_failing_at: "2026-11-27T08:00:00Z",
            last_passing_commit: "a".repeat(40),
            last_passing_at: "2026-11-26T08:00:00Z",
          },
        }),
      ],
    }),
  });
  const onView = show({ ...base, testRank: "failing", branch: "main", testSearch: "login" });
  const table = await screen.findByRole("table", { name: "Tests" });
  const row = within(within(table).getAllByRole("row")[1]!);
  expect(row.getByText("failing since bbbbbbb (last passed aaaaaaa)")).toBeTruthy();
  expect(row.getByText("15.0%")).toBeTruthy();
  expect(row.getByText("(1 errors)")).toBeTruthy();
  expect(row.getByText("0.8s / 3s")).toBeTruthy();
  expect(
    within(table)
      .getByRole("columnheader", { name: /Failures/ })
      .getAttribute("aria-sort"),
  ).toBe("descending");
  const list = asked.find((u) => u.pathname === "/api/tests")!;
  expect(Object.fromEntries(list.searchParams)).toMatchObject({ sort: "failing", branch: "main", q: "login" });
  expect(screen.queryByRole("navigation", { name: "Pages of tests" })).toBeNull();

  const search = screen.getByRole<HTMLInputElement>("searchbox", { name: "Search tests" });
  expect(search.value).toBe("login");
  fireEvent.change(search, { target: { value: "  checkout " } });
  fireEvent.click(screen.getByRole("button", { name: "Search" }));
  expect(onView).toHaveBeenLastCalledWith({ testSearch: "checkout" });
  fireEvent.change(search, { target: { value: "" } });
  fireEvent.submit(search.closest("form")!);
  expect(onView).toHaveBeenLastCalledWith({ testSearch: undefined });
});

it("opens a test's history: its results by commit, the latest failure, and their runs", async () => {
  const asked = serve({
    "/api/filters": filters,
    "/api/tests/flaky": () => ({ from: "", to: "", total: 1, tests: [flaky(7, "test_login")] }),
    "/api/tests/history": () => ({ ...history, quarantined_in: ["acme/web"] }),
  });
  const onView = show({ ...base, branch: "main", test: { id: 7, repo: "acme/api" } });
  const card = await screen.findByRole("region", { name: /^test_login/ });
  const strip = await within(card).findByRole("list", { name: "Results of test_login, oldest first" });
  const cells = within(strip).getAllByRole("button");
  expect(cells.map((c) => c.dataset.runId)).toEqual(["run-2", "run-3a", "run-3b"]);
  expect(cells[1]!.getAttribute("aria-label")).toBe(
    "failed · commit 3333333 · 27 Nov 2026, 09:30:00 UTC · branch main · job test · flaky on this commit. Open run run-3a",
  );
  expect(within(card).getByText(/1 failed, 2 passed; flaky on 1 commit/)).toBeTruthy();
  expect(
    within(card).getByRole("heading", { name: "Latest failure" }).parentElement!.querySelector("pre")!.textContent,
  ).toBe("AssertionError: expected 200\n  got 500");
  fireEvent.click(cells[0]!);
  expect(onView).toHaveBeenLastCalledWith({ run: "run-2" }, true);
  fireEvent.click(within(card).getByRole("button", { name: "Open run run-3a" }));
  expect(onView).toHaveBeenLastCalledWith({ run: "run-3a" }, true);
  const asks = asked.find((u) => u.pathname === "/api/tests/history")!;
  expect(Object.fromEntries(asks.searchParams)).toEqual({
    test_id: "7",
    repo: "acme/api",
    branch: "main",
    limit: "100",
  });
  // The row of the open test is marked.
  const table = screen.getByRole("table", { name: "Tests" });
  expect(table.querySelector<HTMLElement>("tr[aria-current='true']")?.dataset.testId).toBe("7");
  // Not quarantined, its history says: no need for its repository's quarantine (the page's list,
  // below, is every repository's: no repository is chosen).
  expect(within(screen.getByTestId("quarantine")).getByRole("button", { name: "Quarantine" })).toBeTruthy();
  expect(screen.getByTestId("quarantine").textContent).toContain("Also quarantined in acme/web.");
  const quarantines = asked.filter((u) => u.pathname === "/api/tests/quarantine");
  expect(quarantines.map((u) => u.searchParams.get("repo"))).toEqual([null]);
  fireEvent.click(within(card).getByRole("button", { name: "Close the history of test_login" }));
  expect(onView).toHaveBeenLastCalledWith({ test: undefined });
});

it("quarantines a test with a reason after asking for an admin token, and releases it", async () => {
  // jsdom has no modal dialogs: the token prompt opens as a plain one.
  if (!("showModal" in HTMLDialogElement.prototype)) {
    Object.defineProperty(HTMLDialogElement.prototype, "showModal", {
      configurable: true,
      value(this: HTMLDialogElement) {
        this.open = true;
      },
    });
  }
  const quarantined: Schemas["Quarantined"][] = [];
  const writes: { method: string; url: URL; body: string; auth: string | null }[] = [];
  serve({
    "/api/filters": filters,
    "/api/tests/flaky": () => ({ from: "", to: "", total: 0, tests: [] }),
    "/api/tests/history": () => ({ ...history, quarantined_in: quarantined.map((q) => q.repo) }),
    "/api/tests/quarantine": async (url, req) => {
      if (req.method === "GET") return [...quarantined];
      writes.push({ method: req.method, url, body: await req.text(), auth: req.headers.get("Authorization") });
      if (!req.headers.get("Authorization")) return answer(401, { error: { code: "unauthorized", message: "no" } });
      if (req.method === "DELETE") {
        quarantined.length = 0;
        return answer(204);
      }
      quarantined.push({
        ...name(7, "test_login"),
        reason: "flaky on slow runners",
        created_by: "token:admin",
        created_at: "2026-11-27T11:00:00Z",
      });
      return answer(201, quarantined);
    },
  });
  show({ ...base, test: { id: 7, repo: "acme/api" } });
  const box = await screen.findByTestId("quarantine");
  fireEvent.change(within(box).getByRole("textbox", { name: "Reason (optional)" }), {
    target: { value: "flaky on slow runners" },
  });
  fireEvent.click(within(box).getByRole("button", { name: "Quarantine" }));
  const dialog = await screen.findByRole("dialog", { name: "API token needed" });
  expect(dialog.textContent).toContain("Quarantining and releasing tests needs an admin token.");
  fireEvent.change(within(dialog).getByLabelText("Token"), { target: { value: "cicd_admin" } });
  fireEvent.click(within(dialog).getByRole("button", { name: "Use token" }));
  await waitFor(() => expect(screen.getByTestId("quarantine").textContent).toContain("flaky on slow runners"));
  expect(writes.map((w) => [w.method, w.auth, w.body])).toEqual([
    ["POST", null, JSON.stringify({ repo: "acme/api", test_id: 7, reason: "flaky on slow runners" })],
    ["POST", "Bearer cicd_admin", JSON.stringify({ repo: "acme/api", test_id: 7, reason: "flaky on slow runners" })],
  ]);
  expect(screen.getByTestId("quarantine").textContent).toContain("by token:admin");

  fireEvent.click(within(screen.getByTestId("quarantine")).getByRole("button", { name: "Release" }));
  await within(screen.getByTestId("quarantine")).findByRole("button", { name: "Quarantine" });
  const release = writes.at(-1)!;
  expect([release.method, release.url.searchParams.get("repo"), release.url.searchParams.get("test_id")]).toEqual([
    "DELETE",
    "acme/api",
    "7",
  ]);
});

it("lists the repository's quarantine, releases a test, finds one to add, and sets the auto-quarantine", async () => {
  tokenStore.set("cicd_admin");
  const entry = (id: number, test: string, reason: string | null): Schemas["Quarantined"] => ({
    ...name(id, test),
    reason,
    created_by: "token:admin",
    created_at: "2026-11-27T11:00:00Z",
  });
  let quarantined = [entry(7, "test_login", "flaky on slow runners")];
  let settings: Schemas["Settings"] = {
    retention_days: 90,
    rollup_retention_days: 400,
    runner_prices: { gpu: 0.12 },
    currency: "EUR",
    test_retention_days: 30,
    auto_quarantine: null,
  };
  const writes: { method: string; url: URL; body: string }[] = [];
  const asked = serve({
    "/api/filters": filters,
    "/api/tests/flaky": () => ({ from: "", to: "", total: 0, tests: [] }),
    "/api/tests": () => ({
      from: "",
      to: "",
      total: 12,
      tests: [
        stats(7, "test_login", { quarantined: quarantined.some((q) => q.test_id === 7) }),
        stats(8, "test_logout", { quarantined: quarantined.some((q) => q.test_id === 8) }),
      ],
    }),
    "/api/tests/quarantine": async (url, req) => {
      if (req.method === "GET") return quarantined;
      writes.push({ method: req.method, url, body: await req.text() });
      if (req.method === "DELETE") {
        quarantined = quarantined.filter((q) => String(q.test_id) !== url.searchParams.get("test_id"));
        return answer(204);
      }
      const { test_id, reason } = JSON.parse(writes.at(-1)!.body) as { test_id: number; reason?: string };
      quarantined = [...quarantined, entry(test_id, test_id === 8 ? "test_logout" : "test_login", reason ?? null)];
      return answer(201, quarantined);
    },
    "/api/settings": async (_url, req) => {
      if (req.method === "PUT") {
        const body = await req.text();
        writes.push({ method: "PUT", url: new URL(req.url), body });
        settings = JSON.parse(body) as Schemas["Settings"];
      }
      return settings;
    },
  });
  const onView = show({ ...base, repo: "acme/api" });
  const card = await screen.findByRole("region", { name: "Quarantine" });
  expect(within(card).getByText("in acme/api")).toBeTruthy();
  const table = await within(card).findByRole("table", { name: "Quarantine" });
  const row = within(within(table).getAllByRole("row")[1]!);
  expect(row.getByText("flaky on slow runners")).toBeTruthy();
  expect(row.getByText("tests.test_login · acme/api")).toBeTruthy();
  expect(row.getByText("by token:admin")).toBeTruthy();
  expect(asked.find((u) => u.pathname === "/api/tests/quarantine")!.searchParams.get("repo")).toBe("acme/api");
  // CI reads the same list as text.
  expect(
    within(card).getByText(`${window.location.origin}/api/tests/quarantine?repo=acme%2Fapi&format=text`),
  ).toBeTruthy();
  // A name opens the test's history.
  fireEvent.click(row.getByRole("button", { name: "test_login" }));
  expect(onView).toHaveBeenLastCalledWith({ test: { id: 7, repo: "acme/api" } });

  fireEvent.click(row.getByRole("button", { name: "Release test_login in acme/api" }));
  await within(card).findByText("No test is quarantined in acme/api.");
  expect([writes[0]!.method, Object.fromEntries(writes[0]!.url.searchParams)]).toEqual([
    "DELETE",
    { repo: "acme/api", test_id: "7" },
  ]);

  // Found among the tests with results in the period, under the page's filters.
  fireEvent.change(within(card).getByRole("searchbox", { name: "Find a test to quarantine" }), {
    target: { value: " logout " },
  });
  fireEvent.click(within(card).getByRole("button", { name: "Find" }));
  const found = await within(card).findByRole("list", { name: "Tests found" });
  const search = asked.find((u) => u.pathname === "/api/tests")!;
  expect(Object.fromEntries(search.searchParams)).toMatchObject({ repo: "acme/api", q: "logout", limit: "10" });
  expect(within(card).getByText(/The 10 most failing of 12/)).toBeTruthy();
  fireEvent.change(within(card).getByRole("textbox", { name: "Reason (optional)" }), {
    target: { value: "times out on CI" },
  });
  fireEvent.click(within(found).getByRole("button", { name: "Quarantine test_logout in acme/api" }));
  await within(card).findByText("times out on CI");
  expect(writes[1]!.body).toBe(JSON.stringify({ repo: "acme/api", test_id: 8, reason: "times out on CI" }));
  // The search's answer says so too.
  await waitFor(() =>
    expect(within(found).queryByRole("button", { name: "Quarantine test_logout in acme/api" })).toBeNull(),
  );

  // The auto-quarantine: off, then on once its figures are valid, saved with the other settings as they are.
  const auto = within(card).getByTestId("auto-quarantine");
  expect(auto.textContent).toContain("Auto-quarantine: off.");
  fireEvent.click(within(auto).getByRole("button", { name: "Change" }));
  const form = within(card).getByRole("form", { name: "Auto-quarantine" });
  fireEvent.click(within(form).getByRole("checkbox"));
  fireEvent.change(within(form).getByRole("spinbutton", { name: "Flaky commits" }), { target: { value: "0" } });
  fireEvent.click(within(form).getByRole("button", { name: "Save" }));
  expect(within(form).getByRole("alert").textContent).toContain(
    "auto_quarantine.flakes: must be a whole number of commits from 1 to 1,000",
  );
  expect(writes.filter((w) => w.method === "PUT")).toEqual([]);
  fireEvent.change(within(form).getByRole("spinbutton", { name: "Flaky commits" }), { target: { value: "2" } });
  fireEvent.change(within(form).getByRole("spinbutton", { name: "Days" }), { target: { value: "7" } });
  fireEvent.click(within(form).getByRole("button", { name: "Save" }));
  await waitFor(() =>
    expect(within(card).getByTestId("auto-quarantine").textContent).toContain(
      "Auto-quarantine: a test that flaked on 2 commits within 7 days is quarantined.",
    ),
  );
  expect(JSON.parse(writes.at(-1)!.body)).toEqual({
    retention_days: 90,
    rollup_retention_days: 400,
    runner_prices: { gpu: 0.12 },
    currency: "EUR",
    test_retention_days: 30,
    auto_quarantine: { flakes: 2, days: 7 },
  });
});

it("says how to upload test results when there are none", async () => {
  serve({
    "/api/filters": filters,
    "/api/tests": () => ({ from: "", to: "", total: 0, tests: [] }),
  });
  show({ ...base, testRank: "slowest" });
  expect(await screen.findByText("No test results match these filters in this period.")).toBeTruthy();
  const curl = screen.getByTestId("upload-tests-curl").textContent;
  expect(curl).toBe(
    `curl -X POST "${window.location.origin}/api/runs/build-1042/tests?job=test" -H "Authorization: Bearer $CICD_TOKEN" -H "Content-Type: application/xml" --data-binary @junit.xml`,
  );
  expect(screen.getByRole("button", { name: "Copy command" })).toBeTruthy();
});
