import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ZoneContext } from "../lib/prefs";
import type { View } from "../lib/url";
import { Filters } from "./Filters";

beforeEach(() => {
  vi.stubGlobal(
    "fetch",
    vi.fn(() =>
      Promise.resolve(
        new Response(JSON.stringify({ providers: [], repos: [], workflows: [], branches: [] }), {
          headers: { "Content-Type": "application/json" },
        }),
      ),
    ),
  );
});
afterEach(() => vi.unstubAllGlobals());

const custom: View = {
  page: "dashboard",
  range: "custom",
  sort: "newest",
  from: "2026-11-01T08:00:00.000Z",
  to: "2026-11-02T08:00:00.000Z",
};

function setup(view: View, zone: string) {
  const onView = vi.fn();
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const ui = (v: View, z: string) => (
    <QueryClientProvider client={client}>
      <ZoneContext.Provider value={z}>
        <Filters view={v} onView={onView} />
      </ZoneContext.Provider>
    </QueryClientProvider>
  );
  const r = render(ui(view, zone));
  return { onView, rerender: (v: View, z: string) => r.rerender(ui(v, z)) };
}

const input = (label: RegExp) => screen.getByLabelText<HTMLInputElement>(label);

describe("custom range", () => {
  it("shows and reads the window in the chosen time zone", () => {
    const { onView } = setup(custom, "Europe/Berlin");
    expect(input(/^From/).value).toBe("2026-11-01 09:00");
    expect(input(/^To/).value).toBe("2026-11-02 09:00");
    expect(screen.getByLabelText(/^From/).closest("label")!.textContent).toContain("Europe/Berlin");
    fireEvent.change(input(/^From/), { target: { value: "2026-11-01 00:00" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect(onView).toHaveBeenCalledWith({
      range: "custom",
      from: "2026-10-31T23:00:00.000Z",
      to: "2026-11-02T08:00:00.000Z",
      group: undefined,
    });
  });

  it("comes from the URL: back/forward and another zone reset the inputs", () => {
    const { rerender } = setup(custom, "UTC");
    expect(input(/^From/).value).toBe("2026-11-01 08:00");
    fireEvent.change(input(/^From/), { target: { value: "2026-10-30T00:00" } });
    act(() => rerender({ ...custom, from: "2026-10-01T00:00:00.000Z" }, "UTC"));
    expect(input(/^From/).value).toBe("2026-10-01 00:00");
    act(() => rerender({ ...custom, from: "2026-10-01T00:00:00.000Z" }, "America/New_York"));
    expect(input(/^From/).value).toBe("2026-09-30 20:00");
    act(() => rerender({ page: "dashboard", range: "24h", sort: "newest" }, "UTC"));
    expect(screen.queryByLabelText(/^From/)).toBeNull();
    expect(screen.getByRole("button", { name: "24 h" }).getAttribute("aria-pressed")).toBe("true");
  });

  it("starts a custom range from the window on screen, and refuses an empty or backwards one", () => {
    const { onView, rerender } = setup({ page: "dashboard", range: "24h", sort: "newest" }, "UTC");
    fireEvent.click(screen.getByRole("button", { name: "Custom" }));
    const patch = onView.mock.calls[0]![0] as Partial<View>;
    expect(patch.range).toBe("custom");
    expect(Date.parse(patch.to!) - Date.parse(patch.from!)).toBe(24 * 3_600_000);
    rerender(custom, "UTC");
    const apply = screen.getByRole<HTMLButtonElement>("button", { name: "Apply" });
    expect(apply.disabled).toBe(true); // nothing changed yet
    fireEvent.change(input(/^To/), { target: { value: "2026-10-01T00:00" } });
    expect(apply.disabled).toBe(true);
    expect(screen.getByRole("alert").textContent).toContain("must be before");
    // ISO 8601 whatever the locale: a US-style date is refused with the format to use.
    fireEvent.change(input(/^To/), { target: { value: "11/02/2026 09:00 AM" } });
    expect(apply.disabled).toBe(true);
    expect(screen.getByRole("alert").textContent).toContain("YYYY-MM-DD HH:MM");
  });
});
