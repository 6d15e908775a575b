/**
 * Report fixtures: the hand-made results document of test/stats/fixture.ts, with the `timeseries`
 * key (the shape the time-series work adds: intervalNs, startNs, workloads, conntrack, drops,
 * events) filled with deterministic values: 3 endpoints, then 5 after a scale-up at 1.5 s.
 */
import type { ScenarioInfo } from "../../src/report/run-page.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { Histogram } from "../../src/stats/histogram.ts"
import { attachRunDetail } from "../../src/stats/run-detail.ts"
import { sampleDocument } from "../stats/fixture.ts"

export const INTERVALS = 30
export const INTERVAL_NS = 100_000_000
export const SCALE_AT_NS = 1_500_000_000

export function timeSeriesFixture(): Record<string, unknown> {
  const startNs = Array.from({ length: INTERVALS }, (_, i) => i * INTERVAL_NS)
  const endpoints = ["http-go-a", "http-go-b", "http-go-c", "http-go-d", "http-go-e"]
  const byEndpoint: Record<string, number[]> = {}
  endpoints.forEach((name, e) => {
    byEndpoint[name] = startNs.map((t, i) => (e >= 3 && t < SCALE_AT_NS ? 0 : 8 + ((i * 7 + e * 3) % 5)))
  })
  const completed = startNs.map((_, i) => endpoints.reduce((sum, e) => sum + (byEndpoint[e]?.[i] ?? 0), 0))
  const timeout = startNs.map((_, i) => (i % 9 === 4 ? 1 : 0))
  return {
    intervalNs: INTERVAL_NS,
    startNs,
    workloads: {
      wget: {
        requests: completed.map((c, i) => c + (timeout[i] ?? 0)),
        completed,
        failed: timeout,
        failedByReason: { timeout },
        byEndpoint,
        latencyP50Ns: startNs.map((_, i) => 400_000 + 10_000 * (i % 4)),
        latencyP99Ns: startNs.map((_, i) => 2_000_000 + 100_000 * (i % 6)),
      },
    },
    conntrack: {
      "node-1": startNs.map((_, i) => 100 + 20 * i),
      "node-2": startNs.map((_, i) => 50 + 15 * i),
    },
    drops: { "conntrack-full": startNs.map((_, i) => (i === 20 ? 3 : 0)), "no-endpoints": startNs.map(() => 0) },
    events: [
      { atNs: 200_000_000, step: "workload wget starts" },
      { atNs: SCALE_AT_NS, step: "scale deployment/http-go to 5" },
    ],
  }
}

/** sampleDocument() with the `timeseries` key (and the simulated time it covers). */
export function documentWithTimeSeries(): ResultsDocument {
  return {
    ...sampleDocument(),
    simulatedNs: INTERVALS * INTERVAL_NS,
    timeseries: timeSeriesFixture(),
  } as unknown as ResultsDocument
}

/** Attaches latency buckets (as a run would) to `doc`: a log-normal-ish spread per workload. */
export function withLatencyDetail(doc: ResultsDocument): ResultsDocument {
  const latencyByWorkload: Record<string, { valueNs: number; count: number }[]> = {}
  const dnsLatencyByWorkload: Record<string, { valueNs: number; count: number }[]> = {}
  for (const name of Object.keys(doc.workloads)) {
    const h = new Histogram()
    const d = new Histogram()
    for (let i = 1; i <= 400; i++) {
      h.record(100_000 + ((i * 7919) % 400) * 5_000)
      d.record(300_000 + ((i * 104729) % 100) * 3_000)
    }
    latencyByWorkload[name] = h.buckets()
    dnsLatencyByWorkload[name] = d.buckets()
  }
  attachRunDetail(doc, { latencyByWorkload, dnsLatencyByWorkload })
  return doc
}

export const SCENARIO_INFO: ScenarioInfo = {
  name: "http-go-affinity",
  file: "scenarios/example.yaml",
  proxyMode: "iptables",
  dnsMode: "packets",
  durationNs: 30_000_000_000,
  nodes: [
    { name: "node-1", zone: "zone-a" },
    { name: "node-2", zone: "zone-a" },
  ],
  cni: "bridge",
  workloads: ["wget"],
  timelineSteps: 1,
  yaml: "apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata:\n  name: http-go-affinity # </script> stays text\n",
}
