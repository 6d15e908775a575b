/**
 * Per-request records (`run --requests`, docs/outputs.md): one JSON line per finished request,
 * agreeing with the document's counts, streamed through the sink, leaving the run unchanged.
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
      expect(r.latencyNs).toBe(r.endNs - r.startNs)
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
    for (let i = 1; i < records.length; i++) expect(records[i].endNs).toBeGreaterThanOrEqual(records[i - 1].endNs)
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
