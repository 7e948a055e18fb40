import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunDetail, Schemas } from "../api/client";
import { ZoneContext } from "../lib/prefs";
import { AuthProvider } from "./Auth";
import type { TestRef } from "../lib/url";
import { RunPanel, type RunTab } from "./RunPanel";

type Job = Schemas["Job"];

const detail: RunDetail = {
  id: "gh-42",
  provider: "github",
  repo: "acme/api",
  workflow: "ci",
  branch: "main",
  commit_sha: "abc1234",
  status: "failure",
  attempt: 2,
  run_key: "acme/api#42",
  triggered_by: "push",
  url: "https://ci.example/runs/42",
  queued_at: "2026-11-27T10:00:00Z",
  started_at: "2026-11-27T10:00:30Z",
  finished_at: "2026-11-27T10:05:30Z",
  queue_seconds: 30,
  duration_seconds: 300,
  created_at: "2026-11-27T10:00:00Z",
  updated_at: "2026-11-27T10:05:31Z",
  metadata: { marker: "raw-42" } as unknown as RunDetail["metadata"],
  attempts: [
    {
      id: "gh-41",
      attempt: 1,
      status: "failure",
      started_at: "2026-11-27T09:00:00Z",
      finished_at: "2026-11-27T09:04:00Z",
      duration_seconds: 240,
    },
    {
      id: "gh-42",
      attempt: 2,
      status: "failure",
      started_at: "2026-11-27T10:00:30Z",
      finished_at: "2026-11-27T10:05:30Z",
      duration_seconds: 300,
    },
  ],
  jobs: [
    {
      id: "job-1",
      name: "test",
      status: "failure",
      stage: "verify",
      runner_name: "runner-7",
      runner_group: "linux-large",
      labels: ["ubuntu-24.04", "x64"],
      queued_at: "2026-11-27T10:00:31Z",
      started_at: "2026-11-27T10:00:40Z",
      finished_at: "2026-11-27T10:05:20Z",
      queue_seconds: 9,
      duration_seconds: 280,
      failure_reason: "exit code 1",
      updated_at: "2026-11-27T10:05:21Z",
      url: "https://ci.example/jobs/1",
      steps: [
        {
          number: 1,
          name: "Checkout",
          status: "success",
          started_at: "2026-11-27T10:00:40Z",
          finished_at: "2026-11-27T10:00:44Z",
        },
      ],
    },
  ],
};

/** The first attempt of gh-42: build and lint side by side, then test after build. */
const firstAttempt: RunDetail = {
  ...detail,
  id: "gh-41",
  attempt: 1,
  started_at: "2026-11-27T09:00:00Z",
  finished_at: "2026-11-27T09:04:00Z",
  metadata: null,
  jobs: [
    job("a1-build", "build", "success", "09:00:00", "09:00:05", "09:01:00"),
    job("a1-lint", "lint", "success", "09:00:00", "09:00:02", "09:00:30"),
    job("a1-test", "test", "failure", "09:01:01", "09:01:10", "09:04:00"),
  ],
};

/** A job of 27 Nov 2026 (times as hh:mm:ss UTC), or at ISO times; null: not known. */
function job(
  id: string,
  name: string,
  status: Job["status"],
  queued: string | null,
  started: string | null,
  finished: string | null,
  steps: Job["steps"] = [],
): Job {
  const t = (hms: string | null) => (hms?.includes("T") ? hms : hms ? `2026-11-27T${hms}Z` : null);
  return {
    id,
    name,
    status,
    labels: [],
    queued_at: t(queued),
    started_at: t(started),
    finished_at: t(finished),
    updated_at: t(finished ?? started ?? queued) ?? "2026-11-27T09:00:00Z",
    steps,
  };
}

/** The test results GET /api/runs/{id}/tests answers, by run (404 for others, as for a run without reports). */
let testResults: Record<string, Schemas["RunTests"]> = {};

