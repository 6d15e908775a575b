/**
 * Goal: in IPVS mode the simulated CPU a connection's first packet costs on the node does not grow
 * with the number of Services (the iptables rules IPVS mode writes match ipsets, hash lookups, and
 * IPVS finds the virtual service in a hash: ip_vs_service_find over ip_vs_svc_table in
 * net/netfilter/ipvs/ip_vs_ctl.c), while in iptables mode it grows with the KUBE-SERVICES walk.
 * Method: one node's namespace with each mode's real backend (cluster/backend-ipvs.ts,
 * IptablesBackend) synced with 10 and with 10,000 Services (KUBE_NETSIM_FIRST_PACKET_SERVICES;
 * 2,000 in the quick tier; iptables mode's large case is 1,000 in the quick tier, 10,000 in the
 * extensive one);
 * a pod's SYN to the last Service's ClusterIP goes through PREROUTING and INPUT (IPVS: the VIP is
 * on kube-ipvs0, so local; IPVS steals it at LOCAL_IN) or PREROUTING (iptables: DNAT there), and
 * the hooks' charged cost (rules walked x ruleCost + conntrack + IPVS lookups) is compared.
 */
import { describe, expect, it } from "vitest"
import { IpvsBackend } from "../../src/cluster/backend-ipvs.ts"
import { IptablesBackend, type ProxyBackend } from "../../src/cluster/kube-proxy.ts"
import type { KubeProxySpec } from "../../src/cluster/spec.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { Network } from "../../src/net/network.ts"
import { NetfilterStack } from "../../src/netfilter/stack.ts"
import { Rng } from "../../src/sim/rng.ts"
import { Scheduler } from "../../src/sim/scheduler.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import { knobInt } from "../tier.ts"
import { specFromText } from "./helpers.ts"

function cluster(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = []
  const slices: EndpointSlice[] = []
  for (let i = 0; i < n; i++) {
    const name = `svc${i}`
    services.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "default" },
      spec: {
        type: "ClusterIP",
        clusterIP: `10.96.${(i >> 8) & 255}.${(i & 255) + (i < 256 ? 1 : 0)}`,
        ports: [{ name: "http", port: 80, protocol: "TCP" }],
      },
    })
    slices.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: `${name}-1`, namespace: "default", labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [0, 1].map((k) => ({ addresses: [`10.${64 + k}.${(i >> 8) & 255}.${i & 255}`], nodeName: "node-1" })),
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    })
  }
  return { services, slices }
}

/** The scenario loader's kube-proxy defaults, in the given mode. */
function kubeProxySpec(mode: "iptables" | "ipvs"): KubeProxySpec {
  const spec = specFromText(`apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: first-packet }
kubeProxy: { mode: ${mode} }
`)
  return spec.kubeProxy
}

/** Simulated hook cost of a pod's first SYN to the last Service, after one full sync of `n` Services. */
function firstPacketCostNs(mode: "iptables" | "ipvs", n: number): number {
  const scheduler = new Scheduler()
  const network = new Network(scheduler, 1)
  const ns = network.createNamespace("node-1", { ipForward: true })
  const cni0 = network.addDummy(ns, "cni0")
  network.addAddress(cni0, ipv4("10.244.0.1"), 24)
  const stack = new NetfilterStack(ns, { rng: Rng.stream(1, "first-packet") })
  ns.filter = stack
  const spec = kubeProxySpec(mode)
  const node = { name: "node-1", ips: ["10.0.0.2"], zone: "", labels: {} }
  const backend: ProxyBackend =
    mode === "ipvs"
      ? new IpvsBackend({ scheduler, node, ns, network, stack, spec })
      : new IptablesBackend(node, stack, spec)
  const { services, slices } = cluster(n)
  backend.apply(0, backend.compile(0, services, slices))
  const last = services[n - 1].spec?.clusterIP as string
  const syn = new Packet()
  syn.protocol = Protocol.TCP
  syn.srcAddr = ipv4("10.244.0.5")
  syn.srcPort = 40000
  syn.dstAddr = ipv4(last)
  syn.dstPort = 80
  syn.tcpFlags = TcpFlag.SYN
  syn.totalBytes = 60
  expect(stack.runHook(Hook.PREROUTING, syn, cni0.ifIndex, -1, 1_000)).toBe(Verdict.ACCEPT)
  let cost = stack.lastCostNs
  if (mode === "iptables") {
    // DNATed in PREROUTING to one of the Service's endpoints.
    expect(syn.dstAddr).not.toBe(ipv4(last))
    return cost
  }
  // IPVS: the VIP is local (kube-ipvs0); ip_vs_remote_request4 schedules and steals the SYN.
  expect(ns.isLocalAddress(ipv4(last))).toBe(true)
  expect(stack.runHook(Hook.INPUT, syn, cni0.ifIndex, -1, 1_000)).toBe(Verdict.STOLEN)
  expect(syn.dstPort).toBe(8080)
  cost += stack.lastCostNs
  return cost
}

describe("first-packet cost by number of Services", () => {
  const big = knobInt("FIRST_PACKET_SERVICES", 2_000, 10_000)
  // The iptables contrast at 10,000 Services takes seconds to compile and restore: the quick tier
  // shows the growth at 1,000 (KUBE_NETSIM_FIRST_PACKET_IPTABLES_SERVICES).
  const bigIptables = knobInt("FIRST_PACKET_IPTABLES_SERVICES", 1_000, 10_000)
  it(`IPVS mode: the same at 10 and ${big} Services; iptables mode grows (10 vs ${bigIptables})`, () => {
    const ipvsSmall = firstPacketCostNs("ipvs", 10)
    const ipvsBig = firstPacketCostNs("ipvs", big)
    const iptablesSmall = firstPacketCostNs("iptables", 10)
    const iptablesBig = firstPacketCostNs("iptables", bigIptables)
    expect(ipvsBig).toBe(ipvsSmall)
    expect(ipvsSmall).toBeGreaterThan(0)
    // iptables: KUBE-SERVICES holds a rule per Service port; the walk to the last one grows with n.
    expect(iptablesBig).toBeGreaterThan(iptablesSmall + 50 * (bigIptables / 2))
  }, 60_000)
})
