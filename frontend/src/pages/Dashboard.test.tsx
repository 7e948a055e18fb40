import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../components/Auth";
import { Dashboard } from "./Dashboard";

afterEach(() => vi.unstubAllGlobals());

it("shows how to send the first run instead of empty charts", async () => {
  const empty: Record<string, unknown> = {
    "/api/filters": { providers: [], repos: [], workflows: [], branches: [] },
    "/api/alerts": [],
  };
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) => {
      const known = empty[new URL(req.url).pathname];
      const body = known ?? { error: { code: "not_found", message: "unexpected" } };
      return Promise.resolve(
        new Response(JSON.stringify(body), {
          status: known === undefined ? 404 : 200,
          headers: { "Content-Type": "application/json" },
        }),
      );
    }),
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Dashboard view={{ page: "dashboard", range: "7d", sort: "newest" }} onView={() => {}} theme="light" />
      </AuthProvider>
    </QueryClientProvider>,
  );
  expect(await screen.findByRole("heading", { name: /No runs yet/ })).toBeTruthy();
  expect(screen.getByText(/curl -X POST/).textContent).toContain("/api/events");
  expect(screen.getByText("/api/webhooks/github", { exact: false })).toBeTruthy();
  expect(screen.queryByRole("region", { name: "Charts" })).toBeNull();
});
