/**
 * Goal: the nftables backend does what kube-proxy's nftables proxier and the kernel do with its
 * table (pkg/proxy/nftables/proxier.go syncProxyRules; nf_tables_api.c base-chain registration;
 * nf_nat_core.c nf_nat_inet_fn for nat chains):
 * - base chains sit on the namespace's hook host at their priorities (filter-prerouting-pre-dnat
 *   at -110 between conntrack and DNAT; filter chains at 0), nat chains as NAT core lookups;
 * - the first sync is full, a sync after one Service changed is partial, a failed transaction
 *   leaves the kernel as it was and makes the next sync full;
 * - packets: DNAT to the endpoint through the NAT core, hairpin masquerade to the out interface's
 *   address, reject for a service without endpoints, drop for an unallocated ClusterIP;
 * - `rules` prints `nft list table ip kube-proxy` and the sorted dump upstream's tests compare.
 */
import { describe, expect, it } from "vitest"
import { NftablesBackend } from "../../src/cluster/backend-nftables.ts"
import { World } from "../../src/cluster/index.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import type { KubeProxySpec } from "../../src/cluster/spec.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { Hook, RejectWith, Verdict } from "../../src/net/hooks.ts"
import { sortNftablesTransaction } from "../../src/proxy/nftables/sort.ts"
import { Rng } from "../../src/sim/rng.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { CNI0, makeNode, receive, replyTo, tcp } from "../netfilter/helpers.ts"
import { specFromText } from "./helpers.ts"

