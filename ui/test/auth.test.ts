import { describe, expect, it } from "vitest";
import { TOKEN_KEY, TokenStore, decodeJwt, isExpired, sessionFromToken } from "../src/lib/auth";
import { b64url, makeJwt } from "./helpers";

const NOW = 1_800_000_000_000;

describe("decodeJwt", () => {
  it("reads the claims of the gateway's tokens (sub, uid, adm, exp)", () => {
    const token = makeJwt({ sub: "admin", uid: "u-1", adm: true, exp: 1_900_000_000 });
    expect(decodeJwt(token)).toEqual({ sub: "admin", uid: "u-1", adm: true, exp: 1_900_000_000 });
  });

  it("decodes base64url payloads with non-ASCII text and no padding", () => {
    const token = makeJwt({ sub: "zoë?>>" });
    expect(decodeJwt(token)?.sub).toBe("zoë?>>");
  });

  it("rejects what is not a JWT", () => {
    expect(decodeJwt("")).toBeNull();
    expect(decodeJwt("a.b")).toBeNull();
    expect(decodeJwt("a.!!!.c")).toBeNull();
    expect(decodeJwt(`x.${b64url("[1,2]")}.y`)).toBeNull();
  });
});

describe("sessionFromToken", () => {
  it("maps adm to the admin role and exp to milliseconds", () => {
    const session = sessionFromToken(makeJwt({ sub: "alice", adm: true, exp: 1_800_000_100 }));
    expect(session).toMatchObject({
      username: "alice",
      isAdmin: true,
      roles: ["admin"],
      expiresAt: 1_800_000_100_000,
    });
  });

  it("treats a non-admin token as a plain user", () => {
    const session = sessionFromToken(makeJwt({ sub: "bob", adm: false, scope: "read write" }));
    expect(session?.isAdmin).toBe(false);
    expect(session?.roles).toEqual(["read", "write"]);
    expect(session?.expiresAt).toBeNull();
  });

  it("merges the user fields of the login answer", () => {
    const session = sessionFromToken(makeJwt({ sub: "u-9" }), { username: "carol", is_admin: true });
    expect(session?.username).toBe("carol");
    expect(session?.isAdmin).toBe(true);
  });
});

describe("isExpired", () => {
  const session = sessionFromToken(makeJwt({ sub: "a", exp: NOW / 1000 + 60 }))!;
  it("is false well before exp and true within the clock skew", () => {
    expect(isExpired(session, NOW)).toBe(false);
    expect(isExpired(session, NOW + 56_000)).toBe(true);
  });
});

describe("TokenStore", () => {
  it("round-trips a session through storage", () => {
    const store = new TokenStore(window.sessionStorage);
    const session = sessionFromToken(makeJwt({ sub: "dora", exp: NOW / 1000 + 3600 }), {
      is_admin: true,
    })!;
    store.save(session);
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toContain(session.token);
    const loaded = store.load(NOW);
    expect(loaded?.username).toBe("dora");
    expect(loaded?.isAdmin).toBe(true);
    store.clear();
    expect(store.load(NOW)).toBeNull();
  });

  it("drops an expired token on load", () => {
    const store = new TokenStore(window.sessionStorage);
    store.save(sessionFromToken(makeJwt({ sub: "old", exp: NOW / 1000 - 1 }))!);
    expect(store.load(NOW)).toBeNull();
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("accepts a bare token and drops garbage", () => {
    const store = new TokenStore(window.sessionStorage);
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "bare" }));
    expect(store.load(NOW)?.username).toBe("bare");
    window.sessionStorage.setItem(TOKEN_KEY, "{not json");
    expect(store.load(NOW)).toBeNull();
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("works without storage (memory only)", () => {
    const store = new TokenStore(null);
    store.save(sessionFromToken(makeJwt({ sub: "x" }))!);
    expect(store.load()).toBeNull();
  });
});
