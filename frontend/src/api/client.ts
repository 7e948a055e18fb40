// The typed API client. Types come from src/api/schema.d.ts, generated from the backend's
// OpenAPI document by scripts/api-types.sh (a test fails when it is stale).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Run = Schemas["Run"];
export type RunDetail = Schemas["RunDetail"];
export type Metrics = Schemas["MetricsResponse"];
export type PeriodStats = Schemas["PeriodStats"];
export type Point = Schemas["Point"];
export type Incident = Schemas["Incident"];
export type IntegrationInfo = Schemas["IntegrationInfo"];
export type RuleInfo = Schemas["RuleInfo"];
export type TokenInfo = Schemas["TokenInfo"];
export type CreatedToken = Schemas["CreatedToken"];
export type Scope = Schemas["Scope"];
export type UiConfig = Schemas["UiConfig"];
export type Filters = Schemas["Filters"];
export type ErrorBody = Schemas["ErrorBody"];
export type GenericEvent = Schemas["GenericEvent"];

const TOKEN_KEY = "cicd-monitor.token";

/** The API token of this browser session (sessionStorage: gone when the tab closes). */
export const tokenStore = {
  get: (): string | null => {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  set: (token: string | null): void => {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage disabled: the token lives until the page reloads.
    }
    listeners.forEach((l) => l());
  },
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
const listeners = new Set<() => void>();

/** A failed API call: the HTTP status and the backend's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Schemas["FieldError"][] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The backend could not be reached at all (or answered from a proxy with no JSON). */
  get offline(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 504;
  }

  get needsToken(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** A WAL position as PostgreSQL writes it (`16/B374D848`), as a number (exact below 2^53). */
function walPosition(lsn: string): number | undefined {
  const [, hi, lo] = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(lsn) ?? [];
  return hi && lo ? parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16) : undefined;
}

/**
 * The highest WAL position the live stream gave (the `id` of its run events). Reads send it as
 * `CICD-Read-After`, so that a backend reading from a replica serves them only once the replica
 * has replayed it: a run the stream announced is always found.
 */
export const readAfter = {
  value: "",
  note(lsn: string) {
    const next = walPosition(lsn);
    const current = walPosition(this.value) ?? -1;
    if (next !== undefined && next > current) this.value = lsn;
  },
};

// Absolute base (relative URLs do not build Requests outside a browser); fetch is looked up per
// call so tests can replace it. The token is added here rather than in a middleware: openapi-fetch
// awaits middlewares before it fetches, so a request made while the bundle is still evaluating (the
// first screen's, see boot.ts) would not leave until all of it had.
export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  fetch: (request) => {
    const token = tokenStore.get();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    if (readAfter.value) request.headers.set("CICD-Read-After", readAfter.value);
    return globalThis.fetch(request);
  },
});

/** Unwraps an openapi-fetch result: the data, or an ApiError built from the error body. */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch (e) {
    throw new ApiError(0, "offline", `The backend cannot be reached (${(e as Error).message}).`);
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const body = (error ?? {}) as Partial<ErrorBody>;
  throw new ApiError(
    response.status,
    body.error?.code ?? `http_${response.status}`,
    body.error?.message ?? `${response.status} ${response.statusText}`,
    body.error?.details ?? [],
  );
}
