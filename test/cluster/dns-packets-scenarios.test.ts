/**
 * Goal: every shipped scenario keeps its expectations with `dns.mode: packets` (names resolved by
 * stub resolvers against CoreDNS pods per new connection instead of the static table).
 * Method: each scenarios/*.yaml is loaded with dns.mode set to packets, run in process, and its
 * `expect:` list checked. capacity-10m-replicas and sync-at-scale run in the extensive tier only
 * (slow to build). Differences from dns.mode static are listed in MODEL.md "DNS clients".
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parseDocument } from "yaml"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { checkExpectations } from "../../src/scenario/expect.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { extensive } from "../tier.ts"
import { ROOT } from "./helpers.ts"

const SLOW = new Set(["capacity-10m-replicas.yaml", "sync-at-scale.yaml", "coredns-saturation.yaml"])

function withPackets(text: string): string {
  const doc = parseDocument(text)
  if (doc.get("dns") === undefined) doc.set("dns", doc.createNode({}))
  doc.setIn(["dns", "mode"], "packets")
  return doc.toString()
}

const files = readdirSync(join(ROOT, "scenarios")).filter((f) => f.endsWith(".yaml"))

describe("shipped scenarios under dns.mode: packets", () => {
  it("every shipped scenario is covered", () => {
    expect(files.length).toBeGreaterThanOrEqual(10)
  })
  for (const file of files) {
    // Since packets became the default, runtime.test.ts "scenarios" runs every shipped scenario this
    // way in the quick tier; this sweep, which also forces packets on scenarios that set static,
    // keeps only one representative there and runs in full in the extensive tier.
    it.skipIf((SLOW.has(file) || file !== "dns-ndots.yaml") && !extensive)(`${file}: expectations hold`, () => {
      const path = join(ROOT, "scenarios", file)
      const loaded = decodeScenarioText(path, withPackets(readFileSync(path, "utf8")))
      if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"))
      const scenario = loaded.scenario
      expect(scenario.spec.dns.mode).toBe("packets")
      const doc = runScenario(scenario.spec, { seed: scenario.spec.seed })
      const failures = checkExpectations(scenario.expectations, doc, scenario.spec.kubeProxy.mode).map((f) => f.message)
      expect(failures).toEqual([])
      expect(doc.dns.lookups, "the dns section is filled").toBeDefined()
    })
  }
})
