import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newRuleSpec } from "../lib/rules";
import { AuthContext, retryWithToken, type AuthApi } from "./auth";
import { ApiError, type RuleInfo } from "./client";
import { useSaveIntegration } from "./integrations";
import { keys } from "./keys";
import { useToggleRule } from "./rules";
import { useCreateToken } from "./tokens";

afterEach(() => vi.unstubAllGlobals());

function json(body: unknown, status = 200) {
  return Promise.resolve(
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }),
  );
}

/** A query client and a wrapper whose token prompt is never needed. */
function setup() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const auth: AuthApi = {
    token: null,
    ask: () => Promise.resolve(false),
    withToken: (_reason, action) => action(),
    signOut: () => {},
  };
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>
    </QueryClientProvider>
  );
  return { client, wrapper, invalidated: vi.spyOn(client, "invalidateQueries") };
}

describe("retryWithToken", () => {
  it("asks for a token when the call needs one and runs it once more", async () => {
    const ask = vi.fn(() => Promise.resolve(true));
    const action = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(new ApiError(403, "forbidden", "no"))
      .mockResolvedValueOnce("done");
    await expect(retryWithToken(ask, "Needs admin.", action)).resolves.toBe("done");
    expect(ask).toHaveBeenCalledWith("Needs admin. Your token's scope does not allow it.");
    expect(action).toHaveBeenCalledTimes(2);
  });

  it("gives up when no token is entered, and never asks for other errors", async () => {
    const ask = vi.fn(() => Promise.resolve(false));
    const denied = new ApiError(401, "unauthorized", "no");
    await expect(retryWithToken(ask, "Needs admin.", () => Promise.reject(denied))).rejects.toBe(denied);
    const invalid = new ApiError(422, "validation_failed", "bad");
    await expect(retryWithToken(ask, "Needs admin.", () => Promise.reject(invalid))).rejects.toBe(invalid);
    expect(ask).toHaveBeenCalledTimes(1);
  });
});

describe("mutations", () => {
  it("create a token with a trimmed name, hand it over and refetch the list", async () => {
    const fetch = vi.fn((_req: Request) => json({ id: 7, name: "ci", scope: "ingest", token: "cicd_x" }, 201));
    vi.stubGlobal("fetch", fetch);
    const { wrapper, invalidated } = setup();
    const created = vi.fn();
    const { result } = renderHook(() => useCreateToken({ onSuccess: created }), { wrapper });
    act(() => result.current.mutate({ name: "  ci ", scope: "ingest" }));
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    const req = fetch.mock.calls[0]![0];
    expect([req.method, new URL(req.url).pathname]).toEqual(["POST", "/api/tokens"]);
    expect(await req.json()).toEqual({ name: "ci", scope: "ingest" });
    expect(created).toHaveBeenCalledWith(expect.objectContaining({ token: "cicd_x" }));
    expect(invalidated).toHaveBeenCalledWith({ queryKey: keys.tokens });
  });

  it("replace an integration that has an id", async () => {
    const fetch = vi.fn((_req: Request) => json({}));
    vi.stubGlobal("fetch", fetch);
    const { wrapper, invalidated } = setup();
    const { result } = renderHook(() => useSaveIntegration(), { wrapper });
    const spec = {
      type: "Slack",
      sendResolved: true,
      suspend: false,
      slack: { webhookUrl: {}, channel: null },
    } as const;
    act(() => result.current.mutate({ id: 3, name: "slack ", spec }));
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    const req = fetch.mock.calls[0]![0];
    expect([req.method, new URL(req.url).pathname]).toEqual(["PUT", "/api/integrations/3"]);
    expect(await req.json()).toEqual({ name: "slack", spec });
    expect(invalidated).toHaveBeenCalledWith({ queryKey: keys.integrations });
  });

  it("disable a rule by replacing it with suspend set, and refetch the rules even when it fails", async () => {
    const fetch = vi.fn((_req: Request) =>
      json({ error: { code: "conflict", message: "managed by Kubernetes" } }, 409),
    );
    vi.stubGlobal("fetch", fetch);
    const { wrapper, invalidated } = setup();
    const { result } = renderHook(() => useToggleRule(), { wrapper });
    const spec = newRuleSpec();
    act(() => result.current.mutate({ id: 5, name: "red", enabled: true, spec } as RuleInfo));
    await waitFor(() => expect(result.current.isError).toBe(true));
    const req = fetch.mock.calls[0]![0];
    expect([req.method, new URL(req.url).pathname]).toEqual(["PUT", "/api/alert-rules/5"]);
    expect(await req.json()).toEqual({ name: "red", spec: { ...spec, suspend: true } });
    expect((result.current.error as ApiError).status).toBe(409);
    expect(invalidated).toHaveBeenCalledWith({ queryKey: keys.rules });
  });
});
