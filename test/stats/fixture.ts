import type { ResultsDocument } from "../../src/stats/results.ts"

/** A small, hand-made results document for rendering and aggregation tests. */
export function sampleDocument(seed = 1, scale = 1): ResultsDocument {
  return {
    schemaVersion: 1,
    scenario: "http-go-affinity",
    seed,
    fingerprint: "a47e9073384d3972",
    simulatedNs: 30_000_000_000,
    workloads: {
      wget: {
        requests: { sent: 1000, completed: 990, failed: 10, failedByReason: { timeout: 7, "connection-refused": 3 } },
        latencyNs: {
          count: 990,
          min: 95_000,
          mean: 512_000 * scale,
          p50: 412_000 * scale,
          p90: 1_020_000,
          p99: 3_100_000,
          p999: 5_230_000,
          max: 6_010_000,
        },
        distribution: {
          byEndpoint: { "http-go-b": 300 * scale, "http-go-a": 400, "http-go-c": 290 },
          jain: 0.984,
          maxOverMean: 1.21,
          cv: 0.128,
          chiSquareP: 0.000123,
        },
      },
    },
    drops: { "conntrack-full": 3, "no-endpoints": 1 },
    conntrack: {
      peakEntries: 1234,
      peakEntriesByNode: { "node-2": 434, "node-1": 800 },
      entriesByState: { ESTABLISHED: 12 },
      insertFailed: 2,
      dropsTableFull: 3,
    },
    dns: {
      lookups: { started: 500, answered: 495, failed: 5, failedByReason: { nxdomain: 5 } },
      queries: { sent: 1000, timedOut: 0, byQtype: { AAAA: 500, A: 500 }, byRcode: { NXDOMAIN: 10, NOERROR: 990 } },
      latencyNs: {
        count: 495,
        min: 300_000,
        mean: 500_000,
        p50: 450_000,
        p90: 700_000,
        p99: 900_000,
        p999: 1_000_000,
        max: 1_100_000,
      },
      servers: {
        "coredns-b": {
          received: 500,
          answered: 500,
          cacheHits: 0,
          cacheMisses: 500,
          forwarded: 0,
          refused: 0,
          dropped: 0,
        },
        "coredns-a": {
          received: 500,
          answered: 500,
          cacheHits: 0,
          cacheMisses: 500,
          forwarded: 0,
          refused: 0,
          dropped: 0,
        },
      },
    },
    steps: [{ atNs: 10_000_000_000, description: "scale deployment/http-go to 5" }],
    endReason: "completed",
    wall: { seconds: 1.234, events: 4_567_890, eventsPerSecond: 3_701_694 },
  }
}