const KUBE_PROXY: KubeProxySpec = specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: backend }
duration: 1s
cluster: { nodes: { count: 1 }, systemServices: false }
kubeProxy: { mode: nftables, clusterCIDR: 10.0.0.0/8 }
`).kubeProxy

const NODE = { name: "node-1", ips: ["192.168.0.2"] }

function service(name: string, ip: string): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: "default", name },
    spec: { clusterIP: ip, ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }] },
  }
}

function slice(name: string, ips: readonly string[]): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace: "default", name: `${name}-x`, labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: "node-1" })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  }
}

function setup() {
  const node = makeNode()
  const backend = new NftablesBackend(NODE, node.stack, KUBE_PROXY, Rng.stream(1, "test/numgen"), ["10.96.0.0/12"])
  return { ...node, backend }
}

const SERVICES = [service("web", "10.96.0.20"), service("empty", "10.96.0.30")]
const SLICES = [slice("web", ["10.0.0.5"])]

describe("nftables backend", () => {
  it("registers the base chains at their priorities; nat chains as NAT core lookups", () => {
    const { stack, backend } = setup()
    backend.apply(0, backend.compile(0, SERVICES, SLICES))
    expect(stack.hooks.describe(Hook.PREROUTING)).toEqual([
      "-300 iptables raw",
      "-200 conntrack in",
      "-150 iptables mangle",
      "-110 nft ip kube-proxy filter-prerouting-pre-dnat",
      "-100 iptables nat",
    ])
    expect(stack.hooks.describe(Hook.OUTPUT)).toEqual([
      "-300 iptables raw",
      "-200 conntrack local",
      "-150 iptables mangle",
      "-110 nft ip kube-proxy filter-output-pre-dnat",
      "-100 iptables nat",
      "0 iptables filter",
      "0 nft ip kube-proxy filter-output",
    ])
    expect(stack.hooks.describe(Hook.FORWARD)).toEqual([
      "-150 iptables mangle",
      "0 iptables filter",
      "0 nft ip kube-proxy filter-forward",
    ])
    expect(stack.natLookups.describe(Hook.PREROUTING)).toEqual([
      "-100 iptables nat",
      "-100 nft ip kube-proxy nat-prerouting",
    ])
    expect(stack.natLookups.describe(Hook.POSTROUTING)).toEqual([
      "100 iptables nat",
      "100 nft ip kube-proxy nat-postrouting",
    ])
    // A later sync keeps the registrations (no duplicates, same order).
    backend.apply(1e9, backend.compile(1e9, SERVICES, SLICES))
    expect(stack.natLookups.describe(Hook.OUTPUT)).toEqual(["-100 iptables nat", "-100 nft ip kube-proxy nat-output"])
  })

  it("full sync first, partial after a change; a failed transaction applies nothing and forces a full sync", () => {
    const { backend } = setup()
    const first = backend.compile(0, SERVICES, SLICES)
    expect(first.fullSync).toBe(true)
    backend.apply(first.durationNs, first)
    const listed = backend.rules(false)
    expect(listed.startsWith("table ip kube-proxy {\n")).toBe(true)
    expect(listed).toContain("10.96.0.20 . tcp . 80 : goto service-")
    // One endpoint added to web: a partial sync that writes web's chains only.
    const changed = [slice("web", ["10.0.0.5", "10.0.0.6"])]
    const second = backend.compile(2e9, SERVICES, changed)
    expect(second.fullSync).toBe(false)
    const tx = (second.payload as { transaction: string }).transaction
    expect(tx).toContain("default/web/tcp/http")
    expect(tx).not.toContain("add chain ip kube-proxy filter-input")
    // The transaction fails (injected): the kernel keeps the old table.
    backend.failed()
    expect(backend.rules(false)).toBe(listed)
    const third = backend.compile(3e9, SERVICES, changed)
    expect(third.fullSync).toBe(true)
    backend.apply(3e9 + third.durationNs, third)
    expect(backend.rules(false)).toContain("numgen random mod 2 vmap")
    // The sorted form is upstream's sortNFTablesTransaction of the table dump.
    const sorted = backend.rules(true)
    expect(sorted).toBe(sortNftablesTransaction(backend.proxier.table.dump()) + "\n")
    expect(sorted.split("\n")[0]).toBe('add table ip kube-proxy { comment "rules for kube-proxy" ; }')
  })

  it("DNAT through the NAT core; hairpin masquerade; reject without endpoints; drop to an unallocated ClusterIP", () => {
    const { stack, host, backend } = setup()
    backend.apply(0, backend.compile(0, SERVICES, SLICES))
    // Another pod to the service: DNAT to the endpoint, no masquerade.
    const syn = tcp("10.0.0.7", 40000, "10.96.0.20", 80)
    expect(receive(stack, host, syn, CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(syn.srcAddr)} -> ${formatIpv4(syn.dstAddr)}:${syn.dstPort}`).toBe("10.0.0.7 -> 10.0.0.5:8080")
    // The reply is un-DNATed from the conntrack entry.
    const reply = replyTo(syn)
    expect(receive(stack, host, reply, CNI0, 2).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(reply.srcAddr)}:${reply.srcPort}`).toBe("10.96.0.20:80")
    // The endpoint to its own service (hairpin): masqueraded to cni0's address.
    const hairpin = tcp("10.0.0.5", 40001, "10.96.0.20", 80)
    expect(receive(stack, host, hairpin, CNI0, 3).verdict).toBe(Verdict.ACCEPT)
    expect(formatIpv4(hairpin.dstAddr)).toBe("10.0.0.5")
    expect(formatIpv4(hairpin.srcAddr)).toBe("10.0.0.1")
    expect(hairpin.mark & 0x4000).toBe(0)
    // No endpoints: rejected with ICMP port unreachable (filter-forward's service-endpoints-check).
    const none = tcp("10.0.0.7", 40002, "10.96.0.30", 80)
    expect(receive(stack, host, none, CNI0, 4).verdict).toBe(Verdict.REJECT)
    expect(stack.lastRejectWith).toBe(RejectWith.ICMP_PORT_UNREACHABLE)
    // An active ClusterIP on another port: rejected; an unallocated one in the ServiceCIDR: dropped.
    expect(receive(stack, host, tcp("10.0.0.7", 40003, "10.96.0.20", 81), CNI0, 5).verdict).toBe(Verdict.REJECT)
    expect(receive(stack, host, tcp("10.0.0.7", 40004, "10.96.0.99", 80), CNI0, 6).verdict).toBe(Verdict.DROP)
    // Outside the ServiceCIDR: not kube-proxy's business.
    expect(receive(stack, host, tcp("10.0.0.7", 40005, "10.0.0.5", 8080), CNI0, 7).verdict).toBe(Verdict.ACCEPT)
  })

  it("charges expressionCost per kernel expression evaluated and lookupCost per set lookup", () => {
    const { stack, host, backend } = setup()
    backend.apply(0, backend.compile(0, SERVICES, SLICES))
    const expressionsBefore = backend.nft.expressionsEvaluated
    const lookupsBefore = backend.nft.lookupsEvaluated
    const r = receive(stack, host, tcp("10.0.0.7", 40000, "10.96.0.20", 80), CNI0, 1)
    const expressions = backend.nft.expressionsEvaluated - expressionsBefore
    const lookups = backend.nft.lookupsEvaluated - lookupsBefore
    expect(expressions).toBeGreaterThan(10)
    // PREROUTING: @firewall-ips, @service-ips, the service chain's `numgen ... vmap`; FORWARD:
    // @no-endpoint-services, @cluster-ips (cluster-ips-check).
    expect(lookups).toBe(5)
    const conntrackNs = stack.conntrackLookupCostNs + stack.conntrackNewCostNs
    const { expressionCostNs, lookupCostNs } = KUBE_PROXY.nftables!
    expect(r.costNs).toBe(conntrackNs + (expressions - lookups) * expressionCostNs + lookups * lookupCostNs)
  })
})

describe("nftables mode in a scenario: an injected nft -f failure", () => {
  const yaml = (timeline: string): string => `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: nft-failure }
