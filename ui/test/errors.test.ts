import { describe, expect, it } from "vitest";
import {
  ApiError,
  describeErrorBody,
  errorFromResponse,
  errorMessage,
  networkError,
} from "../src/lib/errors";

describe("describeErrorBody", () => {
  it("reads FastAPI's string detail", () => {
    expect(describeErrorBody({ detail: "workflow not found" })).toBe("workflow not found");
  });

  it("turns validation errors into field: message pairs without the body prefix", () => {
    const body = {
      detail: [
        { loc: ["body", "steps", 0, "type"], msg: "Field required", type: "missing" },
        { loc: ["query", "limit"], msg: "Input should be less than 200", type: "less_than" },
      ],
    };
    expect(describeErrorBody(body)).toBe(
      "steps.0.type: Field required; limit: Input should be less than 200",
    );
  });

  it("prefers an {error: {message}} envelope", () => {
    expect(describeErrorBody({ error: { code: "rate_limited", message: "slow down" } })).toBe(
      "slow down",
    );
  });

  it("keeps plain-text bodies short and returns nothing for empty ones", () => {
    expect(describeErrorBody("x".repeat(900))).toHaveLength(500);
    expect(describeErrorBody(null)).toBe("");
    expect(describeErrorBody({})).toBe("");
    expect(describeErrorBody(42)).toBe("");
  });
});

describe("errorFromResponse", () => {
  it("combines the status in words with the detail", () => {
    const error = errorFromResponse(404, { detail: "workflow run 7 not found" }, "req-1");
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(404);
    expect(error.message).toBe("Not found: workflow run 7 not found.");
    expect(error.requestId).toBe("req-1");
    expect(errorMessage(error)).toBe("Not found: workflow run 7 not found. Request ID: req-1");
  });

  it("flags 401 as unauthorized", () => {
    const error = errorFromResponse(401, { detail: "token expired" });
    expect(error.isUnauthorized).toBe(true);
    expect(error.message).toContain("token expired");
  });

  it("says when to retry after a 429", () => {
    const error = errorFromResponse(429, { detail: "login rate limit" }, null, 30);
    expect(error.message).toBe(
      "Too many requests; please wait and try again: login rate limit (retry in 30 s).",
    );
  });

  it("has words for statuses it does not know", () => {
    expect(errorFromResponse(418, null).message).toBe("The request failed (HTTP 418).");
    expect(errorFromResponse(599, "").message).toBe(
      "The gateway answered with an error (HTTP 599).",
    );
  });

  it("does not repeat a detail equal to the status words", () => {
    expect(errorFromResponse(404, { detail: "Not found" }).message).toBe("Not found.");
  });
});

describe("networkError and errorMessage", () => {
  it("explains that the gateway is unreachable", () => {
    const error = networkError(new TypeError("Failed to fetch"));
    expect(error.status).toBe(0);
    expect(error.message).toBe("Cannot reach the gateway; check your connection (Failed to fetch).");
  });

  it("handles non-API errors", () => {
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage("weird")).toBe("Something went wrong.");
  });
});
