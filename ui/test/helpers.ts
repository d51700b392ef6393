// Test helpers: tokens shaped like the gateway's and fetch Responses built in memory.

export function b64url(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function makeJwt(claims: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  return `${header}.${b64url(JSON.stringify(claims))}.c2lnbmF0dXJl`;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** An event-stream Response whose body arrives in the given chunks (bytes split anywhere). */
export function sseResponse(chunks: (string | Uint8Array)[], status = 200) {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      }
      controller.close();
    },
  });
  return new Response(body, { status, headers: { "content-type": "text/event-stream" } });
}

export interface Call {
  url: string;
  init: RequestInit;
}

/** A fetch stand-in answering from a queue; records every call. */
export function queueFetch(...answers: (Response | Error | (() => Response))[]) {
  const calls: Call[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({ url: String(input), init });
    const answer = answers.shift();
    if (answer === undefined) throw new Error(`unexpected fetch ${String(input)}`);
    if (answer instanceof Error) throw answer;
    return typeof answer === "function" ? answer() : answer;
  }) as typeof fetch;
  return { fetchImpl, calls };
}

export function header(init: RequestInit, name: string): string | undefined {
  const headers = init.headers as Record<string, string> | undefined;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? headers[key] : undefined;
}
