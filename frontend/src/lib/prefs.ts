// Preferences kept in this browser (localStorage): theme and default time zone.
import { createContext, useContext } from "react";
import { isValidZone, LOCAL, type TimeZone } from "./format";

export type Theme = "system" | "light" | "dark";

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage disabled: the choice lasts until reload.
  }
}

export const prefs = {
  theme(): Theme {
    const t = read("cicd-monitor.theme");
    return t === "light" || t === "dark" ? t : "system";
  },
  setTheme(theme: Theme): void {
    write("cicd-monitor.theme", theme);
    applyTheme(theme);
  },
  zone(): TimeZone {
    return read("cicd-monitor.tz") ?? LOCAL;
  },
  setZone(zone: TimeZone): void {
    write("cicd-monitor.tz", zone);
  },
};

/** Sets `data-theme` on <html>; "system" follows the OS setting. */
export function applyTheme(theme: Theme): void {
  const dark = theme === "dark" || (theme === "system" && window.matchMedia?.("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

/** The zone a view is shown in: its URL's, else the one chosen last in this browser, else local. */
export function viewZone(view: { tz?: string }): TimeZone {
  if (view.tz && isValidZone(view.tz)) return view.tz;
  const stored = prefs.zone();
  return isValidZone(stored) ? stored : LOCAL;
}

/** The time zone every time on the page is shown in. */
export const ZoneContext = createContext<TimeZone>(LOCAL);
export const useZone = () => useContext(ZoneContext);
