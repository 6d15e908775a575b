/**
 * kube-proxy settings every mode shares: `nodePortAddresses` (--nodeport-addresses) and the
 * conntrack sysctls (--conntrack-*). Unit cases transcribed from upstream's tests where they exist
 * (pkg/proxy/apis/config/validation/validation_test.go TestValidateKubeProxyNodePortAddress), then
 * through the scenario loader and the runtime: the iptables rules a setting changes and the
 * nf_conntrack_max a node ends up with.
 */
import { describe, expect, it } from "vitest"
import { renderRules, runScenario } from "../../src/cluster/index.ts"
import { World } from "../../src/cluster/world.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import {
  CONNTRACK_MAX_PER_CORE_DEFAULT,
  CONNTRACK_MIN_DEFAULT,
  KERNEL_CONNTRACK_MAX_DEFAULT,
  kubeProxyConntrackMax,
  nodeConntrackSysctls,
} from "../../src/proxy/conntrack-sysctls.ts"
import {
  effectiveNodePortAddresses,
  ipv4NodePortAddresses,
  nodePortAddressesForNode,
  resolvePrimary,
  validateNodePortAddresses,
} from "../../src/proxy/node-port-addresses.ts"
import { formatIssue } from "../../src/scenario/issues.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { formatCidr } from "../../src/wire/ipv4.ts"
import { KUBE_PROXY_CONNTRACK_TIMEOUTS, LINUX_CONNTRACK_TIMEOUTS } from "../../src/netfilter/conntrack.ts"

describe("nodePortAddresses", () => {
  // validation_test.go TestValidateKubeProxyNodePortAddress: [addresses, [index, message]...].
  const cases: [string, string[], [number, string][]][] = [
    ["no addresses", [], []],
    ["valid 1", ["127.0.0.0/8"], []],
    ["valid 2", ["0.0.0.0/0"], []],
    ["valid 3", ["::/0"], []],
    ["valid 4", ["127.0.0.1/32", "1.2.3.0/24"], []],
    ["valid 6", ["::1/128"], []],
    ["valid 9", ["10.20.0.0/16", "100.200.0.0/16"], []],
    ["valid 11", ["2001:db8::/32"], []],
    ["primary", ["primary"], []],
    ["invalid foo address", ["foo"], [[0, "must be a valid CIDR"]]],
    ["invalid octet address", ["10.0.0.0/0", "1.2.3"], [[1, "must be a valid CIDR"]]],
    ["address cannot be 0", ["127.0.0.1/32", "0", "1.2.3.0/24"], [[1, "must be a valid CIDR"]]],
    ["address missing subnet range", ["127.0.0.1/32", "10.20.30.40", "1.2.3.0/24"], [[1, "must be a valid CIDR"]]],
    [
      "missing ipv6 subnet ranges",
      ["::0", "::1", "2001:db8::/32"],
      [
        [0, "must be a valid CIDR"],
        [1, "must be a valid CIDR"],
      ],
    ],
    ["invalid ipv6 ip format", ["::1/128", "2001:db8::/32", "2001:db8:xyz/64"], [[2, "must be a valid CIDR"]]],
    ["invalid primary/CIDR mix 1", ["primary", "127.0.0.1/32"], [[0, "can't use both 'primary' and CIDRs"]]],
    ["invalid primary/CIDR mix 2", ["127.0.0.1/32", "primary"], [[1, "can't use both 'primary' and CIDRs"]]],
  ]
  for (const [name, addresses, expected] of cases)
    it(`validates like upstream: ${name}`, () => {
      expect(validateNodePortAddresses(addresses).map((i) => [i.index, i.message])).toEqual(expected)
    })

  it("defaults per mode (platformApplyDefaults): nftables [primary], the others every address", () => {
    expect(effectiveNodePortAddresses("nftables", null)).toEqual(["primary"])
    expect(effectiveNodePortAddresses("nftables", [])).toEqual(["primary"])
    expect(effectiveNodePortAddresses("nftables", ["10.0.0.0/8"])).toEqual(["10.0.0.0/8"])
    for (const mode of ["iptables", "ipvs", "userspace"] as const) {
      expect(effectiveNodePortAddresses(mode, null)).toEqual([])
      expect(effectiveNodePortAddresses(mode, ["primary"])).toEqual(["primary"])
    }
  })

  it("primary is the node IP /32, none when it is loopback; other-family CIDRs drop out (NewNodePortAddresses)", () => {
    expect(resolvePrimary(["primary"], "10.0.0.2")).toEqual(["10.0.0.2/32"])
    expect(resolvePrimary(["primary"], "127.0.0.1")).toEqual([])
    expect(resolvePrimary(["10.0.0.0/8"], "10.0.0.2")).toEqual(["10.0.0.0/8"])
    // Only IPv6 CIDRs: the IPv4 proxier matches every address.
    expect(ipv4NodePortAddresses(["2001:db8::/64"]).matchAll).toBe(true)
    expect(ipv4NodePortAddresses([]).matchAll).toBe(true)
    // A zero CIDR anywhere: match all.
    expect(ipv4NodePortAddresses(["10.0.0.0/8", "0.0.0.0/0"]).matchAll).toBe(true)
    const some = ipv4NodePortAddresses(["192.168.0.0/24", "2001:db8::/64", "127.0.0.1/32"])
    expect(some.matchAll).toBe(false)
    expect(some.cidrs.map(formatCidr)).toEqual(["192.168.0.0/24", "127.0.0.1/32"])
    expect(some.containsIPv4Loopback).toBe(true)
    expect(ipv4NodePortAddresses(["192.168.0.0/24"]).containsIPv4Loopback).toBe(false)
    const nft = nodePortAddressesForNode("nftables", null, "10.0.0.2")
    expect(nft.cidrs.map(formatCidr)).toEqual(["10.0.0.2/32"])
    expect(nodePortAddressesForNode("iptables", null, "10.0.0.2").matchAll).toBe(true)
  })
})