/** Answers GET /api/runs/{id} from these runs (404 for others), and its tests, as the backend does. */
function serve(...runs: RunDetail[]) {
  vi.stubGlobal(
    "fetch",
    vi.fn((input: Request | string) => {
      const url = new URL(typeof input === "string" ? input : input.url);
      const [path = "", tests] = url.pathname.split("/api/runs/")[1]!.split("/");
      const id = decodeURIComponent(path);
      const found = tests === "tests" ? testResults[id] : runs.find((r) => r.id === id);
      return Promise.resolve(
        new Response(JSON.stringify(found ?? { error: `no run with id ${id}` }), {
          status: found ? 200 : 404,
          headers: { "Content-Type": "application/json" },
        }),
      );
    }),
  );
}

beforeEach(() => {
  testResults = {};
  serve(detail, firstAttempt);
  document.body.innerHTML = '<div id="root"></div>';
});
afterEach(() => vi.unstubAllGlobals());

function Page({
  raw = false,
  id = "gh-42",
  initialTab,
  onOpenTest,
}: {
  raw?: boolean;
  id?: string;
  initialTab?: RunTab;
  onOpenTest?: (test: TestRef) => void;
}) {
  const [open, setOpen] = useState(true);
  return (
    <>
      <header>
        <button type="button">Refresh</button>
      </header>
      <main>
        <table>
          <tbody>
            <tr data-run-id="gh-42" tabIndex={0}>
              <td>row</td>
            </tr>
          </tbody>
        </table>
      </main>
      {open && (
        <RunPanel
          id={id}
          showRaw={raw}
          initialTab={initialTab}
          onClose={() => setOpen(false)}
          onOpen={() => {}}
          onOpenTest={onOpenTest}
        />
      )}
    </>
  );
}

function mount(raw = false, id?: string, tests: Omit<Parameters<typeof Page>[0], "raw" | "id"> = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <ZoneContext.Provider value="UTC">
          <Page raw={raw} id={id} {...tests} />
        </ZoneContext.Provider>
      </AuthProvider>
    </QueryClientProvider>,
    { container: document.getElementById("root")! },
  );
}

describe("run panel", () => {
  it("shows every field of the run, its jobs and steps, and the full record", async () => {
    mount();
    const panel = await screen.findByRole("dialog", { name: "Run gh-42" });
    await within(panel).findByText("acme/api#42");
    const fields = Array.from(panel.querySelectorAll("dl.fields:not(.compact) [data-field]")).map((el) =>
      el.getAttribute("data-field"),
    );
    const expected = Object.keys(detail).filter((k) => !["metadata", "attempts", "jobs"].includes(k));
    expect(fields.sort()).toEqual(expected.sort());
    for (const text of [
      "runner-7",
      "linux-large",
      "verify",
      "ubuntu-24.04",
      "exit code 1",
      "Checkout",
      "4s",
      "10:00:31",
      "27 Nov 2026, 10:00:30 UTC",
    ]) {
      expect(within(panel).getAllByText(text, { exact: false }).length, text).toBeGreaterThan(0);
    }
    expect(within(panel).getByRole("link", { name: "Open job ↗" }).getAttribute("href")).toBe(
      "https://ci.example/jobs/1",
    );
    expect(within(panel).getByRole("link", { name: "Open in CI ↗" }).getAttribute("href")).toBe(
      "https://ci.example/runs/42",
    );
    const full = screen.getByTestId<HTMLDetailsElement>("full-json");
    expect(full.open).toBe(false);
    expect(JSON.parse(full.querySelector("pre")!.textContent)).toEqual(detail);
    expect(screen.getByTestId<HTMLDetailsElement>("raw-json").open).toBe(false);
    expect(screen.queryByTestId("meta-fields")).toBeNull();
  });

  it("shows a generic run's meta as fields, and a webhook run's payload only raw", async () => {
    const generic = { ...detail, provider: "generic", metadata: { runner: "ubuntu-latest", shards: [1, 2] } };
    serve(generic as unknown as RunDetail, firstAttempt);
    mount();
    const meta = await screen.findByTestId("meta-fields");
    expect(within(meta).getByText("runner").nextElementSibling!.textContent).toBe("ubuntu-latest");
    expect(within(meta).getByText("shards").nextElementSibling!.textContent).toBe("[1,2]");
  });

  it("opens with the raw payload expanded from the table's Raw action", async () => {
    mount(true);
    await screen.findByText("acme/api#42");
    const raw = screen.getByTestId<HTMLDetailsElement>("raw-json");
    expect(raw.open).toBe(true);
    expect(raw.querySelector("pre")!.textContent).toContain('"marker": "raw-42"');
  });

  it("makes the page behind inert, closes on Escape and gives focus back to the row", async () => {
    const row = () => document.querySelector<HTMLElement>('tr[data-run-id="gh-42"]')!;
    mount();
    await screen.findByText("acme/api#42");
    expect(document.querySelector("header")!.hasAttribute("inert")).toBe(true);
    expect(document.querySelector("main")!.hasAttribute("inert")).toBe(true);
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Close run details" }));
    await act(() => Promise.resolve(fireEvent.keyDown(window, { key: "Escape" })));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.querySelector("header")!.hasAttribute("inert")).toBe(false);
    expect(document.activeElement).toBe(row());
  });
});

