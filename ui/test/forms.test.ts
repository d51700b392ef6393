import { describe, expect, it } from "vitest";
import { buildDecision, checkNamespace, splitTags } from "../src/lib/forms";
import { resolvePage } from "../src/lib/router";
import { parseSteps, progressOf } from "../src/lib/workflows";

describe("parseSteps", () => {
  it("accepts a list of typed steps", () => {
    expect(parseSteps('[{"type":"perceive"},{"type":"recall","params":{"query":"x"}}]')).toEqual([
      { type: "perceive" },
      { type: "recall", params: { query: "x" } },
    ]);
  });

  it.each([
    ["{", /valid JSON/],
    ["[]", /non-empty JSON list/],
    ['{"type":"x"}', /non-empty JSON list/],
    ["[1]", /Step 1 must be an object/],
    ['[{"type":"wait"},{"kind":"b"}]', /Step 2 has no "type"/],
    ['[{"type":"perception"}]', /unknown type "perception"; use one of perceive, remember/],
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
  const opt = (name: string, ...values: string[]) => ({ name, description: "", values });
  const crit = (name: string, weight = "1", goal: "max" | "min" = "max") => ({ name, weight, goal });

  it("builds the reasoning module's request: trimmed, empty rows dropped, values by criterion", () => {
    expect(
      buildDecision(
        " Which DB? ",
        [opt("Postgres ", "2", "", "9"), opt("", "", "", ""), { name: " SQLite", description: " small ", values: ["0", "5", ""] }],
        [crit("cost", "2", "min"), crit("", "1"), crit(" ops ", "0.5")],
      ),
    ).toEqual({
      question: "Which DB?",
      options: [
        { name: "Postgres", description: "", scores: { cost: 2, ops: 9 } },
        { name: "SQLite", description: "small", scores: { cost: 0 } },
      ],
      criteria: [
        { name: "cost", weight: 2, goal: "min" },
        { name: "ops", weight: 0.5, goal: "max" },
      ],
      use_memory: true,
    });
  });

  it("allows no criteria (the module then scores descriptions against the question)", () => {
    const request = buildDecision("q", [opt("a"), opt("b")], [crit("")], false);
    expect(request.criteria).toEqual([]);
    expect(request.use_memory).toBe(false);
  });

  it.each([
    ["", [opt("a", "1"), opt("b", "1")], [crit("c")], /question/],
    ["q", [opt("a", "1"), opt("", "")], [crit("c")], /at least two options/],
    ["q", [opt("a", "1"), opt("a", "2")], [crit("c")], /own name/],
    ["q", [opt("a", "1"), opt("", "3")], [crit("c")], /Option 2 needs a name/],
    ["q", [opt("a", "x"), opt("b", "1")], [crit("c")], /value of "a" on "c" must be a number/],
    ["q", [opt("a"), opt("b")], [crit("", "5")], /Criterion 1 needs a name/],
    ["q", [opt("a"), opt("b")], [crit("c", "0")], /weight of "c"/],
    ["q", [opt("a"), opt("b")], [crit("c", "x")], /weight of "c"/],
    ["q", [opt("a"), opt("b")], [crit("c", "1001")], /at most 1000/],
    ["q", [opt("a"), opt("b")], [crit("c"), crit("C")], /criterion must have its own name/],
  ])("refuses bad input (%s %j %j)", (question, options, criteria, message) => {
    expect(() => buildDecision(question, options, criteria)).toThrow(message);
  });
});

describe("checkNamespace", () => {
  it("defaults to default and refuses spaces", () => {
    expect(checkNamespace("  ")).toBe("default");
    expect(checkNamespace(" team-a:x ")).toBe("team-a:x");
    expect(() => checkNamespace("team a")).toThrow(/no spaces/);
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
