/**
 * `kube-netsim compare` in-process with the real runtime on a small scenario: the table's rows and
 * one column per mode, the compare document's shape, determinism (same seed -> same bytes), --runs
 * as mean ± spread, the `modes:` filter of expectations, and --modes checked against the registry
 * of simulated modes (cluster/proxy-backends.ts): a mode without a backend is refused with exit 2.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { runCli, type CliIo } from "../../src/cli/app.ts"
import { parseCompareModes } from "../../src/cli/commands.ts"
import { PROXY_BACKENDS, simulatedProxyModes, type ProxyMode } from "../../src/cluster/proxy-backends.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"

const SCENARIO = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: compare-small }
seed: 3
duration: 3s
cluster: { nodes: { count: 2 }, systemServices: false }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 3
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: example/web, ports: [ { containerPort: 8080 } ] } ] }
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { containers: [ { name: c, image: busybox } ] } }
workloads:
  - { name: get, from: pod/client, to: "http://web/", arrival: { every: 10ms }, count: 60 }
expect:
  - { workload: get, completedAtLeast: 60 }
  - { workload: get, modes: [iptables], endpointsAtLeast: 2 }
`

const ALL_MODES: readonly ProxyMode[] = ["iptables", "ipvs", "nftables", "userspace"]

function capture(files: Record<string, string>): { io: CliIo; out: () => string; err: () => string } {
  let out = ""
  let err = ""
  return {
    io: {
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      stderrIsTTY: false,
      env: {},
      readFile: (path) => files[path] ?? readFileSync(path, "utf8"),
      writeFile: () => undefined,
      mkdir: () => undefined,
      // A fixed clock: the `wall` section of each document is then reproducible too.
      wallClockMs: () => 0,
    },
    out: () => out,
    err: () => err,
  }
}

interface CompareJson {
  compareVersion: number
  scenario: string
  seed: number
  runs: number
  modes: { mode: string; results: ResultsDocument[] }[]
}

describe("compare", () => {
  it("prints one table with a column per simulated mode and every section", async () => {
    const c = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml"], c.io)).toBe(0)
    const text = c.out()
    const modes = simulatedProxyModes()
    expect(text.split("\n")[0]).toBe(`scenario compare-small  seed 3  modes ${modes.join(", ")}`)
    for (const heading of ["workload get", "kernel", "kube-proxy syncs", "drops"]) {
      const line = text.split("\n").find((l) => l.startsWith(heading))
      expect(line, heading).toBeDefined()
      // The section header names every mode, in order.
      expect((line as string).split(/\s+/).slice(heading.split(" ").length)).toEqual(modes)
    }
    for (const row of [
      "latency p50",
      "latency p90",
      "latency p99",
      "latency p99.9",
      "fairness Jain",
      "chi-square p",
      "conntrack peak entries",
      "duration p50",
      "duration max",
      "lag max",
      "kernel objects node-1",
    ])
      expect(text).toMatch(new RegExp(`^${row.replace(/\./g, "\\.")}\\s`, "m"))
    // One row per endpoint (3 replicas), each a share in percent.
    // One share per simulated mode on each row.
    expect(text.match(/^ {2}web-[a-z0-9]+-[a-z0-9]+(\s+\d+\.\d%)+$/gm)?.length).toBe(3)
  })

  it("--json: the compare document, one results document per mode and run; same seed -> same bytes", async () => {
    const a = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--json", "--seed", "5"], a.io)).toBe(0)
    const doc = JSON.parse(a.out()) as CompareJson
    expect(Object.keys(doc)).toEqual(["compareVersion", "scenario", "seed", "runs", "modes"])
    expect(doc.compareVersion).toBe(1)
    expect(doc.scenario).toBe("compare-small")
    expect(doc.seed).toBe(5)
    expect(doc.runs).toBe(1)
    expect(doc.modes.map((m) => m.mode)).toEqual(simulatedProxyModes())
    for (const m of doc.modes) {
      expect(m.results).toHaveLength(1)
      expect(m.results[0].schemaVersion).toBe(1)
      expect(m.results[0].seed).toBe(5)
      expect(m.results[0].workloads.get.requests.completed).toBe(60)
    }
    const b = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--json", "--seed", "5"], b.io)).toBe(0)
    expect(b.out()).toBe(a.out())
    const t1 = capture({ "s.yaml": SCENARIO })
    const t2 = capture({ "s.yaml": SCENARIO })
    await runCli(["compare", "s.yaml", "--seed", "5"], t1.io)
    await runCli(["compare", "s.yaml", "--seed", "5"], t2.io)
    expect(t1.out()).toBe(t2.out())
    // Another seed is another run (its fingerprint differs).
    const other = capture({ "s.yaml": SCENARIO })
    await runCli(["compare", "s.yaml", "--json", "--seed", "6"], other.io)
    const otherDoc = JSON.parse(other.out()) as CompareJson
    expect(otherDoc.modes[0].results[0].fingerprint).not.toBe(doc.modes[0].results[0].fingerprint)
  })

  it("a mode's results document is the one `run --json` prints for that mode and seed; help lists compare", async () => {
    const c = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--json", "--modes", "iptables"], c.io)).toBe(0)
    const r = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["run", "s.yaml", "--json"], r.io)).toBe(0)
    expect((JSON.parse(c.out()) as CompareJson).modes[0].results[0]).toEqual(JSON.parse(r.out()))
    const h = capture({})
    expect(await runCli(["--help"], h.io)).toBe(0)
    expect(h.out()).toContain("compare")
    const hc = capture({})
    expect(await runCli(["compare", "--help"], hc.io)).toBe(0)
    expect(hc.out()).toContain("--modes")
  })

  it("--runs 2: seeds seed..seed+1 per mode, cells as mean ± spread", async () => {
    const c = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--runs", "2", "--json"], c.io)).toBe(0)
    const doc = JSON.parse(c.out()) as CompareJson
    expect(doc.runs).toBe(2)
    for (const m of doc.modes) expect(m.results.map((r) => r.seed)).toEqual([3, 4])
    const t = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--runs", "2"], t.io)).toBe(0)
    expect(t.out().split("\n")[0]).toContain("seeds 3..4 (mean ± 95% CI half-width)")
    expect(t.out()).toMatch(/^latency p50(\s+\S+ ± \S+)+$/m)
    // Pod names differ between seeds: endpoints are ranked by share in each run.
    expect(t.out()).toMatch(/^ {2}endpoint #1 by share(\s+\d+\.\d% ± \d+\.\d%)+$/m)
    expect(t.out()).not.toMatch(/^ {2}endpoint #4 by share/m)
  })

  it("--modes: names checked against the registry of simulated modes; others exit 2 with a clear message", async () => {
    expect(parseCompareModes(undefined)).toEqual(simulatedProxyModes())
    for (const mode of ALL_MODES) {
      const parsed = parseCompareModes(mode)
      if (PROXY_BACKENDS[mode] !== undefined) expect(parsed).toEqual([mode])
      else
        expect(parsed).toBe(
          `kube-proxy mode ${mode} is not simulated yet (simulated: ${simulatedProxyModes().join(", ")})`,
        )
    }
    expect(parseCompareModes("iptables,iptables")).toBe("mode iptables given twice")
    expect(parseCompareModes("iptables,")).toContain("empty mode name")
    expect(parseCompareModes("ebpf")).toBe(
      'unknown kube-proxy mode "ebpf" (modes: iptables, ipvs, nftables, userspace)',
    )

    const bad = capture({ "s.yaml": SCENARIO })
    expect(await runCli(["compare", "s.yaml", "--modes", "iptables,ebpf"], bad.io)).toBe(2)
    expect(bad.err()).toBe(
      'kube-netsim compare: --modes: unknown kube-proxy mode "ebpf" (modes: iptables, ipvs, nftables, userspace)\n',
    )
    expect(bad.out()).toBe("")
    const missing = ALL_MODES.find((mode) => PROXY_BACKENDS[mode] === undefined)
    if (missing !== undefined) {
      const c = capture({ "s.yaml": SCENARIO })
      expect(await runCli(["compare", "s.yaml", "--modes", `iptables,${missing}`], c.io)).toBe(2)
      expect(c.err()).toContain(`kube-proxy mode ${missing} is not simulated yet`)
    }
  })

  it("expectations with a modes: filter are checked only for those modes; a failure exits 1 naming the mode", async () => {
    const failing = SCENARIO.replace("endpointsAtLeast: 2", "endpointsAtLeast: 4")
    const c = capture({ "s.yaml": failing })
    expect(await runCli(["compare", "s.yaml", "--modes", "iptables"], c.io)).toBe(1)
    expect(c.err()).toMatch(
      /^s\.yaml:\d+:\d+: expectation failed \(mode iptables\): get: expected endpointsAtLeast: 4, got 3\n$/,
    )
    // The same expectation for another mode only: not checked in an iptables run.
    const other = capture({ "s.yaml": failing.replace("modes: [iptables]", "modes: [ipvs, nftables]") })
    expect(await runCli(["compare", "s.yaml", "--modes", "iptables"], other.io)).toBe(0)
    const run = capture({ "s.yaml": failing.replace("modes: [iptables]", "modes: [ipvs, nftables]") })
    expect(await runCli(["run", "s.yaml", "--quiet"], run.io)).toBe(0)
  })

  it("modes: must list known modes, without duplicates", async () => {
    const c = capture({ "s.yaml": SCENARIO.replace("modes: [iptables]", "modes: [iptables, iptables, bpf]") })
    expect(await runCli(["validate", "s.yaml"], c.io)).toBe(2)
    expect(c.err()).toContain("modes")
    const d = capture({ "s.yaml": SCENARIO.replace("modes: [iptables]", "modes: [iptables, iptables]") })
    expect(await runCli(["validate", "s.yaml"], d.io)).toBe(2)
    expect(d.err()).toContain('duplicate mode "iptables"')
  })
})
