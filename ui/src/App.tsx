import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { HealthBar } from "./components/HealthBar";
import { ApiClient } from "./lib/api";
import { TokenStore, isExpired, sessionFromToken, type Session } from "./lib/auth";
import { ApiError } from "./lib/errors";
import { PAGES, navigate, resolvePage, usePathname } from "./lib/router";
import { DecisionsPage } from "./pages/Decisions";
import { FlagsPage } from "./pages/Flags";
import { LoginPage } from "./pages/Login";
import { MemoryPage } from "./pages/Memory";
import { WorkflowsPage } from "./pages/Workflows";

const store = new TokenStore();

export function App() {
  const [session, setSession] = useState<Session | null>(() => store.load());
  const [notice, setNotice] = useState<string | null>(null);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const pathname = usePathname();
  const page = resolvePage(pathname);

  const logout = useCallback((message: string | null = null) => {
    store.clear();
    setSession(null);
    setNotice(message);
  }, []);

  const client = useMemo(
    () =>
      new ApiClient({
        getToken: () => sessionRef.current?.token ?? null,
        onUnauthorized: (error: ApiError) =>
          logout(`You were logged out: ${error.detail || "the session is no longer valid"}.`),
      }),
    [logout],
  );

  // Log out when the token expires while the page is open.
  useEffect(() => {
    if (!session?.expiresAt) return;
    const ms = Math.max(0, session.expiresAt - Date.now());
    const timer = setTimeout(() => {
      if (isExpired(session)) logout("Your session expired; please log in again.");
    }, Math.min(ms, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [session, logout]);

  // Move focus to the page heading on navigation, for keyboard and screen reader users.
  const mainRef = useRef<HTMLElement>(null);
  useEffect(() => {
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [page, session]);

  useEffect(() => {
    const label = PAGES.find((p) => p.path === page)?.label ?? "AIWFE";
    document.title = session ? `${label} · AIWFE` : "Log in · AIWFE";
  }, [page, session]);

  const onLogin = (token: string, user?: { username?: string; is_admin?: boolean }) => {
    const next = sessionFromToken(token, user);
    if (!next) throw new ApiError(200, "The gateway returned a token the UI cannot read.");
    store.save(next);
    setNotice(null);
    setSession(next);
    if (pathname === "/" || pathname === "/login") navigate("/workflows", true);
  };

  const visiblePages = PAGES.filter((p) => !("admin" in p && p.admin) || session?.isAdmin);

  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="app-header">
        <div className="brand">
          <span className="logo" aria-hidden="true">▲</span> AIWFE
        </div>
        {session && (
          <nav aria-label="Main">
            <ul className="nav-list">
              {visiblePages.map((p) => (
                <li key={p.path}>
                  <a
                    href={p.path}
                    aria-current={page === p.path ? "page" : undefined}
                    onClick={(event) => {
                      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
                      event.preventDefault();
                      navigate(p.path);
                    }}
                  >
                    {p.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <HealthBar client={client} />
        {session && (
          <div className="user">
            <span className="user-name" data-testid="user-name">
              {session.username}
              {session.isAdmin && <span className="role"> (admin)</span>}
            </span>
            <button type="button" className="secondary" onClick={() => logout("You are logged out.")}>
              Log out
            </button>
          </div>
        )}
      </header>
      <main id="main" ref={mainRef}>
        {!session ? (
          <LoginPage client={client} onLogin={onLogin} notice={notice} />
        ) : page === "/memory" ? (
          <MemoryPage client={client} />
        ) : page === "/decisions" ? (
          <DecisionsPage client={client} />
        ) : page === "/flags" ? (
          session.isAdmin ? (
            <FlagsPage client={client} />
          ) : (
            <section>
              <h1 tabIndex={-1}>Feature flags</h1>
              <p role="alert" className="alert alert-error">Only administrators can see feature flags.</p>
            </section>
          )
        ) : (
          <WorkflowsPage client={client} />
        )}
      </main>
    </>
  );
}
