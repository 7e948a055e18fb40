import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { Retention } from "./Retention";

afterEach(() => vi.unstubAllGlobals());

it("fills the form from the stored settings, and from what a save stored", async () => {
  let stored = { retention_days: 90, rollup_retention_days: 400 };
  const fetch = vi.fn(async (req: Request) => {
    if (req.method === "PUT") stored = { ...((await req.json()) as typeof stored), rollup_retention_days: 365 };
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
  await waitFor(() => expect(runs().value).toBe("90"));
  expect(rollups().value).toBe("400");
  expect(screen.getByRole<HTMLButtonElement>("button", { name: "Save" }).disabled).toBe(true);

  fireEvent.change(runs(), { target: { value: "30" } });
  await act(() => Promise.resolve(fireEvent.submit(runs().form!)));
  await screen.findByText("Saved.");
  expect([runs().value, rollups().value]).toEqual(["30", "365"]);

  // Opened again with the settings in the cache: filled at once.
  unmount();
  render(ui());
  expect([runs().value, rollups().value]).toEqual(["30", "365"]);
});
