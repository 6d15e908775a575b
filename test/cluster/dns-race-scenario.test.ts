/**
 * Goal: scenarios/dns-conntrack-race.yaml shows the "5-second DNS timeouts" of dns.md §4 (glibc's
 * A + AAAA from one socket racing at conntrack confirm on a kernel without the clash fixes), and
 * each known cure removes them.
 * Method: the scenario runs in process under 5 seeds as shipped (its expectations hold, a request
 * takes >= 5 s, insert_failed > 0) and in four variants derived by editing its text: dnsConfig
 * `single-request-reopen` (A and AAAA from separate sockets, glibc res_send.c), `use-vc` (TCP),
 * NodeLocal DNSCache (node-cache NOTRACKs the kube-dns VIP), `raceFix: clash-insert` (6a757c07e51f).
 * With each cure no request takes >= 5 s and insert_failed is 0.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseDocument } from "yaml"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { checkExpectations } from "../../src/scenario/expect.ts"
import { decodeScenarioText, type LoadedScenario } from "../../src/scenario/load.ts"
import { extensive } from "../tier.ts"
import { ROOT } from "./helpers.ts"

const PATH = join(ROOT, "scenarios", "dns-conntrack-race.yaml")
const TEXT = readFileSync(PATH, "utf8")
// Each seed is a full run: the quick tier takes two (runtime.test.ts also runs the file as shipped).
const SEEDS = extensive ? [1, 2, 3, 4, 5] : [1, 2]
const FIVE_S_NS = 5_000_000_000

function load(text: string): LoadedScenario {
  const loaded = decodeScenarioText(PATH, text)
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n"))
  return loaded.scenario
}

/** The client Deployment's pod template spec gets `dnsConfig.options: [{ name: option }]`. */
function withResolverOption(option: string): string {
  const doc = parseDocument(TEXT)
  const objects = doc.getIn(["manifests", 0, "inline"]) as { items: unknown[] }
  const index = objects.items.findIndex(
    (_, i) => doc.getIn(["manifests", 0, "inline", i, "metadata", "name"]) === "client",
  )
  expect(index).toBeGreaterThanOrEqual(0)
  doc.setIn(
    ["manifests", 0, "inline", index, "spec", "template", "spec", "dnsConfig"],
    doc.createNode({ options: [{ name: option }] }),
  )
  return doc.toString()
}

function edited(path: readonly (string | number)[], value: unknown): string {
  const doc = parseDocument(TEXT)
  doc.setIn(path, doc.createNode(value))
  return doc.toString()
}

interface Outcome {
  readonly maxNs: number
  readonly insertFailed: number
  readonly failed: number
  readonly completed: number
}

function run(scenario: LoadedScenario, seed: number): Outcome {
  const doc = runScenario(scenario.spec, { seed })
  const w = doc.workloads["lookups"]!
  return {
    maxNs: w.latencyNs.max,
    insertFailed: doc.conntrack.insertFailed,
    failed: w.requests.failed,
    completed: w.requests.completed,
  }
}

describe("dns-conntrack-race scenario", () => {
  it(`as shipped: >= 5 s requests and insert_failed > 0 under ${SEEDS.length} seeds; its expectations hold`, () => {
    const scenario = load(TEXT)
    for (const seed of SEEDS) {
      const doc = runScenario(scenario.spec, { seed })
      const failures = checkExpectations(scenario.expectations, doc, scenario.spec.kubeProxy.mode)
      expect(
        failures.map((f) => f.message),
        `seed ${seed}`,
      ).toEqual([])
      expect(doc.workloads["lookups"]!.latencyNs.max, `seed ${seed}`).toBeGreaterThanOrEqual(FIVE_S_NS)
      expect(doc.conntrack.insertFailed, `seed ${seed}`).toBeGreaterThan(0)
    }
  })

  const cures: [string, () => string][] = [
    ["dnsConfig single-request-reopen", () => withResolverOption("single-request-reopen")],
    ["dnsConfig use-vc", () => withResolverOption("use-vc")],
    ["NodeLocal DNSCache", () => edited(["dns", "nodeLocal"], { enabled: true })],
    ["raceFix clash-insert", () => edited(["cluster", "conntrack", "raceFix"], "clash-insert")],
  ]
  for (const [name, text] of cures) {
    it(`cure ${name}: no request >= 5 s, insert_failed 0 under ${SEEDS.length} seeds`, () => {
      const scenario = load(text())
      for (const seed of SEEDS) {
        const outcome = run(scenario, seed)
        expect(outcome.maxNs, `seed ${seed}`).toBeLessThan(FIVE_S_NS)
        expect(outcome.insertFailed, `seed ${seed}`).toBe(0)
        expect(outcome.failed, `seed ${seed}`).toBe(0)
        expect(outcome.completed, `seed ${seed}`).toBe(300)
      }
    })
  }
})
