import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { TOKEN_KEY } from "../src/lib/auth";
import { jsonResponse, makeJwt, sseResponse } from "./helpers";

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

/** Route fetch calls by "METHOD path" to handlers; unknown routes fail the test loudly. */
function stubFetch(routes: Record<string, Handler>) {
  const calls: string[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const key = `${init.method ?? "GET"} ${url.split("?")[0]}`;
    calls.push(key);
    const handler = routes[key];
    if (!handler) return jsonResponse(599, { detail: `no stub for ${key}` });
    return handler(url, init);
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}

const READY = () => jsonResponse(200, { status: "ready", checks: { postgres: "ok", redis: "ok" } });
const future = Math.floor(Date.now() / 1000) + 3600;

beforeEach(() => {
  window.sessionStorage.clear();
  window.history.replaceState(null, "", "/");
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("App", () => {
  it("shows the API's login error in words, then logs in and out", async () => {
    const user = userEvent.setup();
    let attempts = 0;
    stubFetch({
      "GET /api/ready": READY,
      "POST /api/v1/auth/login": () =>
        ++attempts === 1
          ? jsonResponse(401, { detail: "invalid username or password" })
          : jsonResponse(200, { access_token: makeJwt({ sub: "admin", adm: true, exp: future }) }),
      "GET /api/v1/workflows": () => jsonResponse(200, []),
    });
    render(<App />);
    expect(await screen.findByRole("heading", { name: "Log in to AIWFE" })).toBeInTheDocument();
    await user.type(screen.getByLabelText("User name"), "admin");
    await user.type(screen.getByLabelText("Password"), "wrong");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("invalid username or password");

    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "right{Enter}");
    expect(await screen.findByRole("heading", { name: "Workflows" })).toBeInTheDocument();
    expect(window.location.pathname).toBe("/workflows");
    expect(screen.getByTestId("user-name")).toHaveTextContent("admin (admin)");
    expect(screen.getByRole("link", { name: "Feature flags" })).toBeInTheDocument();
    expect(window.sessionStorage.getItem(TOKEN_KEY)).not.toBeNull();
    const health = await screen.findByRole("list", { name: "Component health" });
    expect(within(health).getAllByRole("listitem")).toHaveLength(2);

    await user.click(screen.getByRole("button", { name: "Log out" }));
    expect(await screen.findByText("You are logged out.")).toBeInTheDocument();
    expect(window.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
  });

  it("hides the flags page from non-admins", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "bob", adm: false, exp: future }));
    window.history.replaceState(null, "", "/flags");
    stubFetch({ "GET /api/ready": READY });
    render(<App />);
    expect(await screen.findByText("Only administrators can see feature flags.")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Feature flags" })).toBeNull();
  });

  it("creates a workflow and shows its live progress until it succeeds", async () => {
    const user = userEvent.setup();
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    window.history.replaceState(null, "", "/workflows");
    const steps = [{ type: "perceive" }];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls = stubFetch({
      "GET /api/ready": READY,
      "GET /api/v1/workflows": () => jsonResponse(200, { items: [] }),
      "POST /api/v1/workflows": (_url, init) => {
        const body = JSON.parse(String(init.body));
        expect(body.steps).toEqual(steps);
        expect(body.name).toBe("demo");
        return jsonResponse(201, { id: "run-1", name: "demo", status: "queued", steps, current_step: 0 });
      },
      "GET /api/v1/workflows/run-1/events": async () => {
        await gate;
        return sseResponse([
          "id: 1\nevent: started\ndata: {\"run_id\":\"run-1\",\"attempt\":1}\n\n",
          "id: 2\nevent: step_started\ndata: {\"run_id\":\"run-1\",\"idx\":0}\n\n",
          "id: 3\nevent: step_completed\ndata: {\"run_id\":\"run-1\",\"idx\":0}\n\n",
          "id: 4\nevent: completed\ndata: {\"run_id\":\"run-1\",\"status\":\"succeeded\"}\n\n",
        ]);
      },
      "GET /api/v1/workflows/run-1": () =>
        jsonResponse(200, { id: "run-1", name: "demo", status: "succeeded", steps, current_step: 1, result: { ok: 1 } }),
    });
    render(<App />);
    await screen.findByText("No workflow runs yet.");
    await user.type(screen.getByLabelText("Name"), "demo");
    await user.selectOptions(screen.getByLabelText("Template"), "perceive");
    await user.click(screen.getByRole("button", { name: "Create workflow" }));
    const item = await screen.findByText("demo", { selector: ".run-name" });
    const run = item.closest("li")!;
    expect(run).toHaveAttribute("data-status", "queued");
    expect(within(run).getByRole("button", { name: /Cancel/ })).toBeInTheDocument();
    release();
    await waitFor(() => expect(run).toHaveAttribute("data-status", "succeeded"));
    expect(within(run).getByText("1/1 steps")).toBeInTheDocument();
    expect(within(run).queryByRole("button", { name: /Cancel/ })).toBeNull();
    await waitFor(() => expect(calls).toContain("GET /api/v1/workflows/run-1"));
  });

  it("shows why a workflow could not be created", async () => {
    const user = userEvent.setup();
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    stubFetch({
      "GET /api/ready": READY,
      "GET /api/v1/workflows": () => jsonResponse(200, []),
      "POST /api/v1/workflows": () =>
        jsonResponse(422, { detail: [{ loc: ["body", "steps", 0, "params"], msg: "Input should be a valid dictionary" }] }),
    });
    render(<App />);
    await screen.findByText("No workflow runs yet.");
    const steps = screen.getByLabelText("Steps (JSON list)");
    await user.clear(steps);
    await user.type(steps, "[[");
    await user.click(screen.getByRole("button", { name: "Create workflow" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/Steps must be valid JSON/);
    await user.selectOptions(screen.getByLabelText("Template"), "perceive");
    await user.click(screen.getByRole("button", { name: "Create workflow" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Some fields are not valid: steps.0.params: Input should be a valid dictionary.",
    );
  });

  it("logs out when the API says the session is gone", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    stubFetch({
      "GET /api/ready": READY,
      "GET /api/v1/workflows": () => jsonResponse(401, { detail: "token signature is invalid" }),
    });
    render(<App />);
    expect(await screen.findByRole("status")).toHaveTextContent(
      "You were logged out: token signature is invalid.",
    );
    expect(screen.getByLabelText("User name")).toBeInTheDocument();
  });

  it("marks a component that /api/ready reports down", async () => {
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    stubFetch({
      "GET /api/ready": () =>
        jsonResponse(503, {
          detail: "not ready: redis unavailable: ConnectionError",
          checks: { database: "ok", redis: "unavailable: ConnectionError" },
        }),
      "GET /api/v1/workflows": () => jsonResponse(200, []),
    });
    render(<App />);
    const health = await screen.findByRole("list", { name: "Component health" });
    const redis = within(health).getByText(/redis/).closest("li")!;
    expect(redis).toHaveClass("badge-down");
    expect(redis).toHaveTextContent("down (unavailable: ConnectionError)");
    expect(screen.getByText("Platform degraded.")).toBeInTheDocument();
  });

  it("sends a decision with criteria goals and option values and shows the ranking", async () => {
    const user = userEvent.setup();
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    window.history.replaceState(null, "", "/decisions");
    let sent: unknown = null;
    stubFetch({
      "GET /api/ready": READY,
      "POST /api/v1/decisions": (_url, init) => {
        sent = JSON.parse(String(init.body));
        return jsonResponse(200, {
          question: "Which?",
          best: "B",
          ranking: [
            { name: "B", score: 1, breakdown: { cost: 1 }, evidence: ["B was cheap before"] },
            { name: "A", score: 0, breakdown: { cost: 0 }, evidence: [] },
          ],
          rationale: "B costs less.",
          memories_used: 1,
        });
      },
    });
    render(<App />);
    await user.type(await screen.findByLabelText("What do you need to decide?"), "Which?");
    await user.type(screen.getByLabelText("Criterion 1 name"), "cost");
    await user.selectOptions(screen.getByLabelText("Goal of criterion 1"), "min");
    await user.type(screen.getByLabelText("Option 1 name"), "A");
    await user.type(screen.getByLabelText("cost of option 1"), "5");
    await user.type(screen.getByLabelText("Option 2 name"), "B");
    await user.type(screen.getByLabelText("cost of option 2"), "2");
    await user.click(screen.getByRole("button", { name: "Analyse" }));
    expect(await screen.findByTestId("recommendation")).toHaveTextContent("B");
    expect(sent).toEqual({
      question: "Which?",
      options: [
        { name: "A", description: "", scores: { cost: 5 } },
        { name: "B", description: "", scores: { cost: 2 } },
      ],
      criteria: [{ name: "cost", weight: 1, goal: "min" }],
      use_memory: true,
      namespace: "default",
    });
    expect(screen.getByTestId("rationale")).toHaveTextContent("B costs less.");
    expect(screen.getByText("1 memory used as evidence.")).toBeInTheDocument();
    expect(screen.getByText("B was cheap before")).toBeInTheDocument();
  });

  it("ingests into and searches the chosen namespace", async () => {
    const user = userEvent.setup();
    window.sessionStorage.setItem(TOKEN_KEY, makeJwt({ sub: "alice", exp: future }));
    window.history.replaceState(null, "", "/memory");
    const bodies: Record<string, unknown> = {};
    stubFetch({
      "GET /api/ready": READY,
      "POST /api/v1/memory/ingest": (_url, init) => {
        bodies.ingest = JSON.parse(String(init.body));
        return jsonResponse(200, {
          source_id: "s",
          namespace: "team-a",
          facts: [{ id: "f1", text: "Fact one." }, { id: "f2", text: "Fact two." }],
          stored: 1,
        });
      },
      "POST /api/v1/memory/search": (_url, init) => {
        bodies.search = JSON.parse(String(init.body));
        return jsonResponse(200, { items: [{ id: "f1", text: "Fact one.", score: 0.8123, tags: ["x"] }] });
      },
    });
    render(<App />);
    const namespace = await screen.findByLabelText("Namespace");
    await user.clear(namespace);
    await user.type(namespace, "team-a");
    await user.type(screen.getByLabelText("Text to remember"), "Fact one. Fact two.");
    await user.type(screen.getByLabelText("Tags (comma separated)"), "x, y");
    await user.click(screen.getByRole("button", { name: "Ingest" }));
    expect(await screen.findByTestId("ingest-result")).toHaveTextContent("Extracted 2 facts, 1 new.");
    expect(bodies.ingest).toEqual({ text: "Fact one. Fact two.", namespace: "team-a", tags: ["x", "y"] });
    await user.type(screen.getByLabelText("Query"), "one");
    await user.click(screen.getByRole("button", { name: "Search" }));
    const results = await screen.findByTestId("search-results");
    expect(results).toHaveTextContent("Fact one.");
    expect(results).toHaveTextContent("similarity 0.812 · tags: x");
    expect(bodies.search).toEqual({ query: "one", namespace: "team-a", limit: 5 });
  });
});
