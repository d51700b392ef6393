// The JWT from POST /api/v1/auth/login: stored per browser tab, read without verifying
// (the gateway verifies; the UI only needs the user name, roles and expiry to decide what
// to show and when to ask for a new login).

export interface Session {
  token: string;
  username: string;
  roles: string[];
  isAdmin: boolean;
  /** Expiry in milliseconds since the epoch; null when the token carries no `exp`. */
  expiresAt: number | null;
}

export const TOKEN_KEY = "aiwfe.token";

function base64UrlDecode(segment: string): string {
  let base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const pad = base64.length % 4;
  if (pad === 1) throw new Error("invalid base64url");
  if (pad) base64 += "=".repeat(4 - pad);
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims of a JWT, or null if it is not a well-formed JWT. */
export function decodeJwt(token: string): Record<string, unknown> | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(parts[1]));
    return claims && typeof claims === "object" && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function rolesOf(claims: Record<string, unknown>): string[] {
  const roles = new Set<string>();
  for (const key of ["roles", "role", "scopes", "scope"]) {
    const value = claims[key];
    if (Array.isArray(value)) value.forEach((r) => typeof r === "string" && roles.add(r));
    else if (typeof value === "string") value.split(/[\s,]+/).filter(Boolean).forEach((r) => roles.add(r));
  }
  if (claims.adm === true || claims.is_admin === true || claims.admin === true) roles.add("admin");
  return [...roles];
}

/** A Session from a token (and, when the login answer had them, explicit user fields). */
export function sessionFromToken(
  token: string,
  user?: { username?: string; roles?: string[]; is_admin?: boolean; role?: string },
): Session | null {
  const claims = decodeJwt(token);
  if (!claims) return null;
  const roles = new Set(rolesOf(claims));
  user?.roles?.forEach((r) => roles.add(r));
  if (user?.role) roles.add(user.role);
  if (user?.is_admin) roles.add("admin");
  const username =
    user?.username ??
    (typeof claims.username === "string" ? claims.username : undefined) ??
    (typeof claims.sub === "string" ? claims.sub : "user");
  const exp = typeof claims.exp === "number" ? claims.exp * 1000 : null;
  return {
    token,
    username,
    roles: [...roles],
    isAdmin: roles.has("admin"),
    expiresAt: exp,
  };
}

export function isExpired(session: Session, now: number = Date.now(), skewMs = 5_000): boolean {
  return session.expiresAt != null && session.expiresAt - skewMs <= now;
}

/** Where the token lives: sessionStorage (one tab, gone when the tab closes). */
export class TokenStore {
  private readonly storage: Storage | null;

  constructor(storage?: Storage | null) {
    this.storage = storage === undefined ? safeSessionStorage() : storage;
  }

  load(now: number = Date.now()): Session | null {
    const raw = this.storage?.getItem(TOKEN_KEY);
    if (!raw) return null;
    let token = raw;
    let user: { username?: string; roles?: string[] } | undefined;
    if (raw.startsWith("{")) {
      try {
        const saved = JSON.parse(raw) as { token?: unknown; username?: unknown; roles?: unknown };
        token = typeof saved.token === "string" ? saved.token : "";
        user = {
          username: typeof saved.username === "string" ? saved.username : undefined,
          roles: Array.isArray(saved.roles)
            ? saved.roles.filter((r): r is string => typeof r === "string")
            : undefined,
        };
      } catch {
        token = "";
      }
    }
    const session = token ? sessionFromToken(token, user) : null;
    if (!session || isExpired(session, now)) {
      this.clear();
      return null;
    }
    return session;
  }

  save(session: Session): void {
    const saved = { token: session.token, username: session.username, roles: session.roles };
    this.storage?.setItem(TOKEN_KEY, JSON.stringify(saved));
  }

  clear(): void {
    this.storage?.removeItem(TOKEN_KEY);
  }
}

function safeSessionStorage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.sessionStorage : null;
  } catch {
    return null; // storage disabled by the browser: the session lives in memory only
  }
}
