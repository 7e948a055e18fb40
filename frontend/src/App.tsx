// The app shell: URL-driven view, time zone, theme, live stream, connection banner, pages.
import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ApiError } from "./api/client";
import { useAuth } from "./api/auth";
import { doraParams } from "./api/delivery";
import { useLiveUpdates, useConfig } from "./api/hooks";
import { jobsParams, runnersParams, usageParams } from "./api/insight";
import { metricsParams } from "./api/params";
import { rankingKey } from "./api/tests";
import { keys } from "./api/keys";
import { AuthProvider } from "./components/Auth";
import { Skeleton } from "./components/common";
import { Header } from "./components/Header";
import { applyTheme, prefs, viewZone, ZoneContext, type Theme } from "./lib/prefs";
import { withFilter, type View } from "./lib/url";
import { useView } from "./lib/useView";
import { Dashboard } from "./pages/Dashboard";

// The other pages load on first visit: the dashboard's first paint does not wait for them.
const Settings = lazy(() => import("./pages/Settings").then((m) => ({ default: m.Settings })));
const Jobs = lazy(() => import("./pages/Jobs").then((m) => ({ default: m.Jobs })));
const Runners = lazy(() => import("./pages/Runners").then((m) => ({ default: m.Runners })));
const Usage = lazy(() => import("./pages/Usage").then((m) => ({ default: m.Usage })));
const Tests = lazy(() => import("./pages/Tests").then((m) => ({ default: m.Tests })));
const Delivery = lazy(() => import("./pages/Delivery").then((m) => ({ default: m.Delivery })));

/** The query whose last load the header's "Updated" shows: the page's main figures. */
function updatedKey(view: View) {
  switch (view.page) {
    case "jobs":
      return keys.jobs(jobsParams(view));
    case "runners":
      return keys.runners(runnersParams(view));
    case "usage":
      return keys.usage(usageParams(view));
    case "tests":
      return rankingKey(view);
    case "delivery":
      return keys.dora(doraParams(view));
    default:
      return keys.metrics(metricsParams(view));
  }
}

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}

/** The first error any query has now, to explain a blank screen (offline, or a token needed). */
function useQueryErrors(): ApiError | null {
  const client = useQueryClient();
  const cache = client.getQueryCache();
  return useSyncExternalStore(
    (cb) => cache.subscribe(cb),
    () => {
      for (const q of cache.getAll()) {
        if (q.state.status === "error" && q.state.error instanceof ApiError && q.getObserversCount() > 0) {
          return q.state.error;
        }
      }
      return null;
    },
  );
}

function Shell() {
  const [view, setView] = useView();
  const [theme, setTheme] = useState<Theme>(prefs.theme());
  const live = useLiveUpdates();
  const client = useQueryClient();
  const error = useQueryErrors();
  const config = useConfig();
  const { ask, token } = useAuth();
  const zone = viewZone(view);

  // What is on screen ("light" or "dark"): with "Auto" it follows the system's setting as it changes,
  // and the charts (which draw with the theme's colours) are redrawn when it does.
  const [shown, setShown] = useState(() => document.documentElement.dataset.theme ?? "light");
  useEffect(() => {
    const apply = () => {
      applyTheme(theme);
      setShown(document.documentElement.dataset.theme ?? "light");
    };
    apply();
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    media?.addEventListener("change", apply);
    return () => media?.removeEventListener("change", apply);
  }, [theme]);

  // A token entered later (or signing out) changes what every query may see. Not on the first
  // render: the queries were just made with the token there is.
  const tokenSeen = useRef(token);
  useEffect(() => {
    if (tokenSeen.current === token) return;
    tokenSeen.current = token;
    void client.invalidateQueries();
  }, [client, token]);

  const onView = useCallback(
    (patch: Partial<View>, replace?: boolean) => setView((v) => withFilter(v, patch), { replace }),
    [setView],
  );

  const offline = live.state === "offline" || !!error?.offline;
  const needsToken = error?.needsToken && (config.data?.auth_mode === "token" || error.status === 401);

  return (
    <ZoneContext.Provider value={zone}>
      <Header
        view={view}
        onView={onView}
        live={live.state}
        updatedKey={updatedKey(view)}
        theme={theme}
        onTheme={(t) => {
          prefs.setTheme(t);
          setTheme(t);
        }}
      />
      {offline && (
        <div className="banner" role="alert">
          The backend cannot be reached. Showing the last figures; reconnecting by itself…
        </div>
      )}
      {!offline && needsToken && view.page !== "settings" && (
        <div className="banner warn" role="alert">
          {error?.message}{" "}
          <button
            type="button"
            className="btn small"
            onClick={() => void ask("Reading the dashboard needs a read (or admin) token.")}
          >
            Enter a token
          </button>
        </div>
      )}
      <main>
        {view.page === "dashboard" ? (
          <Dashboard view={view} onView={onView} theme={shown} />
        ) : (
          <Suspense fallback={<Skeleton lines={6} />}>
            {view.page === "settings" ? (
              <Settings />
            ) : view.page === "jobs" ? (
              <Jobs view={view} onView={onView} theme={shown} />
            ) : view.page === "runners" ? (
              <Runners view={view} onView={onView} theme={shown} />
            ) : view.page === "tests" ? (
              <Tests view={view} onView={onView} />
            ) : view.page === "delivery" ? (
              <Delivery view={view} onView={onView} theme={shown} />
            ) : (
              <Usage view={view} onView={onView} theme={shown} />
            )}
          </Suspense>
        )}
      </main>
    </ZoneContext.Provider>
  );
}
