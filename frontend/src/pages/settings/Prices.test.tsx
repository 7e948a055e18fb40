import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../../api/client";
import { AuthProvider } from "../../components/Auth";
import { Prices } from "./Prices";

afterEach(() => vi.unstubAllGlobals());

it("edits the price table and the currency, and saves them with the other settings as they are", async () => {
  let stored: Schemas["Settings"] = {
    retention_days: 30,
    rollup_retention_days: 365,
    runner_prices: { "ubuntu-latest": 0.008 },
    currency: "USD",
  };
  const puts: Schemas["Settings"][] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      if (req.method === "PUT") {
        stored = (await req.json()) as Schemas["Settings"];
        puts.push(stored);
      }
      return new Response(JSON.stringify(stored), { headers: { "Content-Type": "application/json" } });
    }),
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Prices />
      </AuthProvider>
    </QueryClientProvider>,
  );
  const label = (n: number) => screen.getByLabelText<HTMLInputElement>(`Label of row ${n}`);
  const price = (n: number) => screen.getByLabelText<HTMLInputElement>(`Price per minute of row ${n}`);
  await waitFor(() => expect(label(1).value).toBe("ubuntu-latest"));
  expect(price(1).value).toBe("0.008");
  const save = screen.getByRole<HTMLButtonElement>("button", { name: "Save prices" });
  expect(save.disabled).toBe(true);

  fireEvent.click(screen.getByRole("button", { name: "+ Add a label" }));
  fireEvent.change(label(2), { target: { value: " GPU " } });
  fireEvent.blur(label(2));
  expect(label(2).value).toBe("gpu");
  fireEvent.change(price(2), { target: { value: "-1" } });
  expect((await screen.findByRole("alert")).textContent).toContain("at least 0");
  await act(() => Promise.resolve(fireEvent.submit(label(1).form!)));
  expect(puts).toEqual([]);

  fireEvent.change(price(2), { target: { value: "0.12" } });
  fireEvent.change(screen.getByLabelText("Currency"), { target: { value: "EUR" } });
  fireEvent.click(screen.getByRole("button", { name: "Remove ubuntu-latest" }));
  expect(screen.queryByRole("alert")).toBeNull();
  await act(() => Promise.resolve(fireEvent.submit(label(1).form!)));
  await screen.findByText("Saved.");
  expect(puts).toEqual([
    { retention_days: 30, rollup_retention_days: 365, runner_prices: { gpu: 0.12 }, currency: "EUR" },
  ]);
  expect([label(1).value, price(1).value]).toEqual(["gpu", "0.12"]);
  expect(screen.queryByLabelText("Label of row 2")).toBeNull();

  // A label twice is refused before anything is sent.
  fireEvent.click(screen.getByRole("button", { name: "+ Add a label" }));
  fireEvent.change(label(2), { target: { value: "gpu" } });
  fireEvent.change(price(2), { target: { value: "1" } });
  expect((await screen.findByRole("alert")).textContent).toContain("already priced in row 1");
  await act(() => Promise.resolve(fireEvent.submit(label(1).form!)));
  expect(puts).toHaveLength(1);
});
