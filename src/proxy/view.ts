/**
 * A mode-independent view of what kube-proxy computes per service port (for the IPVS/nftables
 * compilers, traces and tests): the service port, its endpoints by policy, and the derived flags
 * syncProxyRules branches on (pkg/proxy/iptables/proxier.go; the same flags exist in nftables).
 */
import type { EndpointSlice, Service } from "../k8s/types.ts"
import { buildServicePorts, nodeZone } from "./service-port.ts"
import type { ProxyNode, ServicePortInfo } from "./service-port.ts"
import { categorizeEndpoints } from "./topology.ts"
import type { CategorizedEndpoints, TopologyOptions } from "./topology.ts"

export interface ServicePortView extends ServicePortInfo, CategorizedEndpoints {
  /** false when ITP=Local and no local endpoint: ClusterIP traffic is dropped (or rejected). */
  readonly hasInternalEndpoints: boolean
  /** false when ETP=Local and no local endpoint: external traffic is dropped (or rejected). */
  readonly hasExternalEndpoints: boolean
  /** Verdict for ClusterIP traffic with no usable endpoint: REJECT (none anywhere) or DROP. */
  readonly internalVerdict: "ACCEPT" | "REJECT" | "DROP"
  readonly externalVerdict: "ACCEPT" | "REJECT" | "DROP"
}

export function servicePortViews(services: readonly Service[], slices: readonly EndpointSlice[], node: ProxyNode, options: TopologyOptions = {}): ServicePortView[] {
  const zone = nodeZone(node)
  return buildServicePorts(services, slices, node).map((svc) => {
    const categorized = categorizeEndpoints(svc, node.name, zone, options)
    const has = categorized.hasAnyEndpoints
    const hasInternalEndpoints = has && !(svc.internalPolicyLocal && categorized.localEndpoints.length === 0)
    const hasExternalEndpoints = has && !(svc.externalPolicyLocal && categorized.localEndpoints.length === 0)
    const verdict = (ok: boolean): "ACCEPT" | "REJECT" | "DROP" => (ok ? "ACCEPT" : has ? "DROP" : "REJECT")
    return { ...svc, ...categorized, hasInternalEndpoints, hasExternalEndpoints, internalVerdict: verdict(hasInternalEndpoints), externalVerdict: verdict(hasExternalEndpoints) }
  })
}
