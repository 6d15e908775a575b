/**
 * Compiler details beyond the golden dumps, each pinned to the upstream source line it follows
 * (pkg/proxy/iptables/proxier.go syncProxyRules; servicechangetracker/endpointslicecache).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import {
  compileIptables,
  DEFAULT_IPTABLES_CONFIG,
  iptablesConfigFrom,
  jumpRules,
} from "../../src/proxy/iptables/compile.ts"
import { endpointChainName, serviceChainName } from "../../src/proxy/iptables/names.ts"
import { sortIptablesRules } from "../../src/proxy/iptables/sort.ts"
import { buildServicePorts } from "../../src/proxy/service-port.ts"
import { FAKE_CONFIG, FAKE_NODE, loadManifests } from "./helpers.ts"

function svc(name: string, spec: Service["spec"], status?: Service["status"]): Service {
  const out: Service = { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "ns1" }, spec }
  if (status !== undefined) out.status = status
  return out
}

function eps(
  name: string,
  ips: string[],
  ports: NonNullable<EndpointSlice["ports"]>,
  nodeName?: string,
): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${name}-abc`, namespace: "ns1", labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints: ips.map((ip) => (nodeName === undefined ? { addresses: [ip] } : { addresses: [ip], nodeName })),
    ports,
  }
}

const lines = (text: string): string[] => text.split("\n")

describe("service and endpoint selection", () => {
  it("skips headless, ExternalName and IPv6-only services", () => {
    const services = [
      svc("headless", { clusterIP: "None", ports: [{ port: 80 }] }),
      svc("noip", { ports: [{ port: 80 }] }),
      svc("ext", { type: "ExternalName", externalName: "example.com", clusterIP: "172.30.0.9", ports: [{ port: 80 }] }),
      svc("v6", { clusterIP: "fd00::1", ports: [{ port: 80 }] }),
    ]
    expect(buildServicePorts(services, [], FAKE_NODE)).toEqual([])
  })

  it("one service port per port, protocol lower-cased, endpoints matched by port name and protocol", () => {
    const service = svc("dns", {
      clusterIP: "172.30.0.10",
      ports: [
        { name: "dns", port: 53, protocol: "UDP", targetPort: "dns" },
        { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: "dns-tcp" },
      ],
    })
    const slice = eps(
      "dns",
      ["10.0.0.3", "10.0.0.2"],
      [
        { name: "dns", port: 5353, protocol: "UDP" },
        { name: "dns-tcp", port: 5354, protocol: "TCP" },
      ],
    )
    const ports = buildServicePorts([service], [slice], FAKE_NODE)
    expect(ports.map((p) => [p.name, p.protocol, p.endpoints.map((e) => e.endpoint)])).toEqual([
      ["ns1/dns:dns", "udp", ["10.0.0.2:5353", "10.0.0.3:5353"]],
      ["ns1/dns:dns-tcp", "tcp", ["10.0.0.2:5354", "10.0.0.3:5354"]],
    ])
    const text = compileIptables([service], [slice], FAKE_NODE, FAKE_CONFIG).restoreInput
    expect(text).toContain(
      `-A KUBE-SERVICES -m comment --comment "ns1/dns:dns cluster IP" -m udp -p udp -d 172.30.0.10 --dport 53 -j ${serviceChainName("ns1/dns:dns", "udp")}`,
    )
    expect(text).toContain("-m udp -p udp -j DNAT --to-destination 10.0.0.2:5353")
  })

  it("uses addresses[0], de-duplicates by IP:port (local wins) and sorts by the IP:port string", () => {
    const service = svc("s", { clusterIP: "172.30.0.11", ports: [{ port: 80 }] })
    const a = eps("s", ["10.0.1.10", "10.0.1.2"], [{ port: 80 }])
    const b: EndpointSlice = {
      ...eps("s", [], [{ port: 80 }]),
      metadata: { name: "s-def", namespace: "ns1", labels: { "kubernetes.io/service-name": "s" } },
    }
    b.endpoints = [{ addresses: ["10.0.1.2", "10.9.9.9"], nodeName: "test-node" }]
    const [port] = buildServicePorts([service], [a, b], FAKE_NODE)
    expect(port.endpoints.map((e) => [e.endpoint, e.isLocal])).toEqual([
      ["10.0.1.10:80", false],
      ["10.0.1.2:80", true],
    ])
  })

  it("probabilities follow 1/(n-i) over the sorted endpoints, last rule unconditional", () => {
    const service = svc("s", { clusterIP: "172.30.0.12", ports: [{ name: "p", port: 80 }] })
    const slice = eps("s", ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], [{ name: "p", port: 8080 }])
    const chain = serviceChainName("ns1/s:p", "tcp")
    const rules = lines(compileIptables([service], [slice], FAKE_NODE, FAKE_CONFIG).restoreInput).filter(
      (l) => l.startsWith(`-A ${chain}`) && l.includes(" -> "),
    )
    expect(rules).toEqual([
      `-A ${chain} -m comment --comment "ns1/s:p -> 10.0.0.1:8080" -m statistic --mode random --probability 0.2500000000 -j ${endpointChainName("ns1/s:p", "tcp", "10.0.0.1:8080")}`,
      `-A ${chain} -m comment --comment "ns1/s:p -> 10.0.0.2:8080" -m statistic --mode random --probability 0.3333333333 -j ${endpointChainName("ns1/s:p", "tcp", "10.0.0.2:8080")}`,
      `-A ${chain} -m comment --comment "ns1/s:p -> 10.0.0.3:8080" -m statistic --mode random --probability 0.5000000000 -j ${endpointChainName("ns1/s:p", "tcp", "10.0.0.3:8080")}`,
      `-A ${chain} -m comment --comment "ns1/s:p -> 10.0.0.4:8080" -j ${endpointChainName("ns1/s:p", "tcp", "10.0.0.4:8080")}`,
    ])
  })
})

describe("configuration", () => {
  const { services, slices } = loadManifests("g1-overall.yaml")

  it("masqueradeAll drops the ! -s detector; no detector omits the rule and the pod short-circuit", () => {
    const all = compileIptables(services, slices, FAKE_NODE, { ...FAKE_CONFIG, masqueradeAll: true }).restoreInput
    expect(all).toContain(
      `-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ`,
    )
    const none = compileIptables(services, slices, FAKE_NODE, { ...FAKE_CONFIG, clusterCIDR: null }).restoreInput
    expect(none).not.toContain('cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s')
    expect(none).not.toContain("pod traffic for")
    expect(none).not.toMatch(/^-A KUBE-SVC-XPGD46QRK7WJZT7O .*KUBE-MARK-MASQ$/m)
  })

  it("localhostNodePorts=false: no KUBE-FIREWALL, no localhost NodePort rules, ! -d 127.0.0.0/8 on the last rule", () => {
    const text = compileIptables(services, slices, FAKE_NODE, {
      ...FAKE_CONFIG,
      localhostNodePorts: false,
    }).restoreInput
    expect(text).not.toContain("KUBE-FIREWALL")
    expect(text).not.toContain("localhost_nps_accepted_pkts")
    expect(text).toContain(
      `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS`,
    )
  })

  it("nodePortAddresses: one last rule per matching node IP; loopback excluded disables localhost NodePorts", () => {
    const node = { ...FAKE_NODE, ips: ["192.168.0.2", "10.1.0.2"] }
    const text = compileIptables(services, slices, node, {
      ...FAKE_CONFIG,
      nodePortAddresses: ["192.168.0.0/24", "10.1.0.0/16"],
    }).restoreInput
    const last = lines(text).filter((l) => l.includes("must be the last rule"))
    expect(last).toEqual([
      `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 10.1.0.2 -j KUBE-NODEPORTS`,
      `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.0.2 -j KUBE-NODEPORTS`,
    ])
    expect(text).not.toContain("KUBE-FIREWALL")
    const withLoopback = compileIptables(services, slices, node, {
      ...FAKE_CONFIG,
      nodePortAddresses: ["127.0.0.0/8", "192.168.0.2/32"],
    }).restoreInput
    expect(
      lines(withLoopback)
        .filter((l) => l.includes("must be the last rule"))
        .map((l) => l.split(" -d ")[1]),
    ).toEqual(["127.0.0.1 -j KUBE-NODEPORTS", "192.168.0.2 -j KUBE-NODEPORTS"])
    expect(withLoopback).toContain(":KUBE-FIREWALL - [0:0]")
  })

  it("randomFully, masqueradeBit, conntrackTCPLiberal, nfacct off", () => {
    const text = compileIptables(services, slices, FAKE_NODE, {
      ...FAKE_CONFIG,
      randomFully: true,
      masqueradeBit: 15,
      conntrackTCPLiberal: true,
      nfacct: false,
    }).restoreInput
    expect(text).toContain(
      `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
    )
    expect(text).toContain("-A KUBE-MARK-MASQ -j MARK --or-mark 0x8000")
    expect(text).toContain("-A KUBE-POSTROUTING -m mark ! --mark 0x8000/0x8000 -j RETURN")
    expect(text).not.toContain("--ctstate INVALID")
    expect(text).not.toContain("nfacct")
  })

  it("large-cluster mode drops per-endpoint comments above the threshold", () => {
    const text = compileIptables(services, slices, FAKE_NODE, { ...FAKE_CONFIG, largeClusterEndpointsThreshold: 5 })
    expect(text.largeClusterMode).toBe(true)
    expect(text.restoreInput).toContain("-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1 -j KUBE-MARK-MASQ")
    expect(text.restoreInput).toContain("-A KUBE-SVC-XPGD46QRK7WJZT7O -j KUBE-SEP-SXIVWICOYRO3J4NJ")
    // The cluster IP masquerade rule keeps its comment.
    expect(text.restoreInput).toContain(`-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP"`)
  })

  it("FW chain also admits the LB IPs as source when a source range contains the node IP", () => {
    const service = svc(
      "lb",
      {
        type: "LoadBalancer",
        clusterIP: "172.30.0.50",
        loadBalancerSourceRanges: ["192.168.0.0/24", "203.0.113.7/25"],
        ports: [{ port: 80, nodePort: 3005 }],
      },
      { loadBalancer: { ingress: [{ ip: "5.6.7.8" }, { ip: "9.10.11.12", ipMode: "Proxy" }] } },
    )
    const text = compileIptables(
      [service],
      [eps("lb", ["10.0.0.1"], [{ port: 80 }])],
      FAKE_NODE,
      FAKE_CONFIG,
    ).restoreInput
    const fw = lines(text).filter((l) => l.startsWith("-A KUBE-FW-"))
    expect(fw.map((l) => l.replace(/KUBE-(FW|EXT)-\w+/g, "$1"))).toEqual([
      `-A FW -m comment --comment "ns1/lb loadbalancer IP" -s 192.168.0.0/24 -j EXT`,
      `-A FW -m comment --comment "ns1/lb loadbalancer IP" -s 203.0.113.0/25 -j EXT`,
      `-A FW -m comment --comment "ns1/lb loadbalancer IP" -s 5.6.7.8 -j EXT`,
      `-A FW -m comment --comment "other traffic to ns1/lb will be dropped by KUBE-PROXY-FIREWALL"`,
    ])
    // ipMode Proxy ingress is not programmed.
    expect(text).not.toContain("9.10.11.12")
  })
})

describe("output shape", () => {
  it("emits filter then nat, top-level chains first, final nodeports rule last", () => {
    const { services, slices } = loadManifests("g1-overall.yaml")
    const text = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG).restoreInput
    const l = lines(text)
    expect(l.slice(0, 7)).toEqual([
      "*filter",
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-EXTERNAL-SERVICES - [0:0]",
      ":KUBE-FORWARD - [0:0]",
      ":KUBE-NODEPORTS - [0:0]",
      ":KUBE-PROXY-FIREWALL - [0:0]",
      ":KUBE-FIREWALL - [0:0]",
    ])
    const nat = l.indexOf("*nat")
    expect(l.slice(nat + 1, nat + 5)).toEqual([
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-NODEPORTS - [0:0]",
      ":KUBE-POSTROUTING - [0:0]",
      ":KUBE-MARK-MASQ - [0:0]",
    ])
    expect(l[l.length - 3]).toContain("must be the last rule")
    expect(l.slice(-2)).toEqual(["COMMIT", ""])
  })

  it("is deterministic and independent of input order", () => {
    const { services, slices } = loadManifests("g1-overall.yaml")
    const reference = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG).restoreInput
    fc.assert(
      fc.property(
        fc.shuffledSubarray(services, { minLength: services.length }),
        fc.shuffledSubarray(slices, { minLength: slices.length }),
        (s, e) => {
          expect(compileIptables(s, e, FAKE_NODE, FAKE_CONFIG).restoreInput).toBe(reference)
        },
      ),
      { numRuns: 50 },
    )
  })

  it("sorting is idempotent and preserves the rule multiset", () => {
    const { services, slices } = loadManifests("g1-overall.yaml")
    const text = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG).restoreInput
    const sorted = sortIptablesRules(text)
    expect(sortIptablesRules(sorted)).toBe(sorted)
    expect([...lines(sorted)].sort()).toEqual([...lines(text)].sort().map((x) => x))
  })

  it("jump rules match kube-proxy.md §2.1", () => {
    const rules = jumpRules().map((j) => `${j.table} ${j.chain} ${j.spec}`)
    expect(rules).toEqual([
      `filter INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
      `filter FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
      `filter INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS`,
      `filter FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
      `filter OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
      `filter FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
      `filter INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
      `filter OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
      `filter FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
      `nat OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
      `nat PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
      `nat POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING`,
      `filter INPUT -j KUBE-FIREWALL`,
      `filter OUTPUT -j KUBE-FIREWALL`,
    ])
  })
})

describe("iptablesConfigFrom", () => {
  it("maps KubeProxySpec-named fields and keeps defaults", () => {
    const config = iptablesConfigFrom({
      clusterCIDR: "10.244.0.0/16",
      masqueradeAll: false,
      masqueradeBit: 14,
      localhostNodePorts: true,
      nfacct: false,
      randomFully: true,
    })
    expect(config).toEqual({ ...DEFAULT_IPTABLES_CONFIG, clusterCIDR: "10.244.0.0/16", nfacct: false })
  })
})
