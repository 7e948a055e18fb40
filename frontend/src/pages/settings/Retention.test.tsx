import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { Retention } from "./Retention";

afterEach(() => vi.unstubAllGlobals());

it("fills the form from the stored settings, and from what a save stored", async () => {
  let stored = {
    retention_days: 90,
    rollup_retention_days: 400,
    test_retention_days: 30,
    auto_quarantine: { flakes: 3, days: 14 },
  };
  const puts: unknown[] = [];
  const fetch = vi.fn(async (req: Request) => {
    if (req.method === "PUT") {
      const body = (await req.json()) as typeof stored;
      puts.push(body);
      stored = { ...body, rollup_retention_days: 365 };
    }
    return new Response(JSON.stringify(stored), { headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const ui = () => (
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Retention />
      </AuthProvider>
    </QueryClientProvider>
  );
  const { unmount } = render(ui());
  const runs = () => screen.getByLabelText<HTMLInputElement>("Keep raw runs (days)");
  const rollups = () => screen.getByLabelText<HTMLInputElement>("Keep chart rollups (days)");
  const tests = () => screen.getByLabelText<HTMLInputElement>("Keep test results (days)");
  await waitFor(() => expect(runs().value).toBe("90"));
  expect([rollups().value, tests().value]).toEqual(["400", "30"]);
  expect(screen.getByRole<HTMLButtonElement>("button", { name: "Save" }).disabled).toBe(true);

  fireEvent.change(runs(), { target: { value: "30" } });
  fireEvent.change(tests(), { target: { value: "14" } });
  await act(() => Promise.resolve(fireEvent.submit(runs().form!)));
  await screen.findByText("Saved.");
  expect([runs().value, rollups().value, tests().value]).toEqual(["30", "365", "14"]);
  // The other settings (the auto-quarantine) go back as they are.
  expect(puts).toEqual([
    {
      retention_days: 30,
      rollup_retention_days: 400,
      test_retention_days: 14,
      auto_quarantine: { flakes: 3, days: 14 },
    },
  ]);

  // Opened again with the settings in the cache: filled at once.
  unmount();
  render(ui());
  expect([runs().value, rollups().value, tests().value]).toEqual(["30", "365", "14"]);
});

it("shows the default test retention when the server leaves it out", async () => {
  const fetch = vi.fn(() =>
    Promise.resolve(
      new Response(JSON.stringify({ retention_days: 90, rollup_retention_days: 400 }), {
        headers: { "Content-Type": "application/json" },
      }),
    ),
  );
  vi.stubGlobal("fetch", fetch);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Retention />
      </AuthProvider>
    </QueryClientProvider>,
  );
  await waitFor(() => expect(screen.getByLabelText<HTMLInputElement>("Keep test results (days)").value).toBe("30"));
});
