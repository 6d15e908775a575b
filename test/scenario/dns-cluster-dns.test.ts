/**
 * dns.clusterDNS (kubelet --cluster-dns): the pods' nameserver. kubespray points it at the
 * NodeLocal DNSCache address (seed 004); anything else outside the Service range answers nothing,
 * so the loader refuses it with the field's position.
 */
import { describe, expect, it } from "vitest"
import { join } from "node:path"
import { readFileSync } from "node:fs"
import { runScenario } from "../../src/cluster/index.ts"
import { formatIssue } from "../../src/scenario/issues.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"

const SEED_004 = join(import.meta.dirname, "..", "..", "scenarios", "seed-004-nodelocal-dns.yaml")

function errors(text: string): string[] {
  const result = decodeScenarioText("dns.yaml", text)
  return result.ok ? [] : result.issues.filter((i) => i.severity === "error").map(formatIssue)
}

describe("dns.clusterDNS", () => {
  const seed = readFileSync(SEED_004, "utf8")

  it("the NodeLocal DNSCache address is accepted when the cache runs; without it, an error with file:line:column", () => {
    expect(errors(seed)).toEqual([])
    const off = seed.replace("nodeLocal: { enabled: true, address: 169.254.25.10 }", "nodeLocal: { enabled: false }")
    const issues = errors(off)
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatch(
      /^dns\.yaml:\d+:\d+: dns\.clusterDNS: 169\.254\.25\.10 is outside cluster\.serviceCIDR .* \(dns\.nodeLocal\.enabled is false\)$/,
    )
  })

  it("a Service-range address is accepted; pods then send their queries there", () => {
    expect(errors(seed.replace("clusterDNS: 169.254.25.10", "clusterDNS: 10.96.0.10"))).toEqual([])
  })

  it("seed 004: pods ask 169.254.25.10, node-cache answers, CoreDNS sees only the cache's misses", () => {
    const loaded = decodeScenarioText(SEED_004, seed)
    if (!loaded.ok) throw new Error(loaded.issues.map(formatIssue).join("\n"))
    const doc = runScenario(loaded.scenario.spec, { seed: 1 })
    const lookups = doc.dns.lookups?.started ?? 0
    const servers = Object.entries(doc.dns.servers ?? {})
    const coredns = servers.filter(([name]) => name.startsWith("coredns-")).map(([, s]) => s)
    const caches = servers.filter(([name]) => name.startsWith("node-local-dns/"))
    const received = coredns.reduce((sum, s) => sum + s.received, 0)
    expect(lookups).toBe(300)
    expect(doc.dns.lookups?.failed).toBe(0)
    // 600 queries (A + AAAA per lookup); CoreDNS receives the cache misses only.
    expect(doc.dns.queries?.sent).toBe(600)
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThan(200)
    // dns.servers also holds each node's cache, with the CoreDNS pods' keys: every query reached
    // the cache on the client's node, and CoreDNS saw exactly the cache's forwards (all names here
    // are in the cluster zone, forwarded over TCP to kube-dns-upstream).
    expect(caches.map(([name]) => name)).toEqual([
      "node-local-dns/node-1",
      "node-local-dns/node-2",
      "node-local-dns/node-3",
    ])
    for (const [, c] of caches)
      expect(Object.keys(c).sort()).toEqual(
        ["answered", "cacheHits", "cacheMisses", "dropped", "forwarded", "received", "refused"].sort(),
      )
    const sum = (key: "received" | "answered" | "cacheHits" | "cacheMisses" | "forwarded") =>
      caches.reduce((n, [, c]) => n + c[key], 0)
    expect(sum("received")).toBe(600)
    expect(sum("answered")).toBe(600)
    expect(sum("cacheHits") + sum("cacheMisses")).toBe(600)
    expect(sum("forwarded")).toBe(received)
  })
})
