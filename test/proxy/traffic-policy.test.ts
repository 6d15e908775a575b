/**
 * Traffic policy and terminating-endpoint behaviour, checked against upstream packet-flow
 * expectations (kubernetes/kubernetes pkg/proxy/{iptables,nftables}/proxier_test.go:
 * TestInternalTrafficPolicy, TestTerminatingEndpointsTrafficPolicyLocal). The flow is read off the
 * compiled view and cross-checked against the rule text (REJECT/DROP rules, SVL/SVC jumps).
 */
import { describe, expect, it } from "vitest"
import type { Endpoint, EndpointSlice, Service } from "../../src/k8s/types.ts"
import { compileIptables } from "../../src/proxy/iptables/compile.ts"
import type { IptablesCompileResult, IptablesServicePortView } from "../../src/proxy/iptables/compile.ts"
import { servicePortViews } from "../../src/proxy/view.ts"
import { FAKE_CONFIG, FAKE_NODE, loadManifests } from "./helpers.ts"

type Flow = "cluster-ip-from-pod" | "lb-from-external"

/** What a NEW connection gets: the endpoints its policy chain balances over, or REJECT/DROP. */
function flow(result: IptablesCompileResult, kind: Flow): string {
  const view = result.services[0] as IptablesServicePortView
  const internal = kind === "cluster-ip-from-pod"
  const has = internal ? view.hasInternalEndpoints : view.hasExternalEndpoints
  const text = result.restoreInput
  if (!has) {
    const verdict = view.hasAnyEndpoints ? "DROP" : "REJECT"
    const chain = internal ? "KUBE-SERVICES" : "KUBE-EXTERNAL-SERVICES"
    const dest = internal ? view.clusterIP : view.loadBalancerVIPs[0]
    expect(text).toContain(
      `-A ${chain} -m comment --comment "${view.name} has no ${verdict === "DROP" ? "local " : ""}endpoints" -m tcp -p tcp -d ${dest} --dport 80 -j ${verdict}`,
    )
    return verdict
  }
  const local = internal ? view.internalPolicyLocal : view.externalPolicyLocal
  const chain = local ? view.localPolicyChain : view.clusterPolicyChain
  const endpoints = local ? view.localEndpoints : view.clusterEndpoints
  for (const ep of endpoints)
    expect(text).toContain(`-A ${chain} -m comment --comment "${view.name} -> ${ep.endpoint}"`)
  return endpoints.map((ep) => ep.endpoint).join(", ")
}

function ep(ip: string, nodeName: string, ready?: boolean, serving?: boolean, terminating?: boolean): Endpoint {
  const conditions: NonNullable<Endpoint["conditions"]> = {}
  if (ready !== undefined) conditions.ready = ready
  if (serving !== undefined) conditions.serving = serving
  if (terminating !== undefined) conditions.terminating = terminating
  return { addresses: [ip], nodeName, conditions }
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

describe("TestInternalTrafficPolicy", () => {
  const svc = (itp: "Cluster" | "Local"): Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "svc1", namespace: "ns1" },
    spec: { clusterIP: "172.30.1.1", internalTrafficPolicy: itp, ports: [{ name: "", port: 80, protocol: "TCP" }] },
  })
  const cases: [string, "Cluster" | "Local", Endpoint[], string][] = [
    [
      "cluster",
      "Cluster",
      [ep("10.0.1.1", "test-node", true), ep("10.0.1.2", "node1", true), ep("10.0.1.3", "node2", true)],
      "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80",
    ],
    [
      "local, one local endpoint",
      "Local",
      [ep("10.0.1.1", "test-node", true), ep("10.0.1.2", "node1", true), ep("10.0.1.3", "node2", true)],
      "10.0.1.1:80",
    ],
    [
      "local, several local endpoints",
      "Local",
      [ep("10.0.1.1", "test-node", true), ep("10.0.1.2", "test-node", true), ep("10.0.1.3", "node2", true)],
      "10.0.1.1:80, 10.0.1.2:80",
    ],
    [
      "local, no local endpoints",
      "Local",
      [ep("10.0.1.1", "node0", true), ep("10.0.1.2", "node1", true), ep("10.0.1.3", "node2", true)],
      "DROP",
    ],
  ]
  for (const [name, itp, endpoints, expected] of cases) {
    it(name, () => {
      expect(flow(compileIptables([svc(itp)], [slice(endpoints)], FAKE_NODE, FAKE_CONFIG), "cluster-ip-from-pod")).toBe(
        expected,
      )
      // Endpoints deleted.
      expect(flow(compileIptables([svc(itp)], [], FAKE_NODE, FAKE_CONFIG), "cluster-ip-from-pod")).toBe("REJECT")
    })
  }

  it("ITP=Local uses a KUBE-SVL- chain from KUBE-SERVICES", () => {
    const result = compileIptables([svc("Local")], [slice([ep("10.0.1.1", "test-node", true)])], FAKE_NODE, FAKE_CONFIG)
    const view = result.services[0] as IptablesServicePortView
    expect(view.localPolicyChain).toMatch(/^KUBE-SVL-/)
    expect(result.restoreInput).toContain(
      `-A KUBE-SERVICES -m comment --comment "ns1/svc1 cluster IP" -m tcp -p tcp -d 172.30.1.1 --dport 80 -j ${view.localPolicyChain}`,
    )
    expect(result.restoreInput).not.toContain(`:${view.clusterPolicyChain} `)
  })
})