seed: 7
duration: 20s
cluster: { nodes: { count: 2 } }
kubeProxy:
  mode: nftables
  syncPeriod: 10s
  minSyncPeriod: 1s
  syncCost: { nftables: { fixed: 0, perCommand: 0, perObject: 0 } }
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
            spec: { containers: [ { name: web, image: example/web, ports: [ { containerPort: 8080 } ] } ] }
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
workloads:
  - { name: load, from: node/node-1, to: "http://web:80/", arrival: { every: 20ms }, count: 900, timeout: 1s }
${timeline}`

  it("nothing of a failed sync is applied; the retry within syncPeriod is a full sync that programs the change", () => {
    const timeline = `timeline:
  - at: 4s
    failRestore: { node: node-2, count: 2 }
  - at: 5s
    apply:
      inline:
        - apiVersion: v1
          kind: Service
          metadata: { name: web }
          spec: { selector: { app: web }, ports: [ { name: http, port: 80, targetPort: 8080 }, { name: alt, port: 81, targetPort: 8080 } ] }
`
    const world = new World(specFromText(yaml(timeline)), 7)
    world.scheduler.run({ timeNsMax: 6 * NS_PER_S, eventCountMax: 50_000_000 })
    const healthy = world.nodes.get("node-1")!.proxy
    const failing = world.nodes.get("node-2")!.proxy
    expect(healthy.rules(false)).toContain(". tcp . 81 : goto service-")
    expect(failing.rules(false)).not.toContain(". tcp . 81 :")
    // The Service write at 5 s and the EndpointSlice controller's write after it: both syncs fail.
    expect(failing.failedSyncsNs).toEqual([5 * NS_PER_S, 5 * NS_PER_S + 100_000_000])
    world.scheduler.run({ timeNsMax: 16 * NS_PER_S, eventCountMax: 50_000_000 })
    const retry = failing.syncs.find((s) => s.atNs > 5 * NS_PER_S)
    expect(retry?.atNs).toBe(15 * NS_PER_S + 100_000_000)
    expect(retry?.fullSync).toBe(true)
    expect(failing.rules(false)).toContain(". tcp . 81 : goto service-")
    // Same table as the healthy node (whose own nodeport-ips element differs), except the chains of
    // the old unnamed port: the full sync found them stale and flushed them (no rules), to be
    // deleted by a later sync's cleanup transaction once over 1 s stale, as upstream does.
    const lines = (text: string): string[] => text.split("\n").filter((l) => !l.includes("nodeport-ips {"))
    const failingLines = lines(failing.rules(true))
    const healthyLines = lines(healthy.rules(true))
    expect(healthyLines.filter((l) => !failingLines.includes(l))).toEqual([])
    const extra = failingLines.filter((l) => !healthyLines.includes(l))
    expect(extra.length).toBe(3)
    for (const l of extra)
      expect(l).toMatch(/^add chain ip kube-proxy (service|endpoint)-[A-Z2-7]{8}-default\/web\/tcp\/(__|$)/)
  })
})
