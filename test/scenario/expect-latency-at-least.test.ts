/**
 * Goal: the latency lower bounds `p99AtLeast` and `maxAtLeast` (docs/scenario.md "expect") parse
 * as durations and hold when the measured value is >= the bound, fail with the measured value
 * otherwise.
 * Method: scenarios/quickstart.yaml with its expectations replaced, run in process once.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseDocument } from "yaml"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { checkExpectations } from "../../src/scenario/expect.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { ROOT } from "../cluster/helpers.ts"

const PATH = join(ROOT, "scenarios", "quickstart.yaml")

function withExpect(entries: object[]) {
  const doc = parseDocument(readFileSync(PATH, "utf8"))
  doc.set("expect", doc.createNode(entries))
  const loaded = decodeScenarioText(PATH, doc.toString())
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"))
  return loaded.scenario
}

describe("p99AtLeast and maxAtLeast", () => {
  it("parse as nanoseconds, pass at or below the measured value, fail above it", () => {
    const scenario = withExpect([
      { workload: "wget", p99AtLeast: "1ns", maxAtLeast: "1ns" },
      { workload: "wget", p99AtLeast: "1h" },
      { workload: "wget", maxAtLeast: "1h" },
    ])
    expect(scenario.expectations.map((e) => [e.condition, e.value])).toEqual([
      ["p99AtLeast", 1],
      ["maxAtLeast", 1],
      ["p99AtLeast", 3_600_000_000_000],
      ["maxAtLeast", 3_600_000_000_000],
    ])
    const doc = runScenario(scenario.spec, { seed: scenario.spec.seed })
    const w = doc.workloads["wget"]!
    expect(w.latencyNs.max).toBeGreaterThan(0)
    const failures = checkExpectations(scenario.expectations, doc, scenario.spec.kubeProxy.mode)
    expect(failures.map((f) => f.expectation.text)).toEqual(["p99AtLeast: 1h", "maxAtLeast: 1h"])
    expect(failures[1]!.message).toMatch(/^wget: expected maxAtLeast: 1h, got [0-9.]+(ms|us|s)$/)
    // Exactly the measured value holds (>=).
    const exact = withExpect([{ workload: "wget", maxAtLeast: `${w.latencyNs.max}ns` }])
    expect(checkExpectations(exact.expectations, doc, exact.spec.kubeProxy.mode)).toEqual([])
  })
})
