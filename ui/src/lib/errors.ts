// Errors from the gateway, turned into sentences a person can act on.
//
// The gateway answers errors as FastAPI does: {"detail": "text"} or, for validation errors,
// {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}; some routes add
// {"error": {"code": "...", "message": "..."}}. Every request carries an X-Request-ID which
// we show so an operator can find the log line.

export interface ValidationIssue {
  loc?: (string | number)[];
  msg?: string;
  type?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly requestId: string | null;
  readonly retryAfter: number | null;

  constructor(
    status: number,
    message: string,
    detail = "",
    requestId: string | null = null,
    retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }

  /** The session is gone (expired or revoked token): the UI goes back to the login form. */
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

const STATUS_WORDS: Record<number, string> = {
  400: "The request was not accepted",
  401: "Your session has expired or the credentials are wrong; please log in again",
  403: "You do not have permission to do this",
  404: "Not found",
  409: "This conflicts with the current state",
  413: "The request is too large",
  422: "Some fields are not valid",
  429: "Too many requests; please wait and try again",
  500: "The gateway failed while handling the request",
  502: "A platform component behind the gateway did not answer correctly",
  503: "A platform component is unavailable right now",
  504: "A platform component took too long to answer",
};

function fieldName(loc: (string | number)[] | undefined): string {
  if (!loc || loc.length === 0) return "";
  // FastAPI prefixes the location with "body" / "query" / "path": drop it.
  const parts = loc.filter((part, index) => !(index === 0 && typeof part === "string" &&
    ["body", "query", "path", "header"].includes(part)));
  return parts.map(String).join(".");
}

/** A sentence from an error body; "" when the body says nothing useful. */
export function describeErrorBody(body: unknown): string {
  if (body == null) return "";
  if (typeof body === "string") return body.trim().slice(0, 500);
  if (typeof body !== "object") return "";
  const record = body as Record<string, unknown>;
  const error = record.error;
  if (error && typeof error === "object") {
    const message = (error as Record<string, unknown>).message;
    if (typeof message === "string" && message) return message;
  }
  if (typeof error === "string" && error) return error;
  const detail = record.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item: ValidationIssue | string) => {
        if (typeof item === "string") return item;
        const field = fieldName(item.loc);
        return field ? `${field}: ${item.msg ?? "invalid"}` : (item.msg ?? "invalid");
      })
      .join("; ");
  }
  if (detail && typeof detail === "object") {
    const message = (detail as Record<string, unknown>).message;
    if (typeof message === "string") return message;
  }
  if (typeof record.message === "string") return record.message;
  return "";
}

/** Build an ApiError from a status and a parsed (or raw) body. */
export function errorFromResponse(
  status: number,
  body: unknown,
  requestId: string | null = null,
  retryAfter: number | null = null,
): ApiError {
  const base = STATUS_WORDS[status] ?? (status >= 500
    ? `The gateway answered with an error (HTTP ${status})`
    : `The request failed (HTTP ${status})`);
  const detail = describeErrorBody(body);
  let message = detail && detail !== base ? `${base}: ${detail}` : base;
  if (status === 429 && retryAfter != null) message += ` (retry in ${retryAfter} s)`;
  if (!/[.!?]$/.test(message)) message += ".";
  return new ApiError(status, message, detail, requestId, retryAfter);
}

/** The error when no HTTP answer came back at all (gateway down, network cut, CORS). */
export function networkError(cause: unknown): ApiError {
  const reason = cause instanceof Error && cause.message ? ` (${cause.message})` : "";
  return new ApiError(0, `Cannot reach the gateway; check your connection${reason}.`);
}

/** Words for anything thrown: ApiError, Error or other. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    return error.requestId ? `${error.message} Request ID: ${error.requestId}` : error.message;
  }
  if (error instanceof Error) return error.message || "Something went wrong.";
  return "Something went wrong.";
}
