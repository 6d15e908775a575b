/**
 * `kube-netsim check` end to end with the real simulator: iptables-uniform holds on a small
 * budget; keepalive-after-scale fails, and the counterexample it writes runs standalone with
 * `kube-netsim run` and reproduces the failure (same fingerprint, exit 1). The quick tier uses a
 * couple of cases (and single-point ranges for the failing property); the extensive tier runs
 * every shipped property at its own budget and checks where each one shrinks to.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, type CliIo } from "../../src/cli/app.ts"
import type { CheckReport } from "../../src/check/check.ts"
import { extensive } from "../tier.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const PROPERTIES = join(ROOT, "properties")

function capture(extraFiles: Record<string, string> = {}) {
  let out = ""
  let err = ""
  const files = new Map<string, string>()
  const io: CliIo = {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    stderrIsTTY: false,
    env: {},
    readFile: (path) => files.get(path) ?? extraFiles[path] ?? readFileSync(path, "utf8"),
    writeFile: (path, text) => void files.set(path, text),
    mkdir: () => undefined,
    wallClockMs: () => 0,
  }
  return { io, out: () => out, err: () => err, files }
}

/** keepalive-after-scale with every range narrowed to its smallest point: one failing case. */
const KEEPALIVE_SMALL = `apiVersion: kube-netsim/v1
kind: Property
metadata: { name: keepalive-small }
scenario: base/keepalive-scale.yaml
runs: 3
vary:
  - { name: before, path: "manifests[Deployment/web].spec.replicas", int: { min: 1, max: 1 } }
  - { name: after, path: "timeline[0].replicas", int: { min: 1, max: 1 }, plus: before }
  - { name: clients, path: "manifests[Deployment/client].spec.replicas", int: { min: 1, max: 1 } }
  - { name: connection, path: "workloads[requests].connection", oneOf: [keepAlive] }
holds:
  - { workload: requests, endpointsAtLeast: { var: after } }
`

describe("kube-netsim check", () => {
  it("iptables-uniform holds on a small budget", async () => {
    const c = capture()
    const code = await runCli(["check", join(PROPERTIES, "iptables-uniform.yaml"), "--runs", "2"], c.io)
    expect(c.err()).toBe("")
    expect(code).toBe(0)
    expect(c.out()).toContain("cases       2 of 2 run, 0 failed  (fast-check seed 1; 2 simulations in all)")
    expect(c.out()).toContain("Bonferroni over 2 planned cases")
    expect(c.out()).toContain("OK: the property held on all 2 cases")
  })

  it("keepalive-after-scale fails; the counterexample runs standalone and reproduces", async () => {
    const file = join(PROPERTIES, "keepalive-small.yaml")
    const c = capture({ [file]: KEEPALIVE_SMALL })
    expect(await runCli(["check", file, "--out", "/virtual/out"], c.io)).toBe(1)
    const report = JSON.parse(c.files.get("/virtual/out/check.json") ?? "null") as CheckReport
    expect(report.holds).toBe(false)
    expect(report.casesRun).toBe(1)
    expect(report.counterexample?.values).toEqual({ before: 1, after: 2, clients: 1, connection: "keepAlive" })
    expect(report.counterexample?.failures).toEqual(["requests: expected endpointsAtLeast: 2 (= after), got 1"])
    expect(c.out()).toContain("written to /virtual/out/counterexample.yaml")

    // The counterexample: standalone (manifests inlined), the property as expect:, the seed set.
    const text = c.files.get("/virtual/out/counterexample.yaml") ?? ""
    expect(text).not.toContain("path:")
    expect(text).toContain("kind: Scenario")
    const run = capture()
    run.files.set("/elsewhere/ce.yaml", text)
    expect(await runCli(["run", "/elsewhere/ce.yaml", "--json"], run.io)).toBe(1)
    const doc = JSON.parse(run.out()) as { fingerprint: string; workloads: Record<string, any> }
    expect(doc.fingerprint).toBe(report.counterexample?.fingerprint)
    const byEndpoint = Object.values(doc.workloads.requests.distribution.byEndpoint as Record<string, number>)
    expect(byEndpoint.sort((a, b) => a - b)[0]).toBe(0) // the new pod got nothing
    expect(run.err()).toContain("expectation failed: requests: expected endpointsAtLeast: 2, got 1")
  })

  it.runIf(extensive)(
    "every shipped property: holds or shrinks to its documented smallest case, and reproduces",
    async () => {
      const expected: Record<string, Record<string, unknown> | null> = {
        "iptables-uniform.yaml": null,
        "keepalive-after-scale.yaml": { before: 1, after: 2, clients: 1, connection: "keepAlive" },
        "affinity-few-clients.yaml": { replicas: 2, clients: 1, affinity: "ClientIP" },
        "ipvs-rr-per-node.yaml": { clients: 2, count: 1 },
      }
      for (const [name, smallest] of Object.entries(expected)) {
        const c = capture()
        const code = await runCli(["check", join(PROPERTIES, name), "--out", "/virtual/out"], c.io)
        const report = JSON.parse(c.files.get("/virtual/out/check.json") ?? "null") as CheckReport
        if (smallest === null) {
          expect(code, `${name}: ${c.out()}`).toBe(0)
          expect(report.casesRun).toBe(report.plannedRuns)
          continue
        }
        expect(code, `${name}: ${c.out()}`).toBe(1)
        expect(report.counterexample?.values).toMatchObject(smallest)
        expect(report.shrinkPath.length).toBeGreaterThanOrEqual(1)
        const run = capture()
        run.files.set("/elsewhere/ce.yaml", c.files.get("/virtual/out/counterexample.yaml") ?? "")
        await runCli(["run", "/elsewhere/ce.yaml", "--json"], run.io)
        expect(JSON.parse(run.out()).fingerprint).toBe(report.counterexample?.fingerprint)
      }
    },
    600_000,
  )
})
