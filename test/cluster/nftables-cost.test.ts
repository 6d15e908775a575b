/**
 * Goal: in nftables mode a connection's first packet costs the same simulated CPU whatever the
 * number of Services (kube-proxy's `service-ips` verdict map is one lookup, charged one expression
 * as the kernel's hash set costs one lookup), while in iptables mode it grows with the
 * KUBE-SERVICES rules walked before the match (proxy-modes.md §5; KEP-3866's motivation).
 * Method: the real backends (IptablesBackend, NftablesBackend) sync N ClusterIP Services with one
 * endpoint each into a node's NetfilterStack; a SYN from a local pod to each of 16 services spread
 * over the list goes through PREROUTING, FORWARD and POSTROUTING, and the charged costs
 * (stack.lastCostNs: conntrack, rules walked x ruleCost, nft expressions x expressionCost) are
 * averaged. The quick tier compares 10 with 1,000 Services, the extensive tier with 10,000.
 */
import { describe, expect, it } from "vitest"
import { NftablesBackend } from "../../src/cluster/backend-nftables.ts"
import { IptablesBackend } from "../../src/cluster/kube-proxy.ts"
import type { ProxyBackend } from "../../src/cluster/kube-proxy.ts"
import type { KubeProxySpec } from "../../src/cluster/spec.ts"
import type { EndpointSlice, Service } from "../../src/k8s/types.ts"
import { Verdict } from "../../src/net/hooks.ts"
import { Rng } from "../../src/sim/rng.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import { CNI0, makeNode, receive, tcp } from "../netfilter/helpers.ts"
import { extensive } from "../tier.ts"
import { specFromText } from "./helpers.ts"

const KUBE_PROXY: KubeProxySpec = specFromText(`
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: cost }
duration: 1s
cluster: { nodes: { count: 1 }, systemServices: false }
`).kubeProxy

const NODE = { name: "node-1", ips: ["192.168.0.2"] }
const VIP_BASE = ipv4("10.96.16.0")
const POD_BASE = ipv4("10.1.0.0")
const PROBES = 16

function objects(count: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = []
  const slices: EndpointSlice[] = []
  for (let i = 0; i < count; i++) {
    const name = `svc-${String(i).padStart(5, "0")}`
    services.push({
      apiVersion: "v1",
      kind: "Service",
      metadata: { namespace: "default", name },
      spec: {
        clusterIP: formatIpv4((VIP_BASE + i) >>> 0),
        ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080 }],
      },
    })
    slices.push({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { namespace: "default", name: `${name}-x`, labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [{ addresses: [formatIpv4((POD_BASE + i) >>> 0)], conditions: { ready: true }, nodeName: "node-2" }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    })
  }
  return { services, slices }
}

interface Measured {
  readonly meanNs: number
  readonly maxNs: number
}

/** Mean and max simulated first-packet cost over PROBES services spread over `count`. */
function firstPacketCost(mode: "iptables" | "nftables", count: number): Measured {
  const { host, stack } = makeNode({ ruleCostNs: KUBE_PROXY.ruleCostNs })
  const backend: ProxyBackend =
    mode === "iptables"
      ? new IptablesBackend(NODE, stack, KUBE_PROXY)
      : new NftablesBackend(NODE, stack, KUBE_PROXY, Rng.stream(1, "test/numgen"), ["10.96.0.0/12"])
  const { services, slices } = objects(count)
  backend.apply(0, backend.compile(0, services, slices))
  let total = 0
  let max = 0
  for (let k = 0; k < PROBES; k++) {
    const i = Math.floor((k * (count - 1)) / (PROBES - 1))
    const syn = tcp("10.0.0.5", 40000 + k, formatIpv4((VIP_BASE + i) >>> 0), 80)
    const r = receive(stack, host, syn, CNI0, 1_000_000 + k)
    expect(r.verdict).toBe(Verdict.ACCEPT)
    // The SYN was DNATed to the service's endpoint.
    expect(`${formatIpv4(syn.dstAddr)}:${syn.dstPort}`).toBe(`${formatIpv4((POD_BASE + i) >>> 0)}:8080`)
    total += r.costNs
    max = Math.max(max, r.costNs)
  }
  return { meanNs: Math.round(total / PROBES), maxNs: max }
}

const LARGE = extensive ? 10_000 : 1_000

describe("simulated first-packet cost by number of Services", () => {
  it(`nftables stays flat from 10 to ${LARGE} Services; iptables grows`, { timeout: 300_000 }, () => {
    const nftSmall = firstPacketCost("nftables", 10)
    const nftLarge = firstPacketCost("nftables", LARGE)
    const iptSmall = firstPacketCost("iptables", 10)
    const iptLarge = firstPacketCost("iptables", LARGE)
    console.log(
      `[first-packet cost] nftables: ${nftSmall.meanNs} ns at 10, ${nftLarge.meanNs} ns at ${LARGE}; ` +
        `iptables: ${iptSmall.meanNs} ns at 10, ${iptLarge.meanNs} ns at ${LARGE} (mean of ${PROBES} services)`,
    )
    // nftables: the same expressions for every service, whatever the table holds.
    expect(nftLarge).toEqual(nftSmall)
    // iptables: the KUBE-SERVICES walk before the match, ~N/2 rules on average at ruleCost each.
    const walkedNs = ((LARGE - 10) / 2) * KUBE_PROXY.ruleCostNs
    expect(iptLarge.meanNs - iptSmall.meanNs).toBeGreaterThan(walkedNs * 0.8)
    expect(iptLarge.meanNs).toBeGreaterThan(10 * nftLarge.meanNs)
  })
})
