// What the page tests share: a stubbed API and the providers the app renders pages inside.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { vi } from "vitest";
import { AuthProvider } from "../components/Auth";
import { ZoneContext } from "../lib/prefs";

/** Stubs `fetch`: a path with a route gets its answer, any other a 404 in the API's error shape.
 * Returns the URLs asked for, in order. */
export function serve(routes: Record<string, (url: URL) => unknown>): URL[] {
  const asked: URL[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) => {
      const url = new URL(req.url);
      asked.push(url);
      const route = routes[url.pathname];
      return Promise.resolve(
        new Response(JSON.stringify(route ? route(url) : { error: { code: "not_found", message: url.pathname } }), {
          status: route ? 200 : 404,
          headers: { "Content-Type": "application/json" },
        }),
      );
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
