import { describe, expect, it } from "vitest";
import { buildDecision, splitTags } from "../src/lib/forms";
import { resolvePage } from "../src/lib/router";
import { parseSteps, progressOf } from "../src/lib/workflows";

describe("parseSteps", () => {
  it("accepts a list of typed steps", () => {
    expect(parseSteps('[{"type":"perception"},{"type":"memory","namespace":"x"}]')).toEqual([
      { type: "perception" },
      { type: "memory", namespace: "x" },
    ]);
  });

  it.each([
    ["{", /valid JSON/],
    ["[]", /non-empty JSON list/],
    ['{"type":"x"}', /non-empty JSON list/],
    ["[1]", /Step 1 must be an object/],
    ['[{"type":"a"},{"kind":"b"}]', /Step 2 has no "type"/],
    ['[{"type":"  "}]', /Step 1 has no "type"/],
  ])("refuses %s with a message", (text, message) => {
    expect(() => parseSteps(text)).toThrow(message);
  });
});

describe("progressOf", () => {
  const steps = [{ type: "a" }, { type: "b" }, { type: "c" }, { type: "d" }];
  it("counts finished steps", () => {
    expect(progressOf({ status: "running", steps, current_step: 1 })).toEqual({ done: 1, total: 4, percent: 25 });
  });
  it("shows a succeeded run as complete and clamps odd values", () => {
    expect(progressOf({ status: "succeeded", steps, current_step: 3 }).percent).toBe(100);
    expect(progressOf({ status: "running", steps, current_step: 9 }).done).toBe(4);
    expect(progressOf({ status: "queued", steps: [], current_step: -1 })).toEqual({ done: 0, total: 0, percent: 0 });
  });
});

describe("buildDecision", () => {
  it("trims, drops empty rows and converts weights", () => {
    expect(
      buildDecision(" Which DB? ", ["Postgres ", "", " SQLite"], [
        { name: "cost", weight: "2" },
        { name: "", weight: "" },
        { name: " ops ", weight: "0.5" },
      ]),
    ).toEqual({
      question: "Which DB?",
      options: ["Postgres", "SQLite"],
      criteria: [
        { name: "cost", weight: 2 },
        { name: "ops", weight: 0.5 },
      ],
    });
  });

  it.each([
    ["", ["a", "b"], [{ name: "c", weight: "1" }], /question/],
    ["q", ["a", ""], [{ name: "c", weight: "1" }], /at least two options/],
    ["q", ["a", "A"], [{ name: "c", weight: "1" }], /must be different/],
    ["q", ["a", "b"], [{ name: "", weight: "1" }], /Criterion 1 needs a name/],
    ["q", ["a", "b"], [{ name: "c", weight: "0" }], /weight of "c"/],
    ["q", ["a", "b"], [{ name: "c", weight: "x" }], /weight of "c"/],
    ["q", ["a", "b"], [{ name: "", weight: "" }], /at least one criterion/],
  ])("refuses bad input (%s %j %j)", (question, options, criteria, message) => {
    expect(() => buildDecision(question, options, criteria)).toThrow(message);
  });
});

describe("splitTags and resolvePage", () => {
  it("splits, trims and de-duplicates tags", () => {
    expect(splitTags(" a, b ,,a ")).toEqual(["a", "b"]);
  });
  it("maps paths to pages with the workflows page as default", () => {
    expect(resolvePage("/")).toBe("/workflows");
    expect(resolvePage("/memory/")).toBe("/memory");
    expect(resolvePage("/flags/x")).toBe("/flags");
    expect(resolvePage("/nope")).toBe("/workflows");
  });
});
