/**
 * Topology hints in kube-proxy (pkg/proxy/topology.go `CategorizeEndpoints`,
 * `topologyModeFromHints`; cases after pkg/proxy/topology_test.go TestCategorizeEndpoints): zone
 * hints are used only when every ready endpoint has one and one is for this node's zone; node hints
 * only with the PreferSameTrafficDistribution gate. Then through the iptables compiler: the
 * KUBE-SVC chain balances over the hinted endpoints only, and its decisions come from proxy/view.ts.
 */
import { describe, expect, it } from "vitest"
import type { Endpoint, EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileIptables } from "../../src/proxy/iptables/compile.ts"
import type { ProxyNode } from "../../src/proxy/service-port.ts"
import { servicePortViews } from "../../src/proxy/view.ts"
import { FAKE_CONFIG } from "./helpers.ts"

const NODE: ProxyNode = { name: "node-a1", ips: ["192.168.0.2"], labels: { "topology.kubernetes.io/zone": "zone-a" } }

const SERVICE: Service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "svc1", namespace: "ns1" },
  spec: { clusterIP: "172.30.1.1", ports: [{ name: "", port: 80, protocol: "TCP" }] },
}

function ep(
  ip: string,
  zones: string[] | null,
  opts: { ready?: boolean; nodes?: string[]; node?: string } = {},
): Endpoint {
  const endpoint: Endpoint = {
    addresses: [ip],
    nodeName: opts.node ?? "other",
    conditions: { ready: opts.ready ?? true, serving: opts.ready ?? true, terminating: false },
  }
  if (zones !== null || opts.nodes !== undefined) {
    endpoint.hints = {}
    if (zones !== null) endpoint.hints.forZones = zones.map((name) => ({ name }))
    if (opts.nodes !== undefined) endpoint.hints.forNodes = opts.nodes.map((name) => ({ name }))
  }
  return endpoint
}

function slice(endpoints: Endpoint[]): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "svc1-1", namespace: "ns1", labels: { "kubernetes.io/service-name": "svc1" } },
    addressType: "IPv4",
    endpoints,
    ports: [{ name: "", port: 80, protocol: "TCP" }],
  }
}

function clusterEndpoints(endpoints: Endpoint[], preferSameTrafficDistribution = false): string[] {
  const [view] = servicePortViews([SERVICE], [slice(endpoints)], NODE, { preferSameTrafficDistribution })
  return view.clusterEndpoints.map((e) => e.ip)
}

describe("CategorizeEndpoints with topology hints", () => {
  it("uses the endpoints hinted for this node's zone", () => {
    expect(
      clusterEndpoints([
        ep("10.1.2.3", ["zone-a"]),
        ep("10.1.2.4", ["zone-b"]),
        ep("10.1.2.5", ["zone-c"]),
        ep("10.1.2.6", ["zone-a"]),
      ]),
    ).toEqual(["10.1.2.3", "10.1.2.6"])
  })

  it("uses every endpoint when none is hinted for this zone", () => {
    expect(clusterEndpoints([ep("10.1.2.3", ["zone-b"]), ep("10.1.2.4", ["zone-c"])])).toEqual(["10.1.2.3", "10.1.2.4"])
  })

  it("uses every endpoint when a ready endpoint lacks a hint", () => {
    expect(clusterEndpoints([ep("10.1.2.3", ["zone-a"]), ep("10.1.2.4", null), ep("10.1.2.5", ["zone-b"])])).toEqual([
      "10.1.2.3",
      "10.1.2.4",
      "10.1.2.5",
    ])
  })

  it("ignores a not-ready endpoint's missing hint", () => {
    expect(
      clusterEndpoints([
        ep("10.1.2.3", ["zone-a"]),
        ep("10.1.2.4", null, { ready: false }),
        ep("10.1.2.5", ["zone-b"]),
      ]),
    ).toEqual(["10.1.2.3"])
  })

  it("uses node hints only with the PreferSameTrafficDistribution gate, zone hints otherwise", () => {
    const endpoints = [
      ep("10.1.2.3", ["zone-a"], { nodes: ["node-a1"] }),
      ep("10.1.2.4", ["zone-a"], { nodes: ["node-a2"] }),
      ep("10.1.2.5", ["zone-b"], { nodes: ["node-b1"] }),
    ]
    expect(clusterEndpoints(endpoints, true)).toEqual(["10.1.2.3"])
    expect(clusterEndpoints(endpoints, false)).toEqual(["10.1.2.3", "10.1.2.4"])
  })
})

describe("the iptables compiler applies the view's categories", () => {
  it("balances KUBE-SVC over the zone's endpoints only, and writes SEP chains for them only", () => {
    const endpoints = [ep("10.1.2.3", ["zone-a"]), ep("10.1.2.4", ["zone-b"]), ep("10.1.2.5", ["zone-a"])]
    const result = compileIptables([SERVICE], [slice(endpoints)], NODE, FAKE_CONFIG)
    const svcChain = result.services[0].clusterPolicyChain
    const jumps = result.restoreInput
      .split("\n")
      .filter((line) => line.startsWith(`-A ${svcChain} `) && line.includes(" -> "))
    expect(jumps.map((line) => /-> (\S+)"/.exec(line)?.[1])).toEqual(["10.1.2.3:80", "10.1.2.5:80"])
    expect(jumps[0]).toContain("--probability 0.5000000000")
    expect(result.restoreInput).not.toContain("10.1.2.4")
    const [view] = servicePortViews([SERVICE], [slice(endpoints)], NODE)
    expect(result.services[0].clusterEndpoints).toEqual(view.clusterEndpoints)
    expect(result.services[0].topologyMode).toBe("PreferSameZone")
  })

  it("internalTrafficPolicy Cluster written out compiles exactly as the default", () => {
    const endpoints = [ep("10.1.2.3", null, { node: NODE.name }), ep("10.1.2.4", null)]
    const explicit: Service = { ...SERVICE, spec: { ...SERVICE.spec, internalTrafficPolicy: "Cluster" } }
    const local: Service = { ...SERVICE, spec: { ...SERVICE.spec, internalTrafficPolicy: "Local" } }
    const base = compileIptables([SERVICE], [slice(endpoints)], NODE, FAKE_CONFIG).restoreInput
    expect(compileIptables([explicit], [slice(endpoints)], NODE, FAKE_CONFIG).restoreInput).toBe(base)
    expect(compileIptables([local], [slice(endpoints)], NODE, FAKE_CONFIG).restoreInput).not.toBe(base)
  })
})

describe("kube-proxy's informer selector (cmd/kube-proxy/app/server.go)", () => {
  it("ignores a Service labelled service.kubernetes.io/service-proxy-name and its slices", () => {
    const owned: Service = {
      ...SERVICE,
      metadata: { ...SERVICE.metadata, labels: { "service.kubernetes.io/service-proxy-name": "other-proxy" } },
    }
    const endpoints = [ep("10.1.2.3", null)]
    expect(compileIptables([owned], [slice(endpoints)], NODE, FAKE_CONFIG).services).toEqual([])
    expect(compileIptables([SERVICE], [slice(endpoints)], NODE, FAKE_CONFIG).services.map((s) => s.name)).toEqual([
      "ns1/svc1",
    ])
    const labelledSlice = slice(endpoints)
    labelledSlice.metadata.labels = {
      ...labelledSlice.metadata.labels,
      "service.kubernetes.io/service-proxy-name": "other-proxy",
    }
    expect(compileIptables([SERVICE], [labelledSlice], NODE, FAKE_CONFIG).services[0].endpoints).toEqual([])
  })
})
