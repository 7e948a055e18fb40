import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AlertsPanel } from "./AlertsPanel";
import type { Incident } from "../api/client";
import { AuthProvider } from "./Auth";

afterEach(() => vi.unstubAllGlobals());

function serve(routes: Record<string, { status: number; body: unknown }>, onOpenRun = vi.fn()) {
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) => {
      const route = routes[new URL(req.url).pathname] ?? {
        status: 404,
        body: { error: { code: "not_found", message: "unexpected" } },
      };
      return Promise.resolve(
        new Response(JSON.stringify(route.body), {
          status: route.status,
          headers: { "Content-Type": "application/json" },
        }),
      );
    }),
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <AlertsPanel onOpenRun={onOpenRun} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

it("disables the test message, saying why, when there is no integration", async () => {
  serve({ "/api/alerts": { status: 200, body: [] }, "/api/integrations": { status: 200, body: [] } });
  const why = await screen.findByText(/No integration to send through/);
  const button = screen.getByRole<HTMLButtonElement>("button", { name: "Send test message" });
  expect(button.disabled).toBe(true);
  expect(button.getAttribute("aria-describedby")).toBe(why.id);
});

it("keeps the test message when integrations cannot be listed without a token", async () => {
  serve({
    "/api/alerts": { status: 200, body: [] },
    "/api/integrations": { status: 401, body: { error: { code: "unauthorized", message: "a token is required" } } },
  });
  expect(await screen.findByText(/No active incidents/)).toBeTruthy();
  const button = screen.getByRole<HTMLButtonElement>("button", { name: "Send test message" });
  expect(button.disabled).toBe(false);
  expect(screen.queryByText(/No integration to send through/)).toBeNull();
});

it("shows an incident's group as fields and links the runs that caused it and its rule", async () => {
  const incident: Incident = {
    id: 7,
    rule_id: 3,
    rule_name: "api-main-red",
    severity: "critical",
    state: "firing",
    labels: { repo: "acme/api", branch: "main" } as unknown as Incident["labels"],
    run_ids: ["r5", "r4", "r3", "r2"],
    started_at: new Date(Date.now() - 60_000).toISOString(),
    firing_at: new Date(Date.now() - 60_000).toISOString(),
    value: 4,
    threshold: 3,
  };
  const onOpenRun = vi.fn();
  serve({ "/api/alerts": { status: 200, body: [incident] } }, onOpenRun);
  const repo = await screen.findByText("Repository");
  expect(repo.tagName).toBe("DT");
  expect(repo.nextElementSibling?.textContent).toBe("acme/api");
  expect(screen.getByText("Branch").nextElementSibling?.textContent).toBe("main");
  // The newest three runs are links to their panel, the rest counted.
  expect(screen.getByText(/and 1 more/)).toBeTruthy();
  screen.getByRole("button", { name: "r4" }).click();
  expect(onOpenRun).toHaveBeenCalledWith("r4");
  expect(screen.queryByRole("button", { name: "r2" })).toBeNull();
  expect(screen.getByRole("link", { name: "api-main-red" }).getAttribute("href")).toBe("/settings#rule-api-main-red");
});

it("links a test rule's incident to the test's history", async () => {
  const incident: Incident = {
    id: 8,
    rule_id: 4,
    rule_name: "flaky-tests",
    severity: "warning",
    state: "firing",
    labels: {
      repo: "acme/api",
      test: "tests.test_api::test_login",
      test_id: "42",
      suite: "pytest",
    } as unknown as Incident["labels"],
    run_ids: ["r9"],
    started_at: new Date(Date.now() - 60_000).toISOString(),
    firing_at: new Date(Date.now() - 60_000).toISOString(),
  };
  serve({ "/api/alerts": { status: 200, body: [incident] } });
  const test = await screen.findByRole("link", { name: "tests.test_api::test_login" });
  expect(test.getAttribute("href")).toBe("/tests?test=42&test_repo=acme%2Fapi");
  expect(test.closest("dd")?.previousElementSibling?.textContent).toBe("Test");
  expect(screen.getByText("Suite").nextElementSibling?.textContent).toBe("pytest");
  // Its id is in the link, not shown.
  expect(screen.queryByText("test_id")).toBeNull();
});

it("links a deployment rule's incident to the delivery view of its service", async () => {
  const incident: Incident = {
    id: 9,
    rule_id: 5,
    rule_name: "payments-deploys",
    severity: "critical",
    state: "firing",
    labels: { service: "payments" } as unknown as Incident["labels"],
    run_ids: [],
    started_at: new Date(Date.now() - 60_000).toISOString(),
    firing_at: new Date(Date.now() - 60_000).toISOString(),
  };
  serve({ "/api/alerts": { status: 200, body: [incident] } });
  const service = await screen.findByRole("link", { name: "payments" });
  expect(service.getAttribute("href")).toBe("/delivery?service=payments");
  expect(service.closest("dd")?.previousElementSibling?.textContent).toBe("Service");
});
