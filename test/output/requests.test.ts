/**
 * Per-request records (`run --requests`, docs/outputs.md): one JSON line per request the document
 * counts as sent (completed, failed, unresolved before any client existed, still in flight at the
 * end), agreeing with the document's counts, streamed through the sink, leaving the run unchanged.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { processIo, runCli } from "../../src/cli/app.ts"
import { runScenario } from "../../src/cluster/index.ts"
import type { RequestRecord } from "../../src/stats/requests.ts"
import { cli, specFromText } from "../cluster/helpers.ts"
import { smallScenario } from "./small-scenario.ts"

/** Requests that fail in each way the records must cover, and some still in flight at the end. */
const FAILURES = `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: records-failures }
seed: 5
duration: 3s
cluster: { nodes: { count: 2 } }
dns: { mode: static }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 2
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: kube-netsim/http-go, ports: [ { containerPort: 8080 } ] } ] }
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] } }
      - apiVersion: v1
        kind: Service
        metadata: { name: closed }
        spec:
          selector: { app: web }
          ports: [ { name: tcp, port: 80, targetPort: 9999 }, { name: udp, protocol: UDP, port: 53, targetPort: 9999 } ]
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { containers: [ { name: c, image: busybox } ] } }
workloads:
  - { name: ok, from: pod/client, to: "http://web/", arrival: { every: 20ms }, count: 10 }
  - { name: refused, from: pod/client, to: "http://closed/", arrival: { every: 20ms }, count: 10 }
  - { name: nowhere, from: pod/client, to: "http://no-such-service/", arrival: { every: 20ms }, count: 4 }
  - { name: late, from: pod/client, to: "udp://closed:53", arrival: { every: 20ms }, count: 3, timeout: 60s }
`