describe("conntrack sysctls", () => {
  it("nf_conntrack_max = max(maxPerCore x CPUs, min); maxPerCore 0 leaves the kernel's (getConntrackMax)", () => {
    expect(kubeProxyConntrackMax(CONNTRACK_MAX_PER_CORE_DEFAULT, CONNTRACK_MIN_DEFAULT, 2)).toBe(131072)
    expect(kubeProxyConntrackMax(CONNTRACK_MAX_PER_CORE_DEFAULT, CONNTRACK_MIN_DEFAULT, 4)).toBe(131072)
    expect(kubeProxyConntrackMax(CONNTRACK_MAX_PER_CORE_DEFAULT, CONNTRACK_MIN_DEFAULT, 16)).toBe(524288)
    expect(kubeProxyConntrackMax(0, CONNTRACK_MIN_DEFAULT, 16)).toBe(0)
    expect(kubeProxyConntrackMax(10, 0, 3)).toBe(30)
    const base = {
      maxPerCore: 0,
      min: CONNTRACK_MIN_DEFAULT,
      kernelMax: KERNEL_CONNTRACK_MAX_DEFAULT,
      tcpEstablishedTimeoutNs: 0,
      tcpCloseWaitTimeoutNs: 0,
      udpTimeoutNs: 0,
      udpStreamTimeoutNs: 0,
      tcpBeLiberal: false,
    }
    const kernel = nodeConntrackSysctls(base, 8)
    expect(kernel.max).toBe(262144)
    // Timeouts of 0 leave the kernel's values (setSysctls writes only those > 0).
    expect(kernel.timeouts.tcpEstablishedNs).toBe(LINUX_CONNTRACK_TIMEOUTS.tcpEstablishedNs)
    expect(kernel.timeouts.tcpCloseWaitNs).toBe(LINUX_CONNTRACK_TIMEOUTS.tcpCloseWaitNs)
    expect(kernel.timeouts.udpNs).toBe(30e9)
    const set = nodeConntrackSysctls(
      {
        ...base,
        maxPerCore: 32768,
        tcpEstablishedTimeoutNs: KUBE_PROXY_CONNTRACK_TIMEOUTS.tcpEstablishedNs,
        udpTimeoutNs: 5e9,
      },
      8,
    )
    expect(set.max).toBe(262144)
    expect(set.timeouts.tcpEstablishedNs).toBe(86400e9)
    expect(set.timeouts.udpNs).toBe(5e9)
  })
})

/** A small scenario with a NodePort Service and a client, with `kubeProxy` fields added. */
function scenario(kubeProxy: string, cluster = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: settings }
duration: 2s
cluster: { nodes: { count: 2 }, systemServices: false${cluster} }
kubeProxy: { mode: iptables${kubeProxy} }
# kube-proxy settings, not DNS: names resolve without packets, so conntrack holds only web's flows.
dns: { mode: static }
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
      - { apiVersion: v1, kind: Service, metadata: { name: web }, spec: { type: NodePort, selector: { app: web }, ports: [ { port: 80, targetPort: 8080, nodePort: 30080 } ] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: client }, spec: { containers: [ { name: c, image: busybox } ] } }
