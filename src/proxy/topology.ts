/**
 * pkg/proxy/topology.go `CategorizeEndpoints`: which endpoints a service port uses for Cluster and
 * Local traffic policy, with the serving-terminating fallback (ProxyTerminatingEndpoints, GA 1.28)
 * and topology hints.
 */
import type { EndpointInfo, ServicePortInfo } from "./service-port.ts"
import { compareStrings } from "./service-port.ts"

export type TopologyMode = "" | "PreferSameZone" | "PreferSameNode"

export interface CategorizedEndpoints {
  /** Cluster-policy endpoints; empty when the service never uses Cluster policy. */
  readonly clusterEndpoints: readonly EndpointInfo[]
  /** Local-policy endpoints; empty when the service never uses Local policy. */
  readonly localEndpoints: readonly EndpointInfo[]
  /** Union of the two (one KUBE-SEP- chain each), sorted by "IP:port". */
  readonly allReachableEndpoints: readonly EndpointInfo[]
  /** Any usable endpoint anywhere in the cluster (REJECT vs DROP). */
  readonly hasAnyEndpoints: boolean
  readonly topologyMode: TopologyMode
}

export interface TopologyOptions {
  /** Feature gate PreferSameTrafficDistribution (node hints). Default false. */
  readonly preferSameTrafficDistribution?: boolean
}

/** topologyModeFromHints: hints apply only if every ready endpoint has one and one matches. */
export function topologyModeFromHints(
  endpoints: readonly EndpointInfo[],
  nodeName: string,
  zone: string,
  options: TopologyOptions = {},
): TopologyMode {
  let hasEndpointForNode = false
  let allEndpointsHaveNodeHints = true
  let hasEndpointForZone = false
  let allEndpointsHaveZoneHints = true
  for (const endpoint of endpoints) {
    if (!endpoint.ready) continue
    if (endpoint.nodeHints.length === 0) allEndpointsHaveNodeHints = false
    else if (endpoint.nodeHints.includes(nodeName)) hasEndpointForNode = true
    if (endpoint.zoneHints.length === 0) allEndpointsHaveZoneHints = false
    else if (endpoint.zoneHints.includes(zone)) hasEndpointForZone = true
  }
  if (options.preferSameTrafficDistribution === true && allEndpointsHaveNodeHints && hasEndpointForNode)
    return "PreferSameNode"
  if (allEndpointsHaveZoneHints && hasEndpointForZone) return "PreferSameZone"
  return ""
}

function availableForTopology(endpoint: EndpointInfo, mode: TopologyMode, nodeName: string, zone: string): boolean {
  switch (mode) {
    case "":
      return true
    case "PreferSameNode":
      return endpoint.nodeHints.includes(nodeName)
    case "PreferSameZone":
      return endpoint.zoneHints.includes(zone)
  }
}

export function categorizeEndpoints(
  svc: ServicePortInfo,
  nodeName: string,
  zone: string,
  options: TopologyOptions = {},
): CategorizedEndpoints {
  const endpoints = svc.endpoints
  let topologyMode: TopologyMode = ""
  let clusterEndpoints: EndpointInfo[] = []
  let localEndpoints: EndpointInfo[] = []
  let hasAnyEndpoints = false
  let useServingTerminatingEndpoints = false

  if (svc.usesClusterEndpoints) {
    topologyMode = topologyModeFromHints(endpoints, nodeName, zone, options)
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, topologyMode, nodeName, zone))
    // No ready endpoints anywhere: fall back to serving-terminating ones.
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((ep) => ep.serving && ep.terminating)
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true
  }

  if (!svc.usesLocalEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode }
  }

  let hasLocalReadyEndpoints = false
  let hasLocalServingTerminatingEndpoints = false
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true
      if (ep.isLocal) hasLocalReadyEndpoints = true
    } else if (ep.serving && ep.terminating) {
      hasAnyEndpoints = true
      if (ep.isLocal) hasLocalServingTerminatingEndpoints = true
    }
  }
  if (hasLocalReadyEndpoints) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready)
  } else if (hasLocalServingTerminatingEndpoints) {
    useServingTerminatingEndpoints = true
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating)
  }

  if (!svc.usesClusterEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints, topologyMode }
  }
  if (topologyMode === "" && !useServingTerminatingEndpoints) {
    // clusterEndpoints holds every ready endpoint, a superset of the (ready) local ones.
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode }
  }
  // Merge (upstream builds a Go map, so its order is random; sorted by "IP:port" here).
  const merged = new Map<string, EndpointInfo>()
  for (const ep of clusterEndpoints) merged.set(ep.endpoint, ep)
  for (const ep of localEndpoints) merged.set(ep.endpoint, ep)
  const allReachableEndpoints = [...merged.values()].sort((a, b) => compareStrings(a.endpoint, b.endpoint))
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints, topologyMode }
}
