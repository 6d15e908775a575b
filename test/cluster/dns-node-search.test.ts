/**
 * dns.nodeSearchDomains: the nodes' own resolv.conf search line. kubelet (pkg/kubelet/network/dns
 * dns.go generateSearchesForDNSClusterFirst) appends it after the cluster's three domains for
 * ClusterFirst pods, so with H node domains a glibc or musl pod asking `google.com` (ndots:5) walks
 * 4 + H exchanges = 8 + 2H queries (../shared/reference/dns.md §2.5), the extra H answered NXDOMAIN
 * by the upstream CoreDNS forwards to. Pods with dnsPolicy Default (and hostNetwork pods with
 * ClusterFirst) get the node file itself: the node resolver and the node domains, default ndots 1,
 * so `google.com` is asked as-is first (2 queries) and Service names do not resolve.
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { specFromText } from "./helpers.ts"

function scenario(image: string, to: string, domains: string, podSpec = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: dns-node-search }
seed: 1
duration: 20s
cluster:
  nodes: { count: 2 }
dns: { mode: packets, nodeSearchDomains: [${domains}] }
externalHosts:
  - { name: google.com, ip: 198.51.100.7, httpPorts: [80] }
manifests:
  - inline:
      - apiVersion: v1
        kind: Pod
        metadata: { name: web, labels: { app: web } }
        spec: { containers: [ { name: web, image: nginx, ports: [ { containerPort: 80 } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80 } ] }
      - apiVersion: v1
        kind: Pod
        metadata: { name: client }
        spec: { containers: [ { name: c, image: ${image} } ]${podSpec} }
workloads:
  - { name: w, from: pod/client, to: "${to}", count: 3, arrival: { every: 100ms }, timeout: 30s }
`
}

describe("dns.nodeSearchDomains", () => {
  it.each([
    ["nicolaka/netshoot", "corp.example", 10],
    ["nicolaka/netshoot", "corp.example, lab.corp.example", 12],
    ["alpine:3.20", "corp.example, lab.corp.example", 12],
  ])("ClusterFirst, %s, node domains [%s]: google.com costs %i queries per lookup", (image, domains, perLookup) => {
    const doc = runScenario(specFromText(scenario(image, "http://google.com/", domains)), { seed: 1 })
    const dns = doc.workloads.w.dns ?? expect.fail("no dns section")
    expect(doc.workloads.w.requests.completed).toBe(3)
    expect(dns.queries.sent).toBe(3 * perLookup)
    expect(dns.queries.byQtype).toEqual({ A: (3 * perLookup) / 2, AAAA: (3 * perLookup) / 2 })
    // 3 cluster suffixes + H node suffixes answer NXDOMAIN (both queries of each exchange), the bare
    // name NOERROR.
    expect(dns.queries.byRcode).toEqual({ NXDOMAIN: 3 * (perLookup - 2), NOERROR: 3 * 2 })
  })

  it("a Service short name is still answered by the first cluster suffix", () => {
    const doc = runScenario(specFromText(scenario("nicolaka/netshoot", "http://web/", "corp.example")), { seed: 1 })
    expect(doc.workloads.w.dns?.queries.sent).toBe(3 * 2)
  })

  it("dnsPolicy Default: the node resolver answers external names as-is (ndots 1); Service names fail", () => {
    const external = runScenario(
      specFromText(scenario("nicolaka/netshoot", "http://google.com/", "corp.example", ", dnsPolicy: Default")),
      { seed: 1 },
    )
    const dns = external.workloads.w.dns ?? expect.fail("no dns section")
    expect(external.workloads.w.requests.completed).toBe(3)
    expect(dns.queries.sent).toBe(3 * 2)
    // No CoreDNS pod saw them.
    expect(Object.values(external.dns.servers ?? {}).reduce((n, s) => n + s.received, 0)).toBe(0)
    const service = runScenario(
      specFromText(scenario("nicolaka/netshoot", "http://web/", "corp.example", ", dnsPolicy: Default")),
      { seed: 1 },
    )
    const w = service.workloads.w
    expect(w.requests.completed).toBe(0)
    expect(w.requests.failedByReason).toEqual({ nxdomain: 3 })
    // web.corp.example, then web as-is (glibc tries the bare name last): two NXDOMAIN exchanges.
    expect(w.dns?.queries.sent).toBe(3 * 4)
  })

  it("a hostNetwork pod with ClusterFirst falls back to the node's configuration (kubelet getPodDNSType)", () => {
    const doc = runScenario(
      specFromText(scenario("nicolaka/netshoot", "http://web/", "corp.example", ", hostNetwork: true")),
      { seed: 1 },
    )
    expect(doc.workloads.w.requests.failedByReason).toEqual({ nxdomain: 3 })
    const withHostNet = runScenario(
      specFromText(
        scenario(
          "nicolaka/netshoot",
          "http://web/",
          "corp.example",
          ", hostNetwork: true, dnsPolicy: ClusterFirstWithHostNet",
        ),
      ),
      { seed: 1 },
    )
    expect(withHostNet.workloads.w.requests.completed).toBe(3)
  })
})
