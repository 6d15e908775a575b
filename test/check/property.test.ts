/**
 * Property files (src/check/property.ts): decoding errors with file:line:column and field path,
 * path resolution into the base scenario and its manifests, and generated scenarios the loader
 * refuses reported with the variable and value. No simulation here (fast).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, type CliIo, type Runtime } from "../../src/cli/app.ts"
import { decodePropertyText, type Property } from "../../src/check/property.ts"
import { formatIssue } from "../../src/scenario/issues.ts"
import { InvalidCase, decodeCase, durationText, instantiate, writtenValues } from "../../src/check/generate.ts"
import { checkHolds, perCaseAlpha } from "../../src/check/conditions.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { ScenarioIssues } from "../../src/cluster/spec.ts"

const ROOT = join(import.meta.dirname, "..", "..")
const FILE = join(ROOT, "properties", "test.yaml")

function decode(text: string): { ok: true; property: Property } | { ok: false; lines: string[] } {
  const result = decodePropertyText(FILE, text)
  return result.ok ? result : { ok: false, lines: result.issues.map(formatIssue) }
}

const HEADER = `apiVersion: kube-netsim/v1
kind: Property
metadata: { name: t }
scenario: base/keepalive-scale.yaml
`

function ok(text: string): Property {
  const result = decode(text)
  if (!result.ok) throw new Error(result.lines.join("\n"))
  return result.property
}

describe("property files: decoding errors", () => {
  it("reports schema errors with file:line:column and the field path", () => {
    const result = decode(`${HEADER}vary:
  - { name: r, path: "manifests[Deployment/web].spec.replicas", int: { min: 5, max: 2 } }
  - { name: x, path: seed, int: { min: 1, max: 2 }, oneOf: [a] }
holds:
  - { workload: requests, endpointsAtLeast: 2, bogus: 1 }
`)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.lines).toEqual([
      `${FILE}:6:70: vary[0].int: min (5) must not be greater than max (2)`,
      `${FILE}:7:5: vary[1]: expected only one of int, oneOf, subset, duration, got int and oneOf`,
      `${FILE}:9:48: holds[0].bogus: unknown field`,
    ])
  })

  it("reports paths that match nothing in the base scenario, naming what exists", () => {
    const result = decode(`${HEADER}vary:
  - { name: a, path: "manifests[Deployment/nope].spec.replicas", int: { min: 1, max: 2 } }
  - { name: b, path: "workloads[nope].count", int: { min: 1, max: 2 } }
  - { name: c, path: "timeline[3].replicas", int: { min: 1, max: 2 } }
  - { name: d, path: "manifests[web]", int: { min: 1, max: 2 } }
holds:
  - { workload: missing, endpointsAtLeast: { var: zz } }
`)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.lines).toEqual([
      `${FILE}:6:22: vary[0].path: manifests[Deployment/nope]: no Deployment named nope in the base scenario's manifests (found: Deployment/web, Deployment/client, Service/web)`,
      `${FILE}:7:22: vary[1].path: no element named nope in workloads (names: requests)`,
      `${FILE}:8:22: vary[2].path: timeline has 1 elements, no [3]`,
      `${FILE}:9:22: vary[3].path: manifests[web]: select a manifest as Kind/name (e.g. manifests[Deployment/web]) or by index`,
      `${FILE}:11:17: holds[0].workload: no workload missing in the base scenario (workloads: requests)`,
      `${FILE}:11:44: holds[0].endpointsAtLeast: no variable zz (variables: a, b, c, d)`,
    ])
  })

  it("checks bounds by condition and plus: references", () => {
    const result = decode(`${HEADER}vary:
  - { name: d, path: duration, duration: { min: 1s, max: 2s } }
  - { name: n, path: "timeline[0].replicas", int: { min: 1, max: 2 }, plus: d }
holds:
  - { workload: requests, jainAtLeast: 1.5, p99Below: 5, endpointsAtLeast: { var: d }, maxOverMeanAtMost: 0.5 }
`)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.lines).toEqual([
      `${FILE}:7:77: vary[1].plus: plus: must name an int variable declared before this one, got d`,
      `${FILE}:9:40: holds[0].jainAtLeast: must be between 0 and 1, got 1.5`,
      `${FILE}:9:55: holds[0].p99Below: a duration needs a unit, e.g. 5ms`,
      `${FILE}:9:76: holds[0].endpointsAtLeast: endpointsAtLeast needs an int variable; d is duration`,
      `${FILE}:9:107: holds[0].maxOverMeanAtMost: must be at least 1 (max/mean is never below 1), got 0.5`,
    ])
  })

  it("reports a missing base scenario and a missing holds:", () => {
    const result = decode(`apiVersion: kube-netsim/v1
kind: Property
metadata: { name: t }
scenario: base/none.yaml
vary: []
`)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.lines).toEqual([
      `${FILE}:1:1: holds: missing required field (the conditions to check)`,
      `${FILE}:4:11: scenario: cannot read base scenario ${join(ROOT, "properties", "base", "none.yaml")}: no such file`,
    ])
    const noHolds = decode(`${HEADER}vary: []\n`)
    expect(noHolds.ok).toBe(false)
    if (!noHolds.ok)
      expect(noHolds.lines).toEqual([`${FILE}:1:1: holds: missing required field (the conditions to check)`])
  })

  it("exits 2 from the CLI with every issue printed", async () => {
    let err = ""
    const io: CliIo = {
      stdout: () => undefined,
      stderr: (text) => void (err += text),
      stderrIsTTY: false,
      env: {},
      readFile: (path) =>
        path === FILE
          ? `${HEADER}vary: [ { name: 1x, int: { min: 0, max: 1 } } ]\nholds: []\n`
          : readFileSync(path, "utf8"),
      writeFile: () => undefined,
      mkdir: () => undefined,
      wallClockMs: () => 0,
    }
    const runtime = {} as Runtime
    expect(await runCli(["check", FILE], io, runtime)).toBe(2)
    expect(err).toBe(
      `${FILE}:5:17: vary[0].name: invalid variable name "1x": a letter, then letters, digits, "_" or "-" (at most 63)\n1 error\n`,
    )
  })
})

describe("property files: generated scenarios", () => {
  const property = ok(`${HEADER}vary:
  - { name: before, path: "manifests[Deployment/web].spec.replicas", int: { min: 1, max: 3 } }
  - { name: after, path: "timeline[0].replicas", int: { min: 1, max: 2 }, plus: before }
  - { name: connection, path: "workloads[requests].connection", oneOf: [new, keepAlive] }
  - { name: wait, path: "workloads[requests].start", duration: { min: 0s, max: 1500ms, step: 500ms } }
  - { name: proxy, path: kubeProxy.mode, oneOf: [iptables, ipvs] }
holds:
  - { workload: requests, endpointsAtLeast: { var: after }, chiSquarePAtLeast: 0.01 }
`)

  it("writes each value at its path in the inlined base (plus: added, durations as text)", () => {
    const values = { before: 2, after: 1, connection: "keepAlive", wait: 1_500_000_000, proxy: "ipvs" }
    expect(writtenValues(property, values)).toEqual({ ...values, after: 3, wait: "1500ms" })
    const tree = instantiate(property, values) as Record<string, any>
    expect(tree.manifests[0].inline[0].spec.replicas).toBe(2)
    expect(tree.timeline[0].replicas).toBe(3)
    expect(tree.workloads[0]).toMatchObject({ connection: "keepAlive", start: "1500ms" })
    expect(tree.kubeProxy.mode).toBe("ipvs")
    const { loaded } = decodeCase(property, values)
    expect(loaded.spec.kubeProxy.mode).toBe("ipvs")
    expect(loaded.spec.workloads[0].startNs).toBe(1_500_000_000)
    expect(durationText(250_000)).toBe("250us")
  })

  it("inlines manifest files so a generated scenario stands alone", () => {
    const p = ok(`apiVersion: kube-netsim/v1
kind: Property
metadata: { name: t }
scenario: ../scenarios/seed-001-http-go-scale.yaml
vary: [ { name: r, path: "manifests[Deployment/http-go].spec.replicas", int: { min: 1, max: 2 } } ]
holds: [ { workload: wget, failedAtMost: 0 } ]
`)
    const tree = instantiate(p, { r: 2 }) as Record<string, any>
    expect(tree.manifests.every((m: Record<string, unknown>) => "inline" in m && !("path" in m))).toBe(true)
    expect(tree.expect).toBeUndefined()
  })

  it("names the variable and value of a generated scenario the loader refuses", () => {
    const p = ok(`${HEADER}vary:
  - { name: reuse, path: "workloads[requests].connection", oneOf: [new, sometimes] }
holds: [ { workload: requests, failedAtMost: 0 } ]
`)
    expect(() => decodeCase(p, { reuse: "new" })).not.toThrow()
    let error: unknown
    try {
      decodeCase(p, { reuse: "sometimes" })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidCase)
    const invalid = error as InvalidCase
    expect(invalid.culprits).toEqual(["reuse"])
    expect(invalid.values).toEqual({ reuse: "sometimes" })
    expect(invalid.issues.map((i) => i.path.join("."))).toEqual(["workloads.0.connection"])
  })

  it("check exits 2 naming the vary entry, variable and value when a range generates an invalid scenario", async () => {
    let out = ""
    let err = ""
    const io: CliIo = {
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      stderrIsTTY: false,
      env: {},
      readFile: (path) =>
        path === FILE
          ? `${HEADER}vary:\n  - { name: replicas, path: "manifests[Deployment/web].spec.replicas", int: { min: -3, max: -1 } }\nholds: [ { workload: requests, failedAtMost: 0 } ]\n`
          : readFileSync(path, "utf8"),
      writeFile: () => undefined,
      mkdir: () => undefined,
      wallClockMs: () => 0,
    }
    const runtime = {
      runScenario: () => {
        throw new Error("no case is valid, so none is simulated")
      },
    } as unknown as Runtime
    expect(await runCli(["check", FILE], io, runtime)).toBe(2)
    expect(out).toContain("INVALID: the values replicas=-2 generate an invalid scenario (from replicas):")
    expect(err).toBe(
      `${FILE}:6:5: vary[0]: replicas = -2 generates an invalid scenario: manifests[0].inline[0].spec.replicas: must not be negative; timeline[0].scale: no Deployment \"web\" in namespace \"default\"\n`,
    )
  })

  it("check exits 2 for an input error found while running a case, 3 for a runtime bug (never shrinking it)", async () => {
    const property = `${HEADER}vary:\n  - { name: clients, path: "manifests[Deployment/client].spec.replicas", int: { min: 1, max: 3 } }\nholds: [ { workload: requests, failedAtMost: 0 } ]\n`
    const run = async (runScenario: () => never) => {
      let out = ""
      let err = ""
      let calls = 0
      const io: CliIo = {
        stdout: (text) => void (out += text),
        stderr: (text) => void (err += text),
        stderrIsTTY: false,
        env: {},
        readFile: (path) => (path === FILE ? property : readFileSync(path, "utf8")),
        writeFile: () => undefined,
        mkdir: () => undefined,
        wallClockMs: () => 0,
      }
      const runtime = {
        runScenario: () => {
          calls++
          return runScenario()
        },
      } as unknown as Runtime
      const code = await runCli(["check", FILE], io, runtime)
      return { code, out, err, calls }
    }
    const limit = await run(() => {
      throw new ScenarioIssues([{ severity: "error", path: ["limits", "pods"], message: "pod limit reached" }])
    })
    expect(limit.code).toBe(2)
    expect(limit.calls).toBe(1)
    expect(limit.out).toContain("generate an invalid scenario:\n  limits.pods: pod limit reached")
    const bug = await run(() => {
      throw new Error("boom")
    })
    expect(bug.code).toBe(3)
    expect(bug.calls).toBe(1)
    expect(bug.err).toContain("kube-netsim: internal error: boom")
  })

  it("applies the Bonferroni correction to chiSquarePAtLeast over the planned cases", () => {
    expect(perCaseAlpha(property, 0.01, 20)).toBeCloseTo(0.0005, 12)
    const doc = {
      workloads: {
        requests: {
          requests: { sent: 10, completed: 10, failed: 0, failedByReason: {} },
          distribution: { byEndpoint: { a: 5, b: 5, c: 0 }, jain: 0.66, maxOverMean: 1.5, cv: 0.7, chiSquareP: 0.001 },
        },
      },
    } as unknown as ResultsDocument
    const values = { before: 1, after: 1, connection: "new", wait: 0, proxy: "iptables" }
    // p = 0.001 >= 0.01/20: holds over 20 planned cases; < 0.01/5: fails over 5. Endpoints 2 >= after (2).
    expect(checkHolds(property, values, doc, "iptables", 20)).toEqual([])
    expect(checkHolds(property, values, doc, "iptables", 5).map((f) => f.message)).toEqual([
      "requests: expected chiSquarePAtLeast: 0.01 (Bonferroni: p >= 0.002 per case), got p = 0.001",
    ])
    expect(checkHolds(property, { ...values, after: 2 }, doc, "iptables", 20).map((f) => f.message)).toEqual([
      "requests: expected endpointsAtLeast: 3 (= after), got 2",
    ])
  })
})