workloads:
  - { name: get, from: pod/client, to: "http://web/", arrival: { closedLoop: 8 }, count: 40, connection: new }
`
}

function load(text: string): ScenarioSpec {
  const result = decodeScenarioText("settings.yaml", text)
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join("\n"))
  return result.scenario.spec
}

function errors(text: string): string[] {
  const result = decodeScenarioText("settings.yaml", text)
  return result.ok ? [] : result.issues.map(formatIssue)
}

describe("settings through the scenario", () => {
  it("nodePortAddresses: iptables writes one -d rule per matching node IP instead of addrtype LOCAL", () => {
    const all = renderRules(load(scenario("")), { node: "node-1", sorted: false })
    expect(all).toContain(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    )
    const spec = load(scenario(", nodePortAddresses: [primary]"))
    expect(spec.kubeProxy.nodePortAddresses).toEqual(["primary"])
    const primary = renderRules(spec, { node: "node-1", sorted: false })
    const lines = primary.split("\n").filter((l) => l.startsWith("-A KUBE-SERVICES") && l.includes("-j KUBE-NODEPORTS"))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^-A KUBE-SERVICES -m comment --comment ".*" -d 10\.0\.\d+\.\d+ -j KUBE-NODEPORTS$/)
    // A CIDR that holds no node address: no NodePort rule on the node at all.
    const none = renderRules(load(scenario(', nodePortAddresses: ["192.168.77.0/24"]')), {
      node: "node-1",
      sorted: false,
    })
    expect(none.split("\n").filter((l) => l.startsWith("-A KUBE-SERVICES") && l.includes("-j KUBE-NODEPORTS"))).toEqual(
      [],
    )
  })

  it("nodePortAddresses reaches the nftables and IPVS proxiers (nftables defaults to [primary])", () => {
    // pkg/proxy/nftables/proxier.go: the node IPs NodePorts accept, from NodePortAddresses.GetNodeIPs.
    const nftDefault = renderRules(load(scenario("").replace("mode: iptables", "mode: nftables")), {
      node: "node-1",
      sorted: false,
    })
    expect(/set nodeport-ips \{[^}]*elements = \{ 10\.0\.\d+\.\d+ \}/.test(nftDefault)).toBe(true)
    const nftNone = renderRules(
      load(scenario(', nodePortAddresses: ["192.168.77.0/24"]').replace("mode: iptables", "mode: nftables")),
      { node: "node-1", sorted: false },
    )
    expect(/set nodeport-ips \{[^}]*elements/.test(nftNone)).toBe(false)
    // pkg/proxy/ipvs/proxier.go: one virtual server per node IP NodePortAddresses selects.
    const ipvsAll = renderRules(load(scenario("").replace("mode: iptables", "mode: ipvs")), {
      node: "node-1",
      sorted: false,
    })
    expect(ipvsAll).toMatch(/^TCP {2}10\.0\.\d+\.\d+:30080 rr$/m)
    const ipvsNone = renderRules(
      load(scenario(', nodePortAddresses: ["192.168.77.0/24"]').replace("mode: iptables", "mode: ipvs")),
      { node: "node-1", sorted: false },
    )
    expect(ipvsNone).not.toMatch(/:30080 rr$/m)
  })

  it("nodePortAddresses is ignored in userspace mode, as v1.25's userspace proxier did, with a warning", () => {
    // cmd/kube-proxy/app/server_others.go passes config.NodePortAddresses to userspace.NewProxier;
    // NewCustomProxier drops it (createProxier has no such parameter), and openNodePort claims the
    // port on every address (claimNodePort(nil, ...)) behind `-m addrtype --dst-type LOCAL`.
    const userspace = (kubeProxy: string) => scenario(kubeProxy).replace("mode: iptables", "mode: userspace")
    const unset = renderRules(load(userspace("")), { node: "node-1", sorted: false })
    const set = renderRules(load(userspace(', nodePortAddresses: ["192.168.77.0/24"]')), {
      node: "node-1",
      sorted: false,
    })
    expect(set).toBe(unset)
    expect(set).toContain("-m addrtype --dst-type LOCAL")
    expect(set).toMatch(/-A KUBE-NODEPORT-CONTAINER .*--dport 30080 -j REDIRECT --to-ports \d+/)
    const warned = decodeScenarioText("settings.yaml", userspace(', nodePortAddresses: ["192.168.77.0/24"]'))
    if (!warned.ok) throw new Error("expected the scenario to load")
    expect(warned.scenario.warnings.map(formatIssue)).toEqual([
      "settings.yaml:6:50: kubeProxy.nodePortAddresses: warning: ignored in userspace mode, as by kube-proxy v1.25's userspace proxier: NodePorts are open on every node address",
    ])
    // Other modes take it without a warning.
    const iptables = decodeScenarioText("settings.yaml", scenario(', nodePortAddresses: ["192.168.77.0/24"]'))
    expect(iptables.ok && iptables.scenario.warnings).toEqual([])
  })

  it("nodePortAddresses: upstream's validation errors with the field path", () => {
    expect(errors(scenario(', nodePortAddresses: [primary, "10.0.0.0/8"]'))).toEqual([
      `settings.yaml:6:50: kubeProxy.nodePortAddresses[0]: "primary": can't use both 'primary' and CIDRs (e.g. 10.0.0.0/16, or primary alone)`,
    ])
    expect(errors(scenario(', nodePortAddresses: ["10.20.30.40"]'))[0]).toContain(
      'kubeProxy.nodePortAddresses[0]: "10.20.30.40": must be a valid CIDR',
    )
  })

  it("conntrack.tcpBeLiberal: iptables mode leaves out the INVALID drop rule", () => {
    const invalidDrop = "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
    expect(renderRules(load(scenario("")), { node: "node-1", sorted: false })).toContain(invalidDrop)
    expect(
      renderRules(load(scenario(", conntrack: { tcpBeLiberal: true }")), { node: "node-1", sorted: false }),
    ).not.toContain(invalidDrop)
  })

  it("conntrack.maxPerCore x node cpus sizes nf_conntrack_max: a small table fills, a larger one does not", () => {
    const run = (kubeProxy: string, cluster: string) => {
      const spec = load(scenario(kubeProxy, cluster))
      return runScenario(spec, { seed: 1 })
    }
    // 2 per core x 2 CPUs, min 0: 4 entries per node.
    const small = run(", conntrack: { maxPerCore: 2, min: 0 }", ", cpus: 2")
    expect(small.conntrack.dropsTableFull).toBeGreaterThan(0)
    // Same setting, 64 CPUs: 128 entries, enough for 8 connections at a time.
    const large = run(", conntrack: { maxPerCore: 2, min: 0 }", ", cpus: 64")
    expect(large.conntrack.dropsTableFull).toBe(0)
    expect(large.workloads.get.requests.completed).toBe(40)
    // min is a floor: 2 x 2 = 4 < 128.
    const floored = run(", conntrack: { maxPerCore: 2, min: 128 }", ", cpus: 2")
    expect(floored.conntrack.dropsTableFull).toBe(0)
  })

  it("conntrack.buckets (the module's hashsize) reaches each node's table, raised by kube-proxy to max / 4", () => {
    const buckets = (kubeProxy: string, cluster: string, nodes = "nodes: { count: 2 }"): number[] =>
      [...new World(load(scenario(kubeProxy, cluster).replace("nodes: { count: 2 }", nodes)), 1).nodes.values()].map(
        (n) => n.filter.conntrack.buckets,
      )
    // Default node: 262144 buckets (8 GiB), kube-proxy's 131072 / 4 is smaller.
    expect(buckets("", "")).toEqual([262144, 262144])
    // hashsize 4096 at boot: kube-proxy raises it to 131072 / 4; a node's own setting wins.
    expect(buckets("", ", conntrack: { buckets: 4096 }")).toEqual([32768, 32768])
    const nodes = "nodes: [{ name: a, conntrack: { buckets: 700 } }, { name: b }]"
    expect(buckets(", conntrack: { maxPerCore: 0 }", ", conntrack: { buckets: 4096 }", nodes)).toEqual([1024, 4096])
  })

  it("nf_conntrack_max must fit its C int", () => {
    expect(errors(scenario(", conntrack: { maxPerCore: 1073741824 }", ", cpus: 4"))[0]).toContain(
      "kubeProxy.conntrack.maxPerCore: maxPerCore x 4 CPUs exceeds nf_conntrack_max's limit 2147483647",
    )
    expect(errors(scenario(", conntrack: { maxPerCore: 1073741823 }", ", cpus: 2"))).toEqual([])
  })

  it("conntrack.max alone is the old absolute --conntrack-max; with maxPerCore it is an error", () => {
    expect(load(scenario(", conntrack: { max: 1000 }")).kubeProxy.conntrack).toMatchObject({ max: 1000, maxPerCore: 0 })
    expect(errors(scenario(", conntrack: { max: 1000, maxPerCore: 10 }"))[0]).toContain(
      "kubeProxy.conntrack.maxPerCore: max and maxPerCore are mutually exclusive",
    )
  })
})
