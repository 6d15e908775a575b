/**
 * IPVS mode at scale: with N services the iptables part stays constant (rules match ipsets), while
 * virtual servers, real servers and set entries grow with N exactly as the per-service rules say.
 * KUBE_NETSIM_IPVS_SERVICES sets N (quick tier 2,000; extensive tier 10,000, the scale target).
 */
import { describe, expect, it } from "vitest"
import type { EndpointSlice, Service } from "../../../src/k8s/types.ts"
import { compileIpvs } from "../../../src/proxy/ipvs/compile.ts"
import { planIpvsSync, EMPTY_IPVS_NODE_STATE } from "../../../src/proxy/ipvs/reconcile.ts"
import { knobInt } from "../../tier.ts"
import { FAKE_IPVS_CONFIG, fakeNode } from "./helpers.ts"

function cluster(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = []
  const slices: EndpointSlice[] = []
  for (let i = 0; i < n; i++) {
    const name = `svc${i}`
    const clusterIP = `10.96.${(i >> 8) & 255}.${i & 255}`
    // Every third service is a NodePort, every fifth has an external IP.
    const nodePort = i % 3 === 0 ? 30000 + i / 3 : undefined
    services.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "default" },
      spec: {
        type: nodePort === undefined ? "ClusterIP" : "NodePort",
        clusterIP,
        ...(i % 5 === 0 ? { externalIPs: [`192.168.${(i >> 8) & 255}.${i & 255}`] } : {}),
        ports: [{ name: "http", port: 80, protocol: "TCP", ...(nodePort === undefined ? {} : { nodePort }) }],
      },
    })
    slices.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: `${name}-1`, namespace: "default", labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [0, 1, 2].map((k) => ({
        addresses: [`10.${64 + k}.${(i >> 8) & 255}.${i & 255}`],
        nodeName: k === 0 ? "test-node" : `node-${k}`,
      })),
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    })
  }
  return { services, slices }
}

describe("IPVS compile at scale", () => {
  const n = knobInt("IPVS_SERVICES", 2_000, 10_000)
  it(`compiles ${n} services: constant iptables rules, linear virtual servers and set entries`, () => {
    const node = fakeNode(["192.0.2.10", "192.0.2.11"])
    const small = cluster(30)
    const big = cluster(n)
    const a = compileIpvs(small.services, small.slices, node, FAKE_IPVS_CONFIG)
    const b = compileIpvs(big.services, big.slices, node, FAKE_IPVS_CONFIG)
    expect(b.rules.length).toBe(a.rules.length)

    const nodePorts = Math.ceil(n / 3)
    const externals = Math.ceil(n / 5)
    // ClusterIP + external IP + one per node IP for each NodePort.
    expect(b.virtualServers).toHaveLength(n + externals + 2 * nodePorts)
    for (const vs of b.virtualServers) expect(vs.realServers).toHaveLength(3)
    const set = (name: string) => b.ipsets.find((s) => s.info.name === name)?.entries.length
    expect(set("KUBE-CLUSTER-IP")).toBe(n)
    expect(set("KUBE-EXTERNAL-IP")).toBe(externals)
    expect(set("KUBE-LOOP-BACK")).toBe(n)
    expect(set("KUBE-IPVS-IPS")).toBe(n + externals)
    expect(b.dummyAddresses).toHaveLength(n + externals)
    expect(set("KUBE-NODE-PORT-TCP")).toBe(nodePorts)

    // One netlink request per object on the first sync: VS adds, binds, RS adds.
    const plan = planIpvsSync(EMPTY_IPVS_NODE_STATE, b, { initialSync: true })
    expect(plan.operations).toHaveLength(b.virtualServers.length * 4 + n + externals)
  })
})
