/**
 * Behaviour of the nftables compiler beyond the upstream dumps (proxy-modes.md §1.3-§1.7), and its
 * cost: chain-name vectors from upstream's Test_servicePortChainNameBase /
 * Test_servicePortEndpointChainNameBase, traffic-policy choices, element reconciliation, affinity
 * sets, and linear work at 10,000 Services.
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileNftablesFromObjects, concat, nodePortIPs } from "../../src/proxy/nftables/compile.ts"
import { servicePortChainNameBase, servicePortEndpointChainNameBase } from "../../src/proxy/nftables/names.ts"
import { NftablesProxier } from "../../src/proxy/nftables/proxier.ts"
import { nftablesRulesText } from "../../src/proxy/nftables/rules-text.ts"
import { sortNftablesTransaction } from "../../src/proxy/nftables/sort.ts"
import { NftTable } from "../../src/proxy/nftables/table.ts"
import { servicePortViews } from "../../src/proxy/view.ts"
import { parseManifests } from "./helpers.ts"
import { FAKE_NFT_CONFIG, FAKE_NFT_NODE } from "./nft-helpers.ts"
import { extensive } from "../tier.ts"

const LONG_NS = "very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx"
const LONG_SVC = "very-long-service-name-why-would-you-even-do-this-i-mean-really"
const LONG_PORT = "port-443-providing-the-hypertext-transmission-protocol-with-tls"

describe("nftables chain names (upstream test vectors, proxy-modes.md §1.5)", () => {
  it("service chain bases", () => {
    expect(servicePortChainNameBase("testing", "service", "tcp", "http")).toBe("P4ZYZVCF-testing/service/tcp/http")
    expect(servicePortChainNameBase("testing", "service", "tcp", "https")).toBe("LZBRENCP-testing/service/tcp/https")
    expect(servicePortChainNameBase(LONG_NS, LONG_SVC, "sctp", LONG_PORT)).toBe(
      `KR6NACJP-${LONG_NS}/${LONG_SVC}/sctp/${LONG_PORT}`,
    )
    expect(servicePortChainNameBase("ns1", "svc1", "tcp", "p80")).toBe("ULMVA6XW-ns1/svc1/tcp/p80")
  })

  it("endpoint chain bases, IPv6 and truncation", () => {
    const ep = (endpoint: string) => servicePortEndpointChainNameBase("testing", "service", "tcp", "http", endpoint)
    expect(ep("10.180.0.1:80")).toBe("JO2XBXZR-testing/service/tcp/http__10.180.0.1/80")
    expect(ep("10.180.0.2:80")).toBe("5S6H3H22-testing/service/tcp/http__10.180.0.2/80")
    expect(ep("[fd80:abcd:12::a1b2:c3d4:e5f6:9999]:80")).toBe(
      "U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80",
    )
    const long = (endpoint: string) => servicePortEndpointChainNameBase(LONG_NS, LONG_SVC, "sctp", LONG_PORT, endpoint)
    expect(long("[1234:5678:9abc:def0::abc:1234]:443")).toBe(
      `5YS7AFEA-${LONG_NS}/${LONG_SVC}/sctp/${LONG_PORT}__1234.5678.9abc.def0..abc.1234/443`,
    )
    const truncated = `${LONG_NS}/${LONG_SVC}/sctp/${LONG_PORT}__1234.5678.9abc.def0..abcd.1234...`
    expect(long("[1234:5678:9abc:def0::abcd:1234:5678]:443")).toBe(`CI6C53Q3-${truncated}`)
    expect(long("[1234:5678:9abc:def0::abcd:1234:8765]:443")).toBe(`2FLXFK6X-${truncated}`)
    expect(long("[1234:5678:9abc:def0::abcd:1234:8765]:443").length).toBe(240)
  })

  it("knftables.Concat: single spaces, none after @", () => {
    expect(concat("", "jump", "x")).toBe("jump x")
    expect(concat("ip", "daddr", "@", "set", "drop")).toBe("ip daddr @set drop")
    expect(concat("{", ["a", ",", "b"], "}")).toBe("{ a , b }")
    expect(concat("numgen random mod", 2)).toBe("numgen random mod 2")
  })
})

function objects(yaml: string): { services: Service[]; slices: EndpointSlice[] } {
  return parseManifests(yaml)
}

function dumpOf(yaml: string, config = FAKE_NFT_CONFIG): string {
  const { services, slices } = objects(yaml)
  const r = compileNftablesFromObjects(services, slices, FAKE_NFT_NODE, config, { fullSync: true })
  const t = new NftTable("ip", "kube-proxy")
  t.apply(r.ops)
  return sortNftablesTransaction(t.dump())
}

const LB_LOCAL = (endpoints: string) => `
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  clusterIP: 172.30.0.41
  externalIPs: [192.168.99.11]
  ports: [{name: p80, port: 80, protocol: TCP, nodePort: 3001}]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: ns1, name: svc1-1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints: ${endpoints}
ports: [{name: p80, port: 80, protocol: TCP}]
`

describe("traffic policies and verdicts (proxy-modes.md §1.6)", () => {
  it("ETP Local with a local endpoint: external chain short-circuits to service-, then goes to local-", () => {
    const dump = dumpOf(LB_LOCAL("[{addresses: [10.180.0.1]}, {addresses: [10.180.2.1], nodeName: test-node}]"))
    const ext = "external-ULMVA6XW-ns1/svc1/tcp/p80"
    expect(dump).toContain(
      `add rule ip kube-proxy ${ext} ip saddr 10.0.0.0/8 goto service-ULMVA6XW-ns1/svc1/tcp/p80 comment "short-circuit pod traffic"`,
    )
    expect(dump).toContain(`add rule ip kube-proxy ${ext} goto local-ULMVA6XW-ns1/svc1/tcp/p80`)
    // The local chain balances over the local endpoint only; the cluster chain over both.
    expect(dump).toMatch(
      /add rule ip kube-proxy local-ULMVA6XW-ns1\/svc1\/tcp\/p80 numgen random mod 1 vmap \{ 0 : goto endpoint-\S+__10\.180\.2\.1\/80 \}/,
    )
    expect(dump).toMatch(/add rule ip kube-proxy service-ULMVA6XW-ns1\/svc1\/tcp\/p80 numgen random mod 2 vmap/)
    expect(dump).not.toContain("add element ip kube-proxy no-endpoint")
    expect(dump).toContain(`add element ip kube-proxy service-nodeports { tcp . 3001 : goto ${ext} }`)
  })

  it("ETP Local without a local endpoint: drop elements for external IPs, LB IPs and the NodePort; ClusterIP still served", () => {
    const dump = dumpOf(LB_LOCAL("[{addresses: [10.180.0.1]}]"))
    for (const element of [
      'no-endpoint-services { 192.168.99.11 . tcp . 80 comment "ns1/svc1:p80" : drop }',
      'no-endpoint-services { 1.2.3.4 . tcp . 80 comment "ns1/svc1:p80" : drop }',
      'no-endpoint-nodeports { tcp . 3001 comment "ns1/svc1:p80" : drop }',
      "service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }",
    ])
      expect(dump).toContain(`add element ip kube-proxy ${element}`)
    expect(dump).not.toContain("local-ULMVA6XW")
  })

  it("no endpoints at all: every address of the service goes to reject-chain, no chains", () => {
    const dump = dumpOf(LB_LOCAL("[]"))
    expect(dump).toContain(
      'add element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : goto reject-chain }',
    )
    expect(dump).toContain(
      'add element ip kube-proxy no-endpoint-nodeports { tcp . 3001 comment "ns1/svc1:p80" : goto reject-chain }',
    )
    expect(dump).not.toContain("ULMVA6XW-ns1/svc1/tcp/p80 ")
  })

  it("ITP Local without a local endpoint: the ClusterIP is dropped", () => {
    const dump = dumpOf(`
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec: {clusterIP: 172.30.1.1, internalTrafficPolicy: Local, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: ns1, name: svc1-1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints: [{addresses: [10.0.1.2], nodeName: node1}]
ports: [{port: 80, protocol: TCP}]
`)
    expect(dump).toContain(
      'add element ip kube-proxy no-endpoint-services { 172.30.1.1 . tcp . 80 comment "ns1/svc1" : drop }',
    )
  })

  it("masqueradeAll marks all ClusterIP traffic; no detector means no off-cluster rule", () => {
    const yaml = LB_LOCAL("[{addresses: [10.180.0.1]}]")
    expect(dumpOf(yaml, { ...FAKE_NFT_CONFIG, masqueradeAll: true })).toContain(
      "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 jump mark-for-masquerade",
    )
    const noDetector = dumpOf(yaml, { ...FAKE_NFT_CONFIG, clusterCIDR: null })
    expect(noDetector).not.toContain("10.0.0.0/8")
  })

  it("nodePortAddresses: primary, CIDRs, and match-all (nodeport-ips deleted, fib rule)", () => {
    expect(nodePortIPs(["primary"], FAKE_NFT_NODE)).toEqual({ matchAll: false, ips: ["192.168.0.2"] })
    expect(nodePortIPs(["192.168.0.0/16"], FAKE_NFT_NODE)).toEqual({
      matchAll: false,
      ips: ["192.168.0.2", "192.168.1.2", "192.168.99.11"],
    })
    expect(nodePortIPs(["127.0.0.0/8"], { name: "n", ips: ["127.0.0.1", "10.1.1.1"] })).toEqual({
      matchAll: false,
      ips: [],
    })
    const all = dumpOf(LB_LOCAL("[]"), { ...FAKE_NFT_CONFIG, nodePortAddresses: [] })
    expect(all).not.toContain("nodeport-ips")
    expect(all).toContain(
      "add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
    )
  })
})

describe("partial syncs", () => {
  const svc = (affinity: boolean, ip = "10.0.1.1") =>
    objects(`
apiVersion: v1
kind: Service
metadata: {namespace: ns1, name: svc1}
spec:
  clusterIP: 172.30.0.41
  ports: [{name: p80, port: 80, protocol: TCP}]
  ${affinity ? "sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}" : ""}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {namespace: ns1, name: svc1-1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints: [{addresses: [${ip}]}]
ports: [{name: p80, port: 80, protocol: TCP}]
`)

  it("affinity on: per-endpoint sets with the timeout; affinity off: the sets are deleted in the same sync", () => {
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    const on = svc(true)
    const first = fp.sync(0, on.services, on.slices)
    expect(first.transaction).toContain(
      "add set ip kube-proxy affinity-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 300s ; }",
    )
    expect(first.transaction).toContain(
      "add rule ip kube-proxy endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 update @affinity-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 { ip saddr }",
    )
    const off = svc(false)
    const second = fp.sync(1e6, off.services, off.slices)
    expect(second.transaction).toContain("delete set ip kube-proxy affinity-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80\n")
    expect(fp.table.setNames()).toEqual(["cluster-ips", "nodeport-ips"])
  })

  it("a changed map value is deleted and re-added; unchanged services are not rewritten", () => {
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    const a = svc(false)
    fp.sync(0, a.services, a.slices)
    const itpLocal = structuredClone(a.services)
    itpLocal[0].spec.internalTrafficPolicy = "Local"
    const r = fp.sync(1e6, itpLocal, a.slices)
    // No local endpoint: the ClusterIP moves from service-ips to no-endpoint-services (drop).
    expect(r.transaction).toContain(
      'add element ip kube-proxy no-endpoint-services { 172.30.0.41 . tcp . 80 comment "ns1/svc1:p80" : drop }',
    )
    expect(r.transaction).toContain("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }")
    // The service- and endpoint- chains are now stale: flushed, and flushed again by every sync
    // until one runs more than 1 s after the last (upstream re-stamps stale chains each sync).
    expect(r.compile.staleChains.length).toBe(2)
    expect(fp.sync(2e6, itpLocal, a.slices).numOperations).toBe(2)
    const later = fp.sync(2e9 + 3e6, itpLocal, a.slices)
    expect(later.cleanupOps.length).toBe(2)
    expect(later.numOperations).toBe(0)
  })

  it("a failed transaction changes nothing and forces the next sync to be full", () => {
    const table = new NftTable("ip", "kube-proxy")
    const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG, {}, table)
    const a = svc(false)
    fp.sync(0, a.services, a.slices)
    const before = table.dump()
    // Someone deletes a chain kube-proxy's next partial sync adds rules to without re-creating it.
    table.apply([{ verb: "delete", kind: "chain", chain: { name: "mark-for-masquerade" } }])
    const b = svc(false, "10.0.1.9")
    const failed = fp.sync(1e6, b.services, b.slices)
    expect(failed.error).toContain("no such chain")
    expect(table.dump()).not.toBe(before)
    const recovered = fp.sync(2e6, b.services, b.slices)
    expect(recovered.error).toBeNull()
    expect(recovered.compile.fullSync).toBe(true)
    expect(table.hasChain("mark-for-masquerade")).toBe(true)
  })
})

describe("cost", () => {
  function manyServices(n: number): { services: Service[]; slices: EndpointSlice[] } {
    const services: Service[] = []
    const slices: EndpointSlice[] = []
    for (let i = 0; i < n; i++) {
      const name = `svc${i}`
      services.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { namespace: "bench", name },
        spec: { clusterIP: `172.30.${i >> 8}.${i & 255}`, ports: [{ name: "p80", port: 80, protocol: "TCP" }] },
      } as Service)
      slices.push({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { namespace: "bench", name: `${name}-1`, labels: { "kubernetes.io/service-name": name } },
        addressType: "IPv4",
        endpoints: [{ addresses: [`10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`] }],
        ports: [{ name: "p80", port: 80, protocol: "TCP" }],
      } as EndpointSlice)
    }
    return { services, slices }
  }

  // The quick tier compiles 100 and 1,000 Services; the extensive tier 1,000 and 10,000.
  const sizes = extensive ? [1000, 10_000] : [100, 1000]
  it(`${sizes[1].toLocaleString("en-US")} Services: a full sync is linear in objects, a one-service partial sync writes a constant number of operations`, () => {
    const partialOps: number[] = []
    for (const n of sizes) {
      const { services, slices } = manyServices(n)
      const fp = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
      const full = fp.sync(0, services, slices)
      // Per service: 2 elements + 2 chains x (add, flush, 2 rules).
      const fresh = new NftablesProxier(FAKE_NFT_NODE, FAKE_NFT_CONFIG)
      const setup = fresh.sync(0, [], []).numOperations
      expect(full.numOperations).toBe(setup + 10 * n)
      const changed = structuredClone(slices[n >> 1])
      changed.endpoints[0].addresses = ["10.200.0.1"]
      const next = [...slices]
      next[n >> 1] = changed
      partialOps.push(fp.sync(1e6, services, next).numOperations)
    }
    // add+flush service chain + 2 rules, new endpoint chain 4, old endpoint chain flushed: 9.
    expect(partialOps).toEqual([9, 9])
  })

  it("rules text in the three forms", () => {
    const { services, slices } = manyServices(2)
    const views = servicePortViews(services, slices, FAKE_NFT_NODE)
    const list = nftablesRulesText(views, FAKE_NFT_NODE, FAKE_NFT_CONFIG)
    expect(list.startsWith('table ip kube-proxy {\n\tcomment "rules for kube-proxy"\n')).toBe(true)
    const sorted = nftablesRulesText(views, FAKE_NFT_NODE, FAKE_NFT_CONFIG, "sorted")
    expect(sorted.split("\n")[0]).toBe('add table ip kube-proxy { comment "rules for kube-proxy" ; }')
    const tx = nftablesRulesText(views, FAKE_NFT_NODE, FAKE_NFT_CONFIG, "transaction")
    expect(tx).toContain("flush chain ip kube-proxy nat-prerouting\n")
  })
})
