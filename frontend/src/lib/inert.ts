// What a side panel (a modal) does to the page behind it while it is open.
import { useEffect } from "react";

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
