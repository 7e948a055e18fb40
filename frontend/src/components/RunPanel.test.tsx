import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunDetail } from "../api/client";
import { ZoneContext } from "../lib/prefs";
import { AuthProvider } from "./Auth";
import { RunPanel } from "./RunPanel";

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

beforeEach(() => {
  vi.stubGlobal(
    "fetch",
    vi.fn(() =>
      Promise.resolve(new Response(JSON.stringify(detail), { headers: { "Content-Type": "application/json" } })),
    ),
  );
  document.body.innerHTML = '<div id="root"></div>';
});
afterEach(() => vi.unstubAllGlobals());

function Page({ raw = false }: { raw?: boolean }) {
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
      {open && <RunPanel id="gh-42" showRaw={raw} onClose={() => setOpen(false)} onOpen={() => {}} />}
    </>
  );
}

function mount(raw = false) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <ZoneContext.Provider value="UTC">
          <Page raw={raw} />
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
    vi.stubGlobal(
      "fetch",
      vi.fn(() =>
        Promise.resolve(new Response(JSON.stringify(generic), { headers: { "Content-Type": "application/json" } })),
      ),
    );
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