describe("per-request records", () => {
  it("one line per request, matching the document's counts, endpoints and latency bounds", () => {
    const spec = specFromText(smallScenario())
    const chunks: string[] = []
    const doc = runScenario(spec, { seed: 5, requestSink: { write: (text) => void chunks.push(text) } })
    const plain = runScenario(spec, { seed: 5 })
    expect(doc.fingerprint).toBe(plain.fingerprint)
    const records = chunks
      .join("")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as RequestRecord)
    const w = doc.workloads.get
    expect(records.length).toBe(w.requests.completed + w.requests.failed)
    const byEndpoint: Record<string, number> = {}
    for (const r of records) {
      expect(r.workload).toBe("get")
      expect(r.client).toBe("client")
      expect(r.latencyNs).toBe((r.endNs as number) - r.startNs)
      expect(r.latencyNs).toBeLessThanOrEqual(w.latencyNs.max)
      expect(r.latencyNs).toBeGreaterThanOrEqual(w.latencyNs.min)
      // The Service's ClusterIP (the scenario's serviceCIDR is the default 10.96.0.0/12), not a pod address.
      expect(r.resolvedAddress).toBe(records[0].resolvedAddress)
      expect(r.resolvedAddress).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./)
      expect(r.outcome).toBe("completed")
      expect(r.nodePath[0]).toBe(r.clientNode)
      expect(r.nodePath[r.nodePath.length - 1]).toBe(r.endpointNode)
      byEndpoint[r.endpoint as string] = (byEndpoint[r.endpoint as string] ?? 0) + 1
    }
    expect(byEndpoint).toEqual(Object.fromEntries(Object.entries(w.distribution.byEndpoint).filter(([, n]) => n > 0)))
    // Records come in the order requests finish.
    for (let i = 1; i < records.length; i++)
      expect(records[i].endNs as number).toBeGreaterThanOrEqual(records[i - 1].endNs as number)
  })

  it("every request has a record, failures too: unresolved, refused by a known pod, unfinished at the end", () => {
    const spec = specFromText(FAILURES)
    const chunks: string[] = []
    const doc = runScenario(spec, { seed: 5, requestSink: { write: (text) => void chunks.push(text) } })
    expect(doc.fingerprint).toBe(runScenario(spec, { seed: 5 }).fingerprint)
    const records = chunks
      .join("")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as RequestRecord)
    const sent = Object.values(doc.workloads).reduce((n, w) => n + w.requests.sent, 0)
    expect(records.length).toBe(sent)
    const of = (workload: string) => records.filter((r) => r.workload === workload)
    for (const [name, w] of Object.entries(doc.workloads)) {
      const mine = of(name)
      expect(mine.length).toBe(w.requests.sent)
      expect(mine.filter((r) => r.outcome === "completed").length).toBe(w.requests.completed)
      expect(mine.filter((r) => r.outcome === "failed").length).toBe(w.requests.failed)
      const reasons: Record<string, number> = {}
      for (const r of mine) if (r.reason !== null) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1
      expect(reasons).toEqual(w.requests.failedByReason)
    }
    // The static table has no such name: the runtime fails each request before a client exists.
    expect(of("nowhere")).toHaveLength(4)
    for (const r of of("nowhere"))
      expect(r).toMatchObject({ client: "client", resolvedAddress: null, endpoint: null, reason: "unresolved" })
    // Refused by the pod the flow was DNATed to (no listener on 9999): that pod is the endpoint.
    const pods = new Set(Object.keys(doc.workloads.ok.distribution.byEndpoint))
    expect(pods.size).toBe(2)
    expect(of("refused")).toHaveLength(10)
    for (const r of of("refused")) {
      expect(r.reason).toBe("refused")
      expect(pods.has(r.endpoint as string)).toBe(true)
      expect(r.nodePath[r.nodePath.length - 1]).toBe(r.endpointNode)
    }
    // UDP datagrams no pod answers, with a timeout past the run's end: in flight when it ends.
    const late = of("late")
    expect(late).toHaveLength(3)
    for (const r of late) {
      expect(r).toMatchObject({ outcome: "unfinished", endNs: null, latencyNs: null, reason: null })
      expect(pods.has(r.endpoint as string)).toBe(true)
    }
    expect(records.slice(-3)).toEqual(late)
  })

  it("a failed DNS lookup (dns.mode packets) has a record without an address", () => {
    const spec = specFromText(
      smallScenario({
        dns: "packets",
        workload: `  - { name: missing, from: pod/client, to: "http://missing/", arrival: { every: 20ms }, count: 3 }`,
      }),
    )
    const chunks: string[] = []
    const doc = runScenario(spec, { seed: 5, requestSink: { write: (text) => void chunks.push(text) } })
    const records = chunks
      .join("")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as RequestRecord)
    expect(doc.workloads.missing.requests).toMatchObject({ sent: 3, failed: 3, failedByReason: { nxdomain: 3 } })
    expect(records.map((r) => [r.outcome, r.reason, r.resolvedAddress, r.endpoint])).toEqual(
      Array(3).fill(["failed", "nxdomain", null, null]),
    )
  })

  it("run --out DIR --requests --interval writes results.json, timeseries.csv and requests.jsonl", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-netsim-out-"))
    try {
      const scenario = join(dir, "small.yaml")
      writeFileSync(scenario, smallScenario({ count: 5 }))
      const out = join(dir, "out")
      const io = { ...processIo(), stdout: () => {}, stderr: () => {} }
      expect(await runCli(["run", scenario, "--out", out, "--requests", "--interval", "50ms", "--quiet"], io)).toBe(0)
      const doc = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { timeseries: { intervalNs: number } }
      expect(doc.timeseries.intervalNs).toBe(50_000_000)
      const csv = readFileSync(join(out, "timeseries.csv"), "utf8").split("\n")
      expect(csv[0]).toBe("interval_start_ns,series,key,value")
      expect(csv.filter((l) => l.startsWith("50000000,requests,get,")).length).toBe(1)
      const lines = readFileSync(join(out, "requests.jsonl"), "utf8").trimEnd().split("\n")
      expect(lines.length).toBe(5)
      expect((JSON.parse(lines[0]) as RequestRecord).outcome).toBe("completed")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("--requests needs --out", async () => {
    const run = await cli(["run", "scenarios/quickstart.yaml", "--requests"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--requests: needs --out")
  })
})
