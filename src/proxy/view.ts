/**
 * A mode-independent view of what kube-proxy computes per service port, shared by every proxy mode
 * (the iptables compiler consumes it; IPVS/nftables will), traces and tests: the service port, its
 * endpoints by policy (topology.ts `categorizeEndpoints`), and the derived flags syncProxyRules
 * branches on (pkg/proxy/iptables/proxier.go `syncProxyRules`: hasEndpoints, hasInternalEndpoints,
 * hasExternalEndpoints and the REJECT/DROP choice; pkg/proxy/nftables/proxier.go has the same).
 */
import type { EndpointSlice, Service } from "../k8s/types.ts"
import { buildServicePorts, nodeZone } from "./service-port.ts"
import type { ProxyNode, ServicePortInfo } from "./service-port.ts"
import { categorizeEndpoints } from "./topology.ts"
import type { CategorizedEndpoints, TopologyOptions } from "./topology.ts"

export type TrafficVerdict = "ACCEPT" | "REJECT" | "DROP"

export interface ServicePortView extends ServicePortInfo, CategorizedEndpoints {
  /** false when ITP=Local and no local endpoint: ClusterIP traffic is dropped (or rejected). */
  readonly hasInternalEndpoints: boolean
  /** false when ETP=Local and no local endpoint: external traffic is dropped (or rejected). */
  readonly hasExternalEndpoints: boolean
  /** Verdict for ClusterIP traffic: ACCEPT (has endpoints), REJECT (none anywhere) or DROP (none for its policy). */
  readonly internalVerdict: TrafficVerdict
  readonly externalVerdict: TrafficVerdict
}

/** The view of one service port on the node `nodeName` in `zone`. */
export function servicePortView(
  svc: ServicePortInfo,
  nodeName: string,
  zone: string,
  options: TopologyOptions = {},
): ServicePortView {
  const categorized = categorizeEndpoints(svc, nodeName, zone, options)
  const has = categorized.hasAnyEndpoints
  // proxier.go: ITP/ETP Local with no local endpoint leaves the policy without endpoints.
  const hasInternalEndpoints = has && !(svc.internalPolicyLocal && categorized.localEndpoints.length === 0)
  const hasExternalEndpoints = has && !(svc.externalPolicyLocal && categorized.localEndpoints.length === 0)
  const verdict = (ok: boolean): TrafficVerdict => (ok ? "ACCEPT" : has ? "DROP" : "REJECT")
  return {
    ...svc,
    ...categorized,
    hasInternalEndpoints,
    hasExternalEndpoints,
    internalVerdict: verdict(hasInternalEndpoints),
    externalVerdict: verdict(hasExternalEndpoints),
  }
}

export function servicePortViews(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  node: ProxyNode,
  options: TopologyOptions = {},
): ServicePortView[] {
  const zone = nodeZone(node)
  return buildServicePorts(services, slices, node).map((svc) => servicePortView(svc, node.name, zone, options))
}
