// Binds the URL to React: the current view, and navigation that pushes history entries (so
// back/forward walk through filter changes) or replaces them (for the side panel's run).
import { useCallback, useMemo, useSyncExternalStore } from "react";
import { formatView, parseView, type View } from "./url";

const NAVIGATE = "cicd:navigate";

function subscribe(listener: () => void): () => void {
  window.addEventListener("popstate", listener);
  window.addEventListener(NAVIGATE, listener);
  return () => {
    window.removeEventListener("popstate", listener);
    window.removeEventListener(NAVIGATE, listener);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function navigate(view: View, options: { replace?: boolean } = {}): void {
  const url = formatView(view);
  if (url === snapshot()) return;
  if (options.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(NAVIGATE));
}

export function useView(): [View, (next: View | ((v: View) => View), options?: { replace?: boolean }) => void] {
  const location = useSyncExternalStore(subscribe, snapshot);
  const view = useMemo(() => {
    const [path, search = ""] = location.split("?");
    return parseView(path ?? "/", search);
  }, [location]);
  const setView = useCallback((next: View | ((v: View) => View), options?: { replace?: boolean }) => {
    const current = parseView(window.location.pathname, window.location.search);
    navigate(typeof next === "function" ? next(current) : next, options);
  }, []);
  return [view, setView];
}
