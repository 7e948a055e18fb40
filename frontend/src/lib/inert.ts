// What a side panel (a modal) does to the page behind it while it is open.
import { useEffect, useEffectEvent, type RefObject } from "react";

/** Makes everything in #root inert while the panel is open (dialogs excepted: a token may be asked for). */
export function useInertBackground() {
  useEffect(() => {
    const root = document.getElementById("root");
    if (!root) return;
    const made: Element[] = [];
    for (const el of Array.from(root.children)) {
      if (el.tagName === "DIALOG" || el.hasAttribute("inert")) continue;
      el.setAttribute("inert", "");
      made.push(el);
    }
    document.documentElement.classList.add("panel-open");
    return () => {
      made.forEach((el) => el.removeAttribute("inert"));
      document.documentElement.classList.remove("panel-open");
    };
  }, []);
}

/**
 * A side panel's keyboard behaviour: focus on its close button (`closeRef`), Escape closes it
 * (unless a dialog over it handles its own), and on closing focus goes back to `row()` (the table
 * row it was opened from, once the background is no longer inert), else where focus was.
 */
export function useSidePanel(
  closeRef: RefObject<HTMLButtonElement | null>,
  onClose: () => void,
  row: () => HTMLElement | null,
) {
  const close = useEffectEvent(() => onClose());
  const findRow = useEffectEvent(row);
  useInertBackground();
  useEffect(() => {
    let open = true;
    const opener = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      // A dialog over the panel (the token prompt) handles its own Escape.
      if (e.key !== "Escape" || e.defaultPrevented || document.querySelector("dialog[open]")) return;
      e.preventDefault();
      close();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      open = false;
      window.removeEventListener("keydown", onKey);
      queueMicrotask(() => {
        if (open || document.querySelector(".panel")) return; // remounted (React's StrictMode checks)
        (findRow() ?? opener)?.focus?.({ preventScroll: false });
      });
    };
  }, [closeRef]);
}
