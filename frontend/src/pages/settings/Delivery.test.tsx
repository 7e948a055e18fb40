import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../../api/client";
import { AuthProvider } from "../../components/Auth";
import { Delivery } from "./Delivery";
import { Retention } from "./Retention";

afterEach(() => vi.unstubAllGlobals());

function serveSettings(initial: Schemas["Settings"]) {
  let stored = initial;
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
        <Retention />
        <Delivery />
      </AuthProvider>
    </QueryClientProvider>,
  );
  return puts;
}

const settings: Schemas["Settings"] = {
  retention_days: 90,
  rollup_retention_days: 400,
  test_retention_days: 30,
  runner_prices: { gpu: 0.12 },
  currency: "EUR",
  auto_quarantine: { flakes: 3, days: 14 },
  production_environments: ["production", "prod"],
  change_failure_causes: ["failed_deployment", "rollback", "incident"],
};

it("edits the production environments and the causes of a failed change, and saves every setting", async () => {
  const puts = serveSettings(settings);
  const section = screen.getByRole("region", { name: "Delivery" });
  const environments = () => within(section).getByLabelText<HTMLTextAreaElement>(/Production environments/);
  const cause = (name: RegExp) => within(section).getByRole<HTMLInputElement>("checkbox", { name });
  await waitFor(() => expect(environments().value).toBe("production\nprod"));
  expect([cause(/^Failed deployments/), cause(/^Rollbacks/), cause(/^Incidents/)].map((c) => c.checked)).toEqual([
    true,
    true,
    true,
  ]);
  const save = within(section).getByRole<HTMLButtonElement>("button", { name: "Save delivery settings" });
  expect(save.disabled).toBe(true);

  // Neither no environment nor no cause is sent.
  fireEvent.change(environments(), { target: { value: " \n " } });
  for (const c of [/^Failed deployments/, /^Rollbacks/, /^Incidents/]) fireEvent.click(cause(c));
  await act(() => Promise.resolve(fireEvent.submit(save.form!)));
  expect(
    within(section)
      .getAllByRole("alert")
      .map((a) => a.textContent),
  ).toEqual(["Name at least one production environment.", "Choose at least one cause of a failed change."]);
  expect(puts).toEqual([]);

  fireEvent.change(environments(), { target: { value: "production\nprod-*, live" } });
  fireEvent.click(cause(/^Incidents/));
  fireEvent.click(cause(/^Failed deployments/));
  await act(() => Promise.resolve(fireEvent.submit(save.form!)));
  await within(section).findByText("Saved.");
  // A replacement: everything else goes back as it was; the causes in the API's order.
  expect(puts).toEqual([
    {
      ...settings,
      production_environments: ["production", "prod-*", "live"],
      change_failure_causes: ["failed_deployment", "incident"],
    },
  ]);
  expect(environments().value).toBe("production\nprod-*\nlive");

  // The retention form sends them back as they are now.
  fireEvent.change(screen.getByLabelText("Keep raw runs (days)"), { target: { value: "60" } });
  await act(() => Promise.resolve(fireEvent.submit(screen.getByLabelText("Keep raw runs (days)").closest("form")!)));
  await waitFor(() => expect(puts).toHaveLength(2));
  expect(puts[1]).toEqual({
    ...settings,
    retention_days: 60,
    production_environments: ["production", "prod-*", "live"],
    change_failure_causes: ["failed_deployment", "incident"],
  });
});

it("shows the defaults when the server leaves the delivery settings out", async () => {
  serveSettings({ retention_days: 90, rollup_retention_days: 400 });
  const section = screen.getByRole("region", { name: "Delivery" });
  await waitFor(() =>
    expect(within(section).getByLabelText<HTMLTextAreaElement>(/Production environments/).value).toBe(
      "production\nprod",
    ),
  );
  expect(
    within(section)
      .getAllByRole<HTMLInputElement>("checkbox")
      .every((c) => c.checked),
  ).toBe(true);
});
