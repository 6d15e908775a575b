/**
 * Service API fields that change the data plane, through the whole simulator (API server ->
 * controllers -> kube-proxy rules -> packets):
 * - spec.allocateLoadBalancerNodePorts: false (pkg/registry/core/service/storage/alloc.go
 *   shouldAllocateNodePorts): no NodePort, so no KUBE-NODEPORTS rules; the cloud load balancer
 *   targets the endpoints directly.
 * - spec.trafficDistribution: PreferClose (trafficdist.go ReconcileHints + pkg/proxy/topology.go
 *   CategorizeEndpoints): a client's traffic stays in its zone while the zone has a ready endpoint.
 */
import { describe, expect, it } from "vitest"
import { runScenario, World } from "../../src/cluster/index.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { specFromText } from "./helpers.ts"

/** node-1 in zone a, node-2 and node-3 in zone b; web-N pinned to node-N; clients on node-1 and node-2. */
function zonal(serviceSpec: string, workloads: string): string {
  const pod = (name: string, node: string, labels: string): string => `
      - apiVersion: v1
        kind: Pod
        metadata: { name: ${name}, labels: { ${labels} } }
        spec: { nodeName: ${node}, containers: [{ name: c, image: nginx, ports: [{ containerPort: 80 }] }] }`
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: zonal }
seed: 1
duration: 20s
cluster:
  nodes:
    - { name: node-1, zone: a, ip: 10.0.0.11 }
    - { name: node-2, zone: b, ip: 10.0.0.12 }
    - { name: node-3, zone: b, ip: 10.0.0.13 }
loadBalancer: { pool: [198.51.100.10/32] }
externalHosts:
  - { name: client, ip: 203.0.113.10 }
manifests:
  - inline:${pod("web-1", "node-1", "app: web")}${pod("web-2", "node-2", "app: web")}${pod("web-3", "node-3", "app: web")}${pod("client-a", "node-1", "role: client")}${pod("client-b", "node-2", "role: client")}
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec:
          selector: { app: web }
