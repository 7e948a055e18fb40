// What the page tests share: a stubbed API and the providers the app renders pages inside.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { vi } from "vitest";
import { AuthProvider } from "../components/Auth";
import { ZoneContext } from "../lib/prefs";

/** A JSON response, for a route that answers other than 200 (or with no body, `null`: 204). */
export function answer(status: number, body: unknown = null): Response {
  return body === null
    ? new Response(null, { status })
    : new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Stubs `fetch`: a path with a route gets its answer (200 with the JSON it returns, or the Response
 * it returns; a route may be async), any other a 404 in the API's error shape. Returns the URLs asked
 * for, in order. */
export function serve(routes: Record<string, (url: URL, req: Request) => unknown>): URL[] {
  const asked: URL[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      const url = new URL(req.url);
      asked.push(url);
      const route = routes[url.pathname];
      if (!route) return answer(404, { error: { code: "not_found", message: url.pathname } });
      const body: unknown = await route(url, req);
      return body instanceof Response ? body : answer(200, body);
    }),
  );
  return asked;
}

/** Renders a page as the app does: queries (without retries), the admin token, a UTC zone. */
export function renderPage(page: ReactElement) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <ZoneContext.Provider value="UTC">{page}</ZoneContext.Provider>
      </AuthProvider>
    </QueryClientProvider>,
  );
}
