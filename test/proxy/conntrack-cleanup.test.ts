/**
 * Stale UDP conntrack reconciliation (pkg/proxy/conntrack/cleanup.go CleanStaleEntries; cases
 * modelled on its cleanup_test.go): entries to a UDP service IP or NodePort whose reply source is
 * not a serving endpoint are deleted; TCP and endpoint-less services are left alone.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { cleanStaleConntrackEntries, filterMatches, staleConntrackFilters } from "../../src/proxy/conntrack-cleanup.ts"
import type { ConntrackEntryView } from "../../src/proxy/conntrack-cleanup.ts"
import { buildServicePorts } from "../../src/proxy/service-port.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { FAKE_NODE } from "./helpers.ts"

const UDP = 17
const TCP = 6

const services: Service[] = [
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "dns", namespace: "ns1" },
    spec: {
      type: "LoadBalancer",
      clusterIP: "172.30.0.10",
      externalIPs: ["192.168.99.10"],
      ports: [
        { name: "dns", port: 53, protocol: "UDP", nodePort: 30053 },
        { name: "dns-tcp", port: 53, protocol: "TCP", nodePort: 30054 },
      ],
    },
    status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "empty", namespace: "ns2" },
    spec: { type: "ClusterIP", clusterIP: "172.30.0.20", ports: [{ name: "u", port: 9000, protocol: "UDP" }] },
  },
]

const slices: EndpointSlice[] = [
  {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "dns-1", namespace: "ns1", labels: { "kubernetes.io/service-name": "dns" } },
    addressType: "IPv4",
    endpoints: [
      { addresses: ["10.0.0.1"] },
      { addresses: ["10.0.0.2"], conditions: { ready: false, serving: false, terminating: true } },
      { addresses: ["10.0.0.4"], conditions: { ready: false, serving: true, terminating: true } },
    ],
    ports: [
      { name: "dns", port: 5353, protocol: "UDP" },
      { name: "dns-tcp", port: 5353, protocol: "TCP" },
    ],
  },
]

function entry(handle: number, protocol: number, dst: string, port: number, replySrc: string): ConntrackEntryView {
  return { handle, protocol, origDstAddr: ipv4(dst), origDstPort: port, replySrcAddr: ipv4(replySrc) }
}

describe("stale UDP conntrack cleanup", () => {
  const ports = buildServicePorts(services, slices, FAKE_NODE)
  const entries = [
    entry(1, UDP, "172.30.0.10", 53, "10.0.0.1"), // serving endpoint: keep
    entry(2, UDP, "172.30.0.10", 53, "10.0.0.3"), // deleted pod: stale
    entry(3, UDP, "172.30.0.10", 53, "10.0.0.2"), // not serving: stale
    entry(4, UDP, "172.30.0.10", 53, "172.30.0.10"), // never DNATed (no endpoints back then): stale
    entry(5, UDP, "172.30.0.10", 53, "10.0.0.4"), // serving-terminating counts as serving: keep
    entry(6, UDP, "192.168.99.10", 53, "10.0.0.9"), // external IP: stale
    entry(7, UDP, "1.2.3.4", 53, "10.0.0.9"), // LB IP: stale
    entry(8, UDP, "192.168.0.2", 30053, "10.0.0.9"), // NodePort: stale
    entry(9, UDP, "192.168.0.2", 30053, "10.0.0.1"), // NodePort, serving: keep
    entry(10, TCP, "172.30.0.10", 53, "10.0.0.3"), // TCP: never touched
    entry(11, UDP, "172.30.0.20", 9000, "10.0.0.3"), // service without endpoints: skipped
    entry(12, UDP, "172.30.0.10", 54, "10.0.0.3"), // not a service port
    entry(13, UDP, "172.30.0.10", 53, "10.0.0.3"), // duplicate of a stale flow: same filter
  ]

  it("deletes exactly the stale UDP entries", () => {
    const deleted: number[] = []
    const result = cleanStaleConntrackEntries(
      { listEntries: () => entries, deleteEntry: (h) => void deleted.push(h) },
      ports,
    )
    expect(result).toEqual([2, 3, 4, 6, 7, 8, 13])
    expect(deleted).toEqual(result)
  })

  it("builds upstream's filters", () => {
    const filters = staleConntrackFilters(entries, ports)
    expect(filters.filter((f) => f.kind === "port")).toEqual([
      { kind: "port", origDstPort: 30053, replySrcAddr: ipv4("10.0.0.9") },
    ])
    expect(filters.length).toBe(7)
  })

  it("property: never deletes TCP entries or entries replying from a serving endpoint", () => {
    const ip = fc.constantFrom("172.30.0.10", "192.168.99.10", "1.2.3.4", "192.168.0.2", "172.30.0.20")
    const src = fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "172.30.0.10")
    const arb = fc.array(fc.tuple(fc.constantFrom(UDP, TCP), ip, fc.constantFrom(53, 9000, 30053, 30054), src), {
      maxLength: 40,
    })
    fc.assert(
      fc.property(arb, (rows) => {
        const list = rows.map(([p, d, port, s], i) => entry(i, p, d, port, s))
        const deleted = new Set(
          cleanStaleConntrackEntries({ listEntries: () => list, deleteEntry: () => undefined }, ports),
        )
        const filters = staleConntrackFilters(list, ports)
        for (const e of list) {
          if (e.protocol === TCP) expect(deleted.has(e.handle)).toBe(false)
          if (e.replySrcAddr === ipv4("10.0.0.1") || e.replySrcAddr === ipv4("10.0.0.4"))
            expect(deleted.has(e.handle)).toBe(false)
          expect(deleted.has(e.handle)).toBe(filters.some((f) => filterMatches(f, e)))
        }
      }),
    )
  })
})
