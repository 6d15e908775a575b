/**
 * stats/compare.ts on hand-made documents: the exact table for two columns, mean ± spread, rows a
 * document lacks ("-"), the IPVS peak row only when some document carries `ipvs`, and the compare
 * document keeping canonical results documents. Column labels here are arbitrary strings: the
 * renderer knows no mode.
 */
import { describe, expect, it } from "vitest"
import { renderCompare, stringifyCompare, type CompareDocument } from "../../src/stats/compare.ts"
import { canonicalResults } from "../../src/stats/document.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { sampleDocument } from "./fixture.ts"

function compare(columns: readonly (readonly ResultsDocument[])[]): CompareDocument {
  return {
    compareVersion: 1,
    scenario: "http-go-affinity",
    seed: 1,
    runs: columns[0]?.length ?? 1,
    modes: columns.map((results, i) => ({ mode: `column-${i + 1}`, results })),
  }
}

describe("renderCompare", () => {
  it("one column per entry, every section, exact figures", () => {
    const withIpvs: ResultsDocument = {
      ...sampleDocument(1, 2),
      ipvs: {
        peakConnections: 77,
        peakConnectionsByNode: { "node-1": 77 },
        connectionsCreated: 90,
        virtualServers: {},
      },
    }
    const text = renderCompare(compare([[sampleDocument(1)], [withIpvs]]))
    expect(text).toBe(
      [
        "scenario http-go-affinity  seed 1  modes column-1, column-2",
        "",
        "workload wget                column-1  column-2",
        "sent                            1,000     1,000",
        "completed                         990       990",
        "failed                             10        10",
        "  failed connection-refused         3         3",
        "  failed timeout                    7         7",
        "latency p50                     412us     824us",
        "latency p90                    1.02ms    1.02ms",
        "latency p99                    3.10ms    3.10ms",
        "latency p99.9                  5.23ms    5.23ms",
        "latency max                    6.01ms    6.01ms",
        "endpoints used                      3         3",
        "  http-go-a                     40.4%     31.0%",
        "  http-go-b                     30.3%     46.5%",
        "  http-go-c                     29.3%     22.5%",
        "fairness Jain                  0.9840    0.9840",
        "fairness max/mean              1.2100    1.2100",
        "fairness CV                    0.1280    0.1280",
        "chi-square p                  1.23e-4   1.23e-4",
        "",
        "kernel                   column-1  column-2",
        "conntrack peak entries      1,234     1,234",
        "conntrack insert failed         2         2",
        "IPVS connections peak           -        77",
        "",
        "kube-proxy syncs  column-1  column-2",
        "syncs                    -         -",
        "failed syncs             -         -",
        "duration p50             -         -",
        "duration max             -         -",
        "lag max                  -         -",
        "",
        "drops           column-1  column-2",
        "conntrack-full         3         3",
        "no-endpoints           1         1",
        "",
        "fingerprints: column-1 a47e9073384d3972  column-2 a47e9073384d3972",
        "",
      ].join("\n"),
    )
  })

  it("several runs: mean ± 95% CI half-width", () => {
    const text = renderCompare(compare([[sampleDocument(1, 1), sampleDocument(2, 3)]]))
    expect(text.split("\n")[0]).toBe("scenario http-go-affinity  seeds 1..2 (mean ± 95% CI half-width)  modes column-1")
    // p50: 412us and 1.236ms; mean 824us, half-width t(0.975, 1) x s / sqrt(2) = 12.706 x 412us.
    expect(text).toMatch(/^latency p50\s+824us ± 5\.23ms$/m)
    expect(text).toMatch(/^sent\s+1,000 ± 0$/m)
    expect(text).not.toContain("IPVS")
  })

  it("the compare document keeps each results document in canonical form", () => {
    const doc = compare([[sampleDocument(1)]])
    const parsed = JSON.parse(stringifyCompare(doc)) as { modes: { mode: string; results: unknown[] }[] }
    expect(Object.keys(parsed)).toEqual(["compareVersion", "scenario", "seed", "runs", "modes"])
    expect(parsed.modes[0].results[0]).toEqual(JSON.parse(JSON.stringify(canonicalResults(sampleDocument(1)))))
  })
})
