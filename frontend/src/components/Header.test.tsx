import { QueryClient, QueryClientProvider, QueryObserver } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ZoneContext } from "../lib/prefs";
import { AuthProvider } from "./Auth";
import { Header, UpdatedAt } from "./Header";

afterEach(() => vi.unstubAllGlobals());

function wrap(client: QueryClient, children: ReactNode) {
  return (
    <QueryClientProvider client={client}>
      <AuthProvider>
        <ZoneContext.Provider value="UTC">{children}</ZoneContext.Provider>
      </AuthProvider>
    </QueryClientProvider>
  );
}

describe("header", () => {
  it("'Updated' follows the metrics query as it is refetched", () => {
    const client = new QueryClient();
    const key = ["metrics", { from: "a" }];
    render(wrap(client, <UpdatedAt queryKey={key} />));
    expect(screen.queryByTestId("updated-at")).toBeNull();
    act(() => void client.setQueryData(key, { n: 1 }, { updatedAt: Date.parse("2026-11-27T10:00:00Z") }));
    expect(screen.getByTestId("updated-at").textContent).toBe("Updated 10:00:00");
    act(() => void client.setQueryData(key, { n: 2 }, { updatedAt: Date.parse("2026-11-27T10:05:30Z") }));
    expect(screen.getByTestId("updated-at").textContent).toBe("Updated 10:05:30");
    // Another view's figures do not count.
    act(
      () =>
        void client.setQueryData(
          ["metrics", { from: "b" }],
          { n: 3 },
          { updatedAt: Date.parse("2026-11-27T11:00:00Z") },
        ),
    );
    expect(screen.getByTestId("updated-at").textContent).toBe("Updated 10:05:30");
  });

  it("refresh is disabled while a refresh the user asked for runs, not during background fetches", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() =>
        Promise.resolve(
          new Response(JSON.stringify({ auth_mode: "public-read", environment: "dev", version: "1" }), {
            headers: { "Content-Type": "application/json" },
          }),
        ),
      ),
    );
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    let release: () => void = () => {};
    const observer = new QueryObserver(client, {
      queryKey: ["slow"],
      queryFn: () =>
        new Promise<number>((done) => {
          release = () => done(1);
        }),
    });
    const unsubscribe = observer.subscribe(() => {});
    render(
      wrap(
        client,
        <Header
          view={{ page: "dashboard", range: "7d", sort: "newest" }}
          onView={() => {}}
          live="stale"
          updatedKey={["metrics"]}
          theme="system"
          onTheme={() => {}}
        />,
      ),
    );
    const button = screen.getByRole<HTMLButtonElement>("button", { name: "Refresh" });
    expect(client.isFetching()).toBeGreaterThan(0);
    expect(button.disabled).toBe(false);
    await act(() => Promise.resolve(release()));
    await act(() => Promise.resolve(fireEvent.click(button)));
    expect(button.disabled).toBe(true);
    expect(button.textContent).toContain("Refreshing");
    await act(() => Promise.resolve(release()));
    await vi.waitFor(() => expect(button.disabled).toBe(false));
    expect(screen.getByRole("status").textContent).toBe("Not live");
    unsubscribe();
  });

  it("links every page, keeping the filters and leaving the page's selection behind", () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() =>
        Promise.resolve(new Response(JSON.stringify({}), { headers: { "Content-Type": "application/json" } })),
      ),
    );
    const onView = vi.fn();
    render(
      wrap(
        new QueryClient({ defaultOptions: { queries: { retry: false } } }),
        <Header
          view={{
            page: "jobs",
            range: "30d",
            sort: "newest",
            repo: "acme/api",
            job: { repo: "a", workflow: "b", job: "c" },
          }}
          onView={onView}
          live="live"
          updatedKey={["jobs"]}
          theme="system"
          onTheme={() => {}}
        />,
      ),
    );
    const nav = screen.getByRole("navigation", { name: "Pages" });
    const links = Array.from(nav.querySelectorAll("a")).map((a) => [
      a.textContent,
      a.getAttribute("href"),
      a.getAttribute("aria-current"),
    ]);
    expect(links).toEqual([
      ["Dashboard", "/?repo=acme%2Fapi&range=30d", null],
      ["Jobs", "/jobs?repo=acme%2Fapi&range=30d&job_repo=a&job_workflow=b&job=c", "page"],
      ["Runners", "/runners?repo=acme%2Fapi&range=30d", null],
      ["Usage", "/usage?repo=acme%2Fapi&range=30d", null],
      ["Tests", "/tests?repo=acme%2Fapi&range=30d", null],
      ["Delivery", "/delivery?repo=acme%2Fapi&range=30d", null],
      ["Settings", "/settings?repo=acme%2Fapi&range=30d", null],
    ]);
    fireEvent.click(screen.getByRole("link", { name: "Runners" }));
    expect(onView).toHaveBeenLastCalledWith({ page: "runners" });
  });
});