${serviceSpec}
workloads:
${workloads}
`
}

const CLIENT_WORKLOADS = `  - { name: from-a, from: pod/client-a, to: "http://web/", arrival: { every: 10ms }, count: 300 }
  - { name: from-b, from: pod/client-b, to: "http://web/", arrival: { every: 10ms }, count: 300 }`

function usedNodes(byNode: Readonly<Record<string, number>> | undefined): string[] {
  return Object.entries(byNode ?? {})
    .filter(([, n]) => n > 0)
    .map(([node]) => node)
    .sort()
}

describe("trafficDistribution: PreferClose", () => {
  it("keeps each client's traffic in its own zone", () => {
    const doc = runScenario(
      specFromText(
        zonal("          trafficDistribution: PreferClose\n          ports: [{ port: 80 }]", CLIENT_WORKLOADS),
      ),
      { seed: 1 },
    )
    expect(doc.workloads["from-a"].requests.completed).toBe(300)
    expect(doc.workloads["from-b"].requests.completed).toBe(300)
    expect(usedNodes(doc.workloads["from-a"].byNode)).toEqual(["node-1"])
    expect(usedNodes(doc.workloads["from-b"].byNode)).toEqual(["node-2", "node-3"])
  })

  it("spreads over every zone without it (the same scenario, field removed)", () => {
    const doc = runScenario(specFromText(zonal("          ports: [{ port: 80 }]", CLIENT_WORKLOADS)), { seed: 1 })
    expect(usedNodes(doc.workloads["from-a"].byNode)).toEqual(["node-1", "node-2", "node-3"])
    expect(usedNodes(doc.workloads["from-b"].byNode)).toEqual(["node-1", "node-2", "node-3"])
  })

  it("falls back to every endpoint when the client's zone loses its last one (kube-proxy needs a hint for its zone)", () => {
    const doc = runScenario(
      specFromText(
        zonal(
          "          trafficDistribution: PreferClose\n          ports: [{ port: 80 }]",
          `  - { name: from-a, from: pod/client-a, to: "http://web/", arrival: { every: 10ms }, start: 12s, count: 300 }`,
        ) + "timeline:\n  - { at: 1s, delete: pod/web-1 }\n",
      ),
      { seed: 1 },
    )
    expect(doc.workloads["from-a"].requests.completed).toBe(300)
    expect(usedNodes(doc.workloads["from-a"].byNode)).toEqual(["node-2", "node-3"])
  })

  it("writes forZones hints on the controller's EndpointSlice endpoints", () => {
    const world = new World(
      specFromText(
        zonal("          trafficDistribution: PreferClose\n          ports: [{ port: 80 }]", CLIENT_WORKLOADS),
      ),
      1,
    )
    world.scheduler.run({ timeNsMax: 3 * NS_PER_S, eventCountMax: 10_000_000 })
    const hints = world.controlPlane.store
      .endpointSlicesFor("default", "web")
      .flatMap((s) => s.endpoints.map((e) => `${e.targetRef?.name} ${e.zone} ${JSON.stringify(e.hints)}`))
    expect(hints.sort()).toEqual([
      'web-1 a {"forZones":[{"name":"a"}]}',
      'web-2 b {"forZones":[{"name":"b"}]}',
      'web-3 b {"forZones":[{"name":"b"}]}',
    ])
  })
})

describe("service.kubernetes.io/topology-mode: Auto", () => {
  it("keeps each client's traffic in its zone when the zones hold their share of endpoints", () => {
    const text = zonal("          ports: [{ port: 80 }]", CLIENT_WORKLOADS).replace(
      "metadata: { name: web }\n        spec:\n          selector: { app: web }",
      "metadata: { name: web, annotations: { service.kubernetes.io/topology-mode: Auto } }\n        spec:\n          selector: { app: web }",
    )
    expect(text).toContain("topology-mode: Auto")
    const doc = runScenario(specFromText(text), { seed: 1 })
    expect(doc.workloads["from-a"].requests.completed).toBe(300)
    expect(usedNodes(doc.workloads["from-a"].byNode)).toEqual(["node-1"])
    expect(usedNodes(doc.workloads["from-b"].byNode)).toEqual(["node-2", "node-3"])
  })
})

describe("allocateLoadBalancerNodePorts: false", () => {
  const service = (extra: string): string => `          type: LoadBalancer
          allocateLoadBalancerNodePorts: false
          ports: [{ name: http, port: 80${extra} }, { name: alt, port: 8080, targetPort: 80 }]`
  const external = `  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 10ms }, count: 300, timeout: 1s }`

  it("allocates no NodePort, so kube-proxy writes no NodePort rule", () => {
    const world = new World(specFromText(zonal(service(""), external)), 1)
    world.scheduler.run({ timeNsMax: 3 * NS_PER_S, eventCountMax: 10_000_000 })
    const web = world.controlPlane.store.get("Service", "default", "web")
    expect(web?.spec.ports?.map((p) => p.nodePort)).toEqual([undefined, undefined])
    expect(web?.status?.loadBalancer?.ingress?.[0]?.ip).toBe("198.51.100.10")
    const rules = world.nodes.get("node-1")?.filter.save() ?? ""
    expect(rules).toContain(
      '-A KUBE-SERVICES -m comment --comment "default/web:http loadbalancer IP" -m tcp -p tcp -d 198.51.100.10 --dport 80 -j KUBE-EXT-',
    )
    expect(rules).not.toMatch(/-A KUBE-NODEPORTS .*default\/web/)
  })

  it("keeps a NodePort the user gives (only allocation is skipped) and its rule", () => {
    const world = new World(specFromText(zonal(service(", nodePort: 30080"), external)), 1)
    world.scheduler.run({ timeNsMax: 3 * NS_PER_S, eventCountMax: 10_000_000 })
    expect(world.controlPlane.store.get("Service", "default", "web")?.spec.ports?.map((p) => p.nodePort)).toEqual([
      30080,
      undefined,
    ])
    const rules = world.nodes.get("node-1")?.filter.save() ?? ""
    expect(rules).toMatch(/-A KUBE-NODEPORTS .*default\/web:http .*--dport 30080/)
    expect(rules).not.toMatch(/-A KUBE-NODEPORTS .*default\/web:alt/)
  })

  it("the cloud load balancer targets the ready endpoints directly", () => {
    const doc = runScenario(specFromText(zonal(service(""), external)), { seed: 1 })
    expect(doc.workloads.lb.requests.completed).toBe(300)
    expect(usedNodes(doc.workloads.lb.byNode)).toEqual(["node-1", "node-2", "node-3"])
    const world = new World(specFromText(zonal(service(""), external)), 1)
    world.scheduler.run({ timeNsMax: 3 * NS_PER_S, eventCountMax: 10_000_000 })
    const edge = world.loadBalancers.edgeRules()
    const podIps = ["web-1", "web-2", "web-3"].map(
      (name) => world.controlPlane.store.get("Pod", "default", name)?.status?.podIP,
    )
    for (const ip of podIps) expect(edge).toContain(`--to-destination ${ip}:80`)
    expect(edge).not.toMatch(/--to-destination 10\.0\.0\.1\d:/)
  })

  it("with no ready endpoint left, the edge drops new connections silently (no registered target)", () => {
    const timeline =
      "timeline:\n  - { at: 3s, delete: pod/web-1 }\n  - { at: 3s, delete: pod/web-2 }\n  - { at: 3s, delete: pod/web-3 }\n"
    const workload = `  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 100ms }, start: 1s, duration: 10s, timeout: 1s, connection: new }`
    const doc = runScenario(specFromText(zonal(service(""), workload) + timeline), { seed: 1 })
    const reasons = doc.workloads.lb.requests.failedByReason
    expect(doc.workloads.lb.requests.completed).toBeGreaterThan(0)
    // A few connections reach a pod that already exited before the edge saw the endpoint go
    // (refused, as during a real target deregistration); after that every one times out.
    expect(reasons["no-route"]).toBeUndefined()
    expect(reasons.timeout).toBeGreaterThan(50)
    expect(reasons.refused ?? 0).toBeLessThan(10)
  })
})

describe("loadBalancerSourceRanges behind the cloud load balancer", () => {
  const service = (ranges: string): string => `          type: LoadBalancer
          loadBalancerSourceRanges: [${ranges}]
          ports: [{ port: 80 }]`
  const external = `  - { name: lb, from: external/client, to: "http://198.51.100.10/", arrival: { every: 10ms }, count: 50, timeout: 1s }`

  it("admits a source inside the ranges", () => {
    const doc = runScenario(specFromText(zonal(service("203.0.113.0/24"), external)), { seed: 1 })
    expect(doc.workloads.lb.requests.completed).toBe(50)
  })

  it("drops a source outside them at the edge, as the cloud firewall does (kube-proxy does not check NodePorts)", () => {
    const doc = runScenario(specFromText(zonal(service("192.0.2.0/24"), external)), { seed: 1 })
    expect(doc.workloads.lb.requests.completed).toBe(0)
    expect(doc.workloads.lb.requests.failedByReason).toEqual({ timeout: 50 })
  })
})
