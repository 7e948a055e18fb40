import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { AuditLog } from "./AuditLog";

afterEach(() => vi.unstubAllGlobals());

const entry = (id: number, action: string) => ({
  id,
  at: "2026-11-01T10:00:00Z",
  actor: "ci-admin",
  actor_token_id: 1,
  actor_scope: "admin",
  action,
  target_kind: action.split(".")[0],
  target_id: String(id),
  target_name: `target-${id}`,
  detail: { scope: "ingest" },
});

it("pages through the log and filters it, asking the API for each page", async () => {
  const asked: URLSearchParams[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) => {
      const q = new URL(req.url).searchParams;
      asked.push(q);
      const page = q.get("cursor")
        ? { entries: [entry(1, "token.created")] }
        : { entries: [entry(2, "token.revoked")], next_cursor: "older" };
      return Promise.resolve(new Response(JSON.stringify(page), { headers: { "Content-Type": "application/json" } }));
    }),
  );
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <AuthProvider>
        <AuditLog />
      </AuthProvider>
    </QueryClientProvider>,
  );
  await screen.findByText("token.revoked");
  expect(screen.getByText("scope: ingest")).toBeTruthy();
  const newer = screen.getByRole<HTMLButtonElement>("button", { name: "← Newer" });
  expect(newer.disabled).toBe(true);
  fireEvent.click(screen.getByRole("button", { name: "Older →" }));
  await screen.findByText("token.created");
  expect(asked.at(-1)!.get("cursor")).toBe("older");
  expect(screen.getByRole<HTMLButtonElement>("button", { name: "Older →" }).disabled).toBe(true);
  fireEvent.click(newer);
  await screen.findByText("token.revoked");

  fireEvent.change(screen.getByLabelText("Target"), { target: { value: "integration" } });
  await waitFor(() => expect(asked.at(-1)!.get("target_kind")).toBe("integration"));
  expect(asked.at(-1)!.get("cursor")).toBeNull();
});
