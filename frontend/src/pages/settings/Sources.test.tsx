import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { Sources } from "./Sources";

afterEach(() => vi.unstubAllGlobals());

const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });

it("lists each provider's URL and how it is authenticated, and the stored secrets without their values", async () => {
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) =>
      Promise.resolve(
        new URL(req.url).pathname === "/api/webhook-receivers"
          ? json([
              {
                provider: "github",
                path: "/api/webhooks/github",
                credential: "shared_secret",
                environment_secret: true,
              },
              {
                provider: "gitlab",
                path: "/api/webhooks/gitlab",
                credential: "shared_secret",
                environment_secret: false,
              },
              {
                provider: "jenkins",
                path: "/api/webhooks/jenkins",
                credential: "ingest_token",
                environment_secret: false,
              },
            ])
          : json([
              { id: 1, provider: "github", name: "acme-org", created_at: "2026-11-01T00:00:00Z", last_used_at: null },
            ]),
      ),
    ),
  );
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <AuthProvider>
        <Sources />
      </AuthProvider>
    </QueryClientProvider>,
  );
  const receivers = await screen.findByRole("table", { name: "Receivers" });
  const row = (provider: string) => receivers.querySelector<HTMLElement>(`tr[data-provider="${provider}"]`)!;
  expect(row("github").textContent).toContain(`${window.location.origin}/api/webhooks/github`);
  expect(row("github").textContent).toContain("webhook secret: set in the environment, 1 stored");
  expect(row("gitlab").textContent).toContain("none yet — deliveries are refused");
  expect(row("jenkins").textContent).toContain("an ingest token");
  const stored = await screen.findByRole("table", { name: "Stored secrets" });
  expect(within(stored).getByText("acme-org")).toBeTruthy();
  expect(within(stored).getByText("never")).toBeTruthy();
});
