// The query cache and the first screen's requests, started before React and the app's modules are
// evaluated: main.tsx imports this module first, so the requests run while the rest of the bundle
// starts (the bundle's modules are evaluated in import order).
import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "./api/client";
import { prefetchFirstScreen } from "./api/hooks";

export const client = new QueryClient({
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