/** A run of its own (no other attempts) with these jobs. */
function single(id: string, jobs: Job[]): RunDetail {
  return { ...detail, id, run_key: null, attempts: [], jobs };
}

const tree = (name: string | RegExp) => screen.findByRole("tree", { name });
const items = (t: HTMLElement) => within(t).getAllByRole("treeitem");
const label = (el: Element) => el.getAttribute("aria-label") ?? "";

describe("run panel timeline", () => {
  it("draws each attempt's jobs side by side, with the critical path and a table of the same", async () => {
    mount();
    const panel = await screen.findByRole("dialog", { name: "Run gh-42" });
    const first = await tree("Attempt 1: jobs and steps over time");
    const second = await tree("Attempt 2: jobs and steps over time");
    const timeline = within(panel).getByRole("region", { name: "Timeline" });
    // Two attempts: the panel is wide enough for two columns, each labelled.
    expect(panel.classList.contains("wide")).toBe(true);
    expect(within(timeline).getByRole("region", { name: "Attempt 1" })).toBeTruthy();
    expect(within(timeline).getByRole("region", { name: "Attempt 2" }).textContent).toContain("shown");

    expect(items(first).map(label)).toEqual([
      "build: success, queued 5s, ran 55s, 09:00:00 to 09:01:00, on the critical path",
      "lint: success, queued 2s, ran 28s, 09:00:00 to 09:00:30",
      "test: failure, queued 9s, ran 2m 50s, 09:01:01 to 09:04:00, on the critical path",
    ]);
    expect(within(timeline).getByText(/Critical path: build → test/).textContent).toBe(
      "◆ Critical path: build → test (4m 00s)",
    );
    // Attempt 2's one job with its step, open (few steps in all).
    const [job, step] = items(second);
    expect(label(job!)).toBe(
      "test: failure, queued 9s, ran 4m 40s, 10:00:31 to 10:05:20, on the critical path, 1 step",
    );
    expect(job!.getAttribute("aria-expanded")).toBe("true");
    expect(label(step!)).toBe("Checkout: success, ran 4s, 10:00:40 to 10:00:44");

    // One scale for both attempts: attempt 1's build (55 s of its 4 min) is drawn at the length
    // it would have in attempt 2 (4 min 49 s, the longer).
    const bar = first.querySelector<HTMLElement>('[data-key="j0"] .gantt-bar')!;
    expect(parseFloat(bar.style.width)).toBeCloseTo((55 / 289) * 100, 1);
    expect(parseFloat(bar.style.left)).toBeCloseTo((5 / 289) * 100, 1);
    const queue = first.querySelector<HTMLElement>('[data-key="j0"] .gantt-queue')!;
    expect(parseFloat(queue.style.width)).toBeCloseTo((5 / 289) * 100, 1);

    const table = within(timeline).getByRole("table", { name: "Attempt 1: jobs" });
    const rows = within(table)
      .getAllByRole("row")
      .slice(1)
      .map((tr) => Array.from(tr.children).map((c) => c.textContent));
    expect(rows).toEqual([
      ["build", "success", "09:00:00", "09:00:05", "09:01:00", "5s", "55s", "yes"],
      ["lint", "success", "09:00:00", "09:00:02", "09:00:30", "2s", "28s", "no"],
      ["test", "failure", "09:01:01", "09:01:10", "09:04:00", "9s", "2m 50s", "yes"],
    ]);
  });

  it("says when an attempt's jobs cannot be loaded", async () => {
    serve(detail);
    mount();
    const attempt = await screen.findByRole("region", { name: "Attempt 1" });
    await within(attempt).findByRole("alert");
    expect(await tree("Attempt 2: jobs and steps over time")).toBeTruthy();
  });

  it("shows an attempt without jobs beside one with jobs", async () => {
    serve({ ...detail, jobs: [] }, firstAttempt);
    mount();
    expect(items(await tree("Attempt 1: jobs and steps over time"))).toHaveLength(3);
    const second = screen.getByRole("region", { name: "Attempt 2" });
    expect(second.textContent).toContain("No jobs recorded for this attempt.");
    expect(within(second).queryByRole("tree")).toBeNull();
  });

  it("has no timeline for a run without jobs", async () => {
    serve(single("empty", []));
    mount(false, "empty");
    const panel = await screen.findByRole("dialog", { name: "Run empty" });
    await within(panel).findByText("The provider sent no jobs for this run.");
    expect(within(panel).queryByRole("region", { name: "Timeline" })).toBeNull();
    expect(panel.classList.contains("wide")).toBe(false);
  });

  it("draws running jobs and queued ones on to now, and a job without times as such", async () => {
    const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
    serve(
      single("live", [
        job("b", "build", "success", ago(300), ago(290), ago(200)),
        job("t", "test", "running", ago(199), ago(180), null),
        job("w", "wait", "queued", ago(30), null, null),
        job("n", "notes", "success", null, null, null),
        job("c", "e2e", "cancelled", ago(100), null, ago(40)),
      ]),
    );
    mount(false, "live");
    const t = await tree("Timeline: jobs and steps over time");
    const [build, test, wait, notes, cancelled] = items(t);
    expect(label(test!)).toMatch(
      /^test: running, queued 19s, running for 3m 0\ds so far, since \d\d:\d\d:\d\d, on the critical path$/,
    );
    expect(label(wait!)).toMatch(/^wait: queued, queued for (30|31)s so far, since /);
    expect(label(notes!)).toBe("notes: success, no times recorded");
    expect(label(build!)).toContain("on the critical path");
    // The running bar and the queued one reach the end of the axis: now.
    const end = (el: Element | null) =>
      parseFloat((el as HTMLElement).style.left) + parseFloat((el as HTMLElement).style.width);
    expect(end(test!.querySelector(".gantt-bar"))).toBeCloseTo(100, 0);
    expect(end(wait!.querySelector(".gantt-queue"))).toBeCloseTo(100, 0);
    expect(wait!.querySelector(".gantt-bar")).toBeNull();
    expect(test!.querySelector(".gantt-line")!.classList.contains("open")).toBe(true);
    expect(notes!.textContent).toContain("no times");
    // Cancelled while queued: its queue time is all it has, drawn up to its end, not to now.
    expect(label(cancelled!)).toMatch(/^e2e: cancelled, queued 1m 00s, \d\d:\d\d:\d\d to \d\d:\d\d:\d\d$/);
    expect(cancelled!.querySelector(".gantt-bar")).toBeNull();
    expect(end(cancelled!.querySelector(".gantt-queue"))).toBeLessThan(95);
  });

  it("is one tab stop that the arrow keys move through, opening and closing a job's steps", async () => {
    const steps = Array.from({ length: 9 }, (_, i) => ({
      number: i + 1,
      name: `step ${i + 1}`,
      status: "success" as const,
      started_at: `2026-11-27T09:00:${String(10 + i).padStart(2, "0")}Z`,
      finished_at: `2026-11-27T09:00:${String(11 + i).padStart(2, "0")}Z`,
    }));
    // 18 steps in all: closed at first.
    serve(
      single("keys", [
        job("a", "compile", "success", "09:00:00", "09:00:10", "09:00:20", steps),
        job("b", "package", "success", "09:00:21", "09:00:22", "09:00:40", steps),
      ]),
    );
    mount(false, "keys");
    const t = await tree("Timeline: jobs and steps over time");
    const [compile, pack] = items(t);
    expect(items(t)).toHaveLength(2);
    expect(compile!.tabIndex).toBe(0);
    expect(pack!.tabIndex).toBe(-1);
    act(() => compile!.focus());
    // Focus shows the bar's tooltip.
    expect(compile!.querySelector(".gantt-tip")!.textContent).toBe(label(compile!));
    await act(() => Promise.resolve(fireEvent.keyDown(compile!, { key: "ArrowDown" })));
    expect(document.activeElement).toBe(pack);
    expect(pack!.tabIndex).toBe(0);
    expect(compile!.tabIndex).toBe(-1);
    await act(() => Promise.resolve(fireEvent.keyDown(pack!, { key: "ArrowRight" })));
    expect(pack!.getAttribute("aria-expanded")).toBe("true");
    expect(items(t)).toHaveLength(11);
    await act(() => Promise.resolve(fireEvent.keyDown(pack!, { key: "ArrowRight" })));
    expect(label(document.activeElement!)).toMatch(/^step 1: success, ran 1s/);
    expect(document.activeElement!.getAttribute("aria-level")).toBe("2");
    await act(() => Promise.resolve(fireEvent.keyDown(document.activeElement!, { key: "End" })));
    expect(label(document.activeElement!)).toMatch(/^step 9: /);
    await act(() => Promise.resolve(fireEvent.keyDown(document.activeElement!, { key: "ArrowLeft" })));
    expect(document.activeElement).toBe(pack);
    await act(() => Promise.resolve(fireEvent.keyDown(pack!, { key: "ArrowLeft" })));
    expect(pack!.getAttribute("aria-expanded")).toBe("false");
    await act(() => Promise.resolve(fireEvent.keyDown(pack!, { key: "Home" })));
    expect(document.activeElement).toBe(compile);
    await act(() => Promise.resolve(fireEvent.keyDown(compile!, { key: "Enter" })));
    expect(compile!.getAttribute("aria-expanded")).toBe("true");
    // A click opens and closes too; "Show steps" opens them all.
    fireEvent.click(compile!.querySelector(".gantt-line")!);
    expect(compile!.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(screen.getByRole("button", { name: "Show steps" }));
    expect(items(t)).toHaveLength(20);
    fireEvent.click(screen.getByRole("button", { name: "Hide steps" }));
    expect(items(t)).toHaveLength(2);
    // Hovering shows the tooltip as well.
    fireEvent.mouseEnter(pack!.querySelector(".gantt-line")!);
    expect(pack!.querySelector(".gantt-tip")!.textContent).toContain("package: success, queued 1s, ran 18s");
  });

  it("lists 60 jobs in a scrolling timeline", async () => {
    const many = Array.from({ length: 60 }, (_, i) => {
      const s = (n: number) => `09:${String(Math.floor(n / 60)).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}`;
      return job(`j${i}`, `shard ${i + 1}`, "success", s(i), s(i + 2), s(i + 90));
    });
    serve(single("many", many));
    mount(false, "many");
    const t = await tree("Timeline: jobs and steps over time");
    expect(items(t)).toHaveLength(60);
    expect(items(t).filter((el) => el.tabIndex === 0)).toHaveLength(1);
    expect(t.closest("[data-testid=gantt-scroll]")).toBeTruthy();
    // The last shard finished last; it was queued with the others running: the path is that job.
    expect(items(t).filter((el) => el.dataset.critical)).toEqual([items(t)[59]]);
  });
});

/** A case of gh-42's test report. */
function testCase(
  id: number,
  name: string,
  status: Schemas["TestStatus"],
  patch: Partial<Schemas["RunTestCase"]> = {},
): Schemas["RunTestCase"] {
  return {
    test_id: id,
    suite: "pytest",
    classname: "tests.test_api",
    name,
    file: "tests/test_api.py",
    job: "test",
    status,
    attempts: 1,
    duration_seconds: 0.25,
    ...patch,
  };
}

const report: Schemas["RunTests"] = {
  summary: { tests: 5, passed: 1, failed: 2, errors: 1, flaky: 1, skipped: 1 },
  reports: 1,
  truncated: false,
  // Failures first, as the API answers.
  cases: [
    testCase(1, "test_login", "failed", {
      message: "AssertionError: expected 200\n  got 500",
      output: "GET /login\n    500 Internal Server Error",
    }),
    testCase(2, "test_db", "error", { message: "ConnectionRefusedError" }),
    testCase(3, "test_retry", "flaky", { attempts: 2 }),
    testCase(4, "test_windows", "skipped", { message: "not on linux" }),
    testCase(5, "test_health", "passed", { duration_seconds: 0.004 }),
  ],
};

describe("run panel tests", () => {
  it("has no tabs for a run without test reports", async () => {
    testResults = { "gh-41": { ...report, summary: { ...report.summary, tests: 0 }, reports: 0, cases: [] } };
    mount(false, "gh-41");
    await screen.findByText("acme/api#42");
    expect(screen.queryByRole("tablist")).toBeNull();
    expect(screen.queryByRole("tabpanel")).toBeNull();
  });

  it("shows the counts, the failures first with their message and output, and links each test's history", async () => {
    testResults = { "gh-42": report };
    const onOpenTest = vi.fn();
    mount(false, "gh-42", { onOpenTest });
    const tabs = await screen.findByRole("tablist", { name: "Run details" });
    const [run, tests] = within(tabs).getAllByRole("tab");
    expect([run!.textContent, run!.getAttribute("aria-selected")]).toEqual(["Run", "true"]);
    expect([tests!.textContent, tests!.getAttribute("aria-selected")]).toEqual(["Tests 2 failed", "false"]);
    expect(screen.getByRole("tabpanel", { name: "Run" }).textContent).toContain("acme/api#42");
    // The arrow keys move between the tabs.
    fireEvent.keyDown(run!, { key: "ArrowRight" });
    expect(document.activeElement).toBe(tests);
    const panel = screen.getByRole("tabpanel", { name: "Tests 2 failed" });
    expect(within(panel).getByTestId("test-summary").textContent).toBe(
      "5 tests in 1 report:1 failed1 error1 flaky1 skipped1 passed",
    );
    const failures = within(panel).getByRole("region", { name: "Failures and flaky tests" });
    const items = within(failures).getAllByRole("listitem");
    expect(items.map((li) => li.dataset.status)).toEqual(["failed", "error", "flaky"]);
    const first = items[0]!;
    expect(first.querySelector("pre.test-message")!.textContent).toBe("AssertionError: expected 200\n  got 500");
    const output = first.querySelector<HTMLDetailsElement>("details.test-output")!;
    expect(output.open).toBe(false);
    expect(output.querySelector("pre")!.textContent).toBe("GET /login\n    500 Internal Server Error");
    expect(within(items[2]!).getByText("2 attempts")).toBeTruthy();
    // The passed and skipped ones are folded.
    const others = within(panel).getByText("Passed and skipped (2)").closest("details")!;
    expect(others.open).toBe(false);
    expect(within(others).getByText("4ms")).toBeTruthy();
    expect(within(others).getByText("not on linux")).toBeTruthy();
    fireEvent.click(within(first).getByRole("button", { name: "test_login" }));
    expect(onOpenTest).toHaveBeenCalledWith({ id: 1, repo: "acme/api" });
    fireEvent.keyDown(tests!, { key: "ArrowLeft" });
    expect(screen.getByRole("tabpanel", { name: "Run" })).toBeTruthy();
  });

  it("opens on the Tests tab when asked, and says when the cases were cut short", async () => {
    testResults = { "gh-42": { ...report, truncated: true, cases: report.cases.slice(0, 1) } };
    mount(false, "gh-42", { initialTab: "tests" });
    const panel = await screen.findByRole("tabpanel", { name: /^Tests/ });
    expect(within(panel).getByText(/Showing the first 1 cases/)).toBeTruthy();
    // Without a way to open a test's history, its name is plain text.
    expect(within(panel).queryByRole("button", { name: "test_login" })).toBeNull();
  });
});