describe("TestTerminatingEndpointsTrafficPolicyLocal", () => {
  const service: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "svc1", namespace: "ns1" },
    spec: {
      clusterIP: "172.30.1.1",
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 30000,
      ports: [{ name: "", port: 80, protocol: "TCP", targetPort: 80 }],
    },
    status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } },
  }
  const cases: [string, Endpoint[], string, string][] = [
    [
      "ready endpoints exist",
      [
        ep("10.0.1.1", "test-node", true, true, false),
        ep("10.0.1.2", "test-node", true, true, false),
        ep("10.0.1.3", "test-node", false, true, true),
        ep("10.0.1.4", "test-node", false, false, true),
        ep("10.0.1.5", "node-1", true, true, false),
      ],
      "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
      "10.0.1.1:80, 10.0.1.2:80",
    ],
    [
      "only terminating endpoints exist",
      [
        ep("10.0.1.2", "test-node", false, true, true),
        ep("10.0.1.3", "test-node", false, true, true),
        ep("10.0.1.4", "test-node", false, false, true),
        ep("10.0.1.5", "node-1", true, true, false),
      ],
      "10.0.1.5:80",
      "10.0.1.2:80, 10.0.1.3:80",
    ],
    ["terminating endpoints on remote node", [ep("10.0.1.5", "node-1", false, true, true)], "10.0.1.5:80", "DROP"],
    [
      "no usable endpoints on any node",
      [ep("10.0.1.5", "test-node", false, false, true), ep("10.0.1.5", "node-1", false, false, true)],
      "REJECT",
      "REJECT",
    ],
  ]
  for (const [name, endpoints, podToClusterIP, externalToLB] of cases) {
    it(name, () => {
      const result = compileIptables([service], [slice(endpoints)], FAKE_NODE, FAKE_CONFIG)
      expect(flow(result, "cluster-ip-from-pod")).toBe(podToClusterIP)
      expect(flow(result, "lb-from-external")).toBe(externalToLB)
      const deleted = compileIptables([service], [], FAKE_NODE, FAKE_CONFIG)
      expect(flow(deleted, "cluster-ip-from-pod")).toBe("REJECT")
      expect(flow(deleted, "lb-from-external")).toBe("REJECT")
    })
  }

  it("a mixed local/terminating set gets one SEP chain per locally reachable endpoint", () => {
    const result = compileIptables([service], [slice(cases[1][1])], FAKE_NODE, FAKE_CONFIG)
    const view = result.services[0] as IptablesServicePortView
    expect(view.allReachableEndpoints.map((e) => e.endpoint)).toEqual(["10.0.1.2:80", "10.0.1.3:80", "10.0.1.5:80"])
    expect(result.restoreInput.match(/^:KUBE-SEP-/gm)?.length).toBe(3)
  })
})

describe("servicePortViews (mode-independent)", () => {
  it("agrees with the iptables view on the G1 services", () => {
    const { services, slices } = loadManifests("g1-overall.yaml")
    const views = servicePortViews(services, slices, FAKE_NODE)
    const iptables = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG).services
    expect(views.map((v) => [v.name, v.hasInternalEndpoints, v.hasExternalEndpoints])).toEqual(
      iptables.map((v) => [v.name, v.hasInternalEndpoints, v.hasExternalEndpoints]),
    )
    expect(views.map((v) => `${v.name} ${v.internalVerdict} ${v.externalVerdict}`)).toEqual([
      "ns1/svc1:p80 ACCEPT ACCEPT",
      "ns2/svc2:p80 ACCEPT DROP",
      "ns3/svc3:p80 ACCEPT ACCEPT",
      "ns4/svc4:p80 ACCEPT ACCEPT",
      "ns5/svc5:p80 ACCEPT ACCEPT",
      "ns6/svc6:p80 REJECT REJECT",
    ])
  })
})
