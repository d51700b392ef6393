// A tiny History API router: the gateway answers every non-API path with index.html (SPA
// fallback), so /workflows or /memory can be bookmarked and reloaded.

import { useEffect, useState } from "react";

export const PAGES = [
  { path: "/workflows", label: "Workflows" },
  { path: "/memory", label: "Memory" },
  { path: "/decisions", label: "Decisions" },
  { path: "/flags", label: "Feature flags", admin: true },
] as const;

export type PagePath = (typeof PAGES)[number]["path"];

/** The page for a location path: unknown paths and "/" land on the workflows page. */
export function resolvePage(pathname: string): PagePath {
  const clean = pathname.replace(/\/+$/, "") || "/";
  const page = PAGES.find((p) => clean === p.path || clean.startsWith(`${p.path}/`));
  return page ? page.path : "/workflows";
}

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false): void {
  if (path === window.location.pathname) return;
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  listeners.forEach((listener) => listener());
}

export function usePathname(): string {
  const [pathname, setPathname] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPathname(window.location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return pathname;
}
