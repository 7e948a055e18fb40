// The query cache and the first screen's requests, started before React and the app's modules are
// evaluated: main.tsx imports this module first, so the requests run while the rest of the bundle
// starts (the bundle's modules are evaluated in import order).
import { MutationCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/client";
import { prefetchFirstScreen } from "./api/hooks";

export const client: QueryClient = new QueryClient({
  // Every change the page makes is an admin action the audit log records: it is read again.
  mutationCache: new MutationCache({ onSuccess: () => client.invalidateQueries({ queryKey: ["audit"] }) }),
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      // Client errors do not get better by retrying; outages do (the stream also refetches on recovery).
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 3,
      refetchOnWindowFocus: true,
    },
  },
});

export const firstScreen = prefetchFirstScreen(client);
