/**
 * The IPVS compile shared between nodes (proxy/ipvs/shared.ts) returns for every node what
 * compiling the node's own whole list returns (compile.ts `compileIpvs`, as syncProxyRules builds
 * it per node), over Cluster and Local policies, NodePorts, load balancers with source ranges,
 * external IPs, hinted endpoints and endpoint moves; and nodes with equal views get the same
 * objects (the result itself for nodes hosting no endpoint, the virtual servers and every set but
 * KUBE-LOOP-BACK for nodes hosting endpoints of Cluster-policy Services).
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../../src/k8s/types.ts"
import { testService as service } from "../helpers.ts"
import { compileIpvs, DEFAULT_IPVS_CONFIG } from "../../../src/proxy/ipvs/compile.ts"
import { IpvsSharedCompile } from "../../../src/proxy/ipvs/shared.ts"
import { KUBE_LOOP_BACK } from "../../../src/proxy/ipvs/names.ts"
import { EMPTY_IPVS_NODE_STATE, planIpvsSync } from "../../../src/proxy/ipvs/reconcile.ts"
import { SharedServicePorts } from "../../../src/proxy/shared-service-ports.ts"
import type { ProxyNode } from "../../../src/proxy/service-port.ts"

const NODES: ProxyNode[] = ["n1", "n2", "n3", "n4"].map((name, i) => ({
  name,
  ips: [`192.168.0.${i + 2}`],
  labels: { "topology.kubernetes.io/zone": i < 2 ? "a" : "b" },
}))

interface Ep {
  readonly ip: string
  readonly node: string
  readonly zone?: string
}

function slice(serviceName: string, eps: readonly Ep[]): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${serviceName}-1`, namespace: "ns", labels: { "kubernetes.io/service-name": serviceName } },
    addressType: "IPv4",
    ports: [{ name: "p", port: 8080, protocol: "TCP" }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node,
      conditions: { ready: true, serving: true, terminating: false },
      ...(e.zone === undefined ? {} : { zone: e.zone, hints: { forZones: [{ name: e.zone }] } }),
    })),
  } as EndpointSlice
}

const CLUSTER_ONLY: Service[] = [0, 1, 2].map((i) =>
  service(`c${i}`, i === 1 ? { sessionAffinity: "ClientIP" } : {}, i),
)
const MIXED: Service[] = [
  ...CLUSTER_ONLY,
  service("itp-local", { internalTrafficPolicy: "Local" }, 5),
  service("np", { type: "NodePort", ports: [{ name: "p", port: 80, protocol: "TCP", nodePort: 30080 }] }, 6),
  service(
    "lb",
    {
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 30999,
      loadBalancerSourceRanges: ["192.168.0.0/30"],
      ports: [{ name: "p", port: 80, protocol: "TCP", nodePort: 30081 }],
    },
    7,
  ),
  service("ext", { externalIPs: ["192.168.0.3", "203.0.113.9"] }, 8),
]

function withLb(services: Service[]): Service[] {
  return services.map((s) =>
    s.metadata.name === "lb"
      ? ({ ...s, status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }] } } } as Service)
      : s,
  )
}

function slicesFor(services: readonly Service[], move: number): EndpointSlice[] {
  return services.map((s, i) =>
    slice(s.metadata.name, [
      { ip: `10.244.${i}.${10 + move}`, node: NODES[(i + move) % 3].name },
      { ip: `10.244.${i}.${20 + move}`, node: NODES[(i + move + 1) % 3].name },
    ]),
  )
}

const HINTED = (): EndpointSlice[] =>
  CLUSTER_ONLY.map((s, i) =>
    slice(s.metadata.name, [
      { ip: `10.244.${i}.10`, node: "n1", zone: "a" },
      { ip: `10.244.${i}.11`, node: "n3", zone: "b" },
    ]),
  )

function check(states: [Service[], EndpointSlice[]][], config = DEFAULT_IPVS_CONFIG): IpvsSharedCompile {
  const shared = new IpvsSharedCompile(config, new SharedServicePorts())
  for (const [services, slices] of states)
    for (const node of NODES) {
      const got = shared.compile(services, slices, node)
      const want = compileIpvs(services, slices, node, config)
      expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(want)))
    }
  return shared
}

describe("IPVS compile shared between nodes", () => {
  it("equals the per-node compile for Cluster policies, and shares the objects", () => {
    const services = CLUSTER_ONLY
    const slices = slicesFor(services, 0)
    const shared = check([
      [services, slices],
      [services, slicesFor(services, 1)],
    ])
    // n4 hosts nothing: the base result itself; n1 hosts endpoints: its own KUBE-LOOP-BACK only.
    const s2 = new IpvsSharedCompile(DEFAULT_IPVS_CONFIG, new SharedServicePorts())
    const n4 = s2.compile(services, slices, NODES[3])
    const n1 = s2.compile(services, slices, NODES[0])
    expect(s2.compile(services, slices, NODES[3])).toBe(n4)
    expect(n1.virtualServers).toBe(n4.virtualServers)
    for (let i = 0; i < n1.ipsets.length; i++) {
      if (n1.ipsets[i].info.name === KUBE_LOOP_BACK) expect(n1.ipsets[i].entries.length).toBeGreaterThan(0)
      else expect(n1.ipsets[i]).toBe(n4.ipsets[i])
    }
    expect(s2.basesAssembled).toBe(1)
    expect(s2.nodesAssembled).toBe(0)
    expect(shared.fragmentsCompiled).toBeLessThan(2 * 2 * services.length + 2 * 6)
  })

  it("equals the per-node compile with Local policies, NodePorts, load balancers, external IPs", () => {
    const services = withLb(MIXED)
    const shared = check([
      [MIXED, slicesFor(MIXED, 0)],
      [services, slicesFor(services, 0)],
      [services, slicesFor(services, 2)],
      [services.slice(0, 4), slicesFor(services.slice(0, 4), 1)],
    ])
    expect(shared.nodesAssembled).toBeGreaterThan(0)
    expect(shared.resultsPatched + shared.resultsShared).toBeGreaterThan(0)
  })

  it("equals the per-node compile with zone hints and with the mh scheduler", () => {
    expect(check([[CLUSTER_ONLY, HINTED()]]).nodesAssembled).toBe(NODES.length)
    check([[withLb(MIXED), slicesFor(withLb(MIXED), 1)]], { ...DEFAULT_IPVS_CONFIG, scheduler: "mh" })
  })

  it("shares programmed servers between nodes whose results differ (NodePorts per node IP)", () => {
    const services = withLb(MIXED)
    const slices = slicesFor(services, 0)
    const shared = new IpvsSharedCompile(DEFAULT_IPVS_CONFIG, new SharedServicePorts())
    const [a, b] = [NODES[0], NODES[3]].map(
      (node) =>
        planIpvsSync(EMPTY_IPVS_NODE_STATE, shared.compile(services, slices, node), { initialSync: true }).state,
    )
    // The ClusterIP virtual server of c0 (endpoints on n1 and n2): one object on both nodes.
    expect(a.virtualServers.get("172.30.0.10:80/TCP")).toBeDefined()
    expect(a.virtualServers.get("172.30.0.10:80/TCP")).toBe(b.virtualServers.get("172.30.0.10:80/TCP"))
    // NodePort virtual servers are per node IP.
    expect(a.virtualServers.has("192.168.0.2:30080/TCP")).toBe(true)
    expect(b.virtualServers.has("192.168.0.2:30080/TCP")).toBe(false)
  })
})
