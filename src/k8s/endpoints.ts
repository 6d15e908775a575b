/**
 * Pure endpoint computations shared by the EndpointSlice, Endpoints and mirroring controllers.
 *
 * Upstream sources:
 * - ShouldPodBeInEndpoints (pkg/api/v1/endpoints / staging endpointslice util): pods without a
 *   pod IP, or in a terminal phase (Succeeded/Failed), are left out; terminating pods (with a
 *   deletionTimestamp) are left out unless includeTerminating. The EndpointSlice controller passes
 *   true; the Endpoints controller passes service.spec.publishNotReadyAddresses.
 * - podToEndpoint (staging/src/k8s.io/endpointslice/utils.go):
 *   serving = IsPodReady(pod); terminating = deletionTimestamp != nil;
 *   ready = publishNotReadyAddresses || (serving && !terminating); nodeName from spec.nodeName;
 *   zone from the node's topology.kubernetes.io/zone label; targetRef Pod.
 * - FindPort (pkg/api/v1/pod/util.go): an integer targetPort is used as is; a named targetPort is
 *   looked up in the pod's containers' ports by name *and* protocol; a pod lacking it has no
 *   endpoint for that service port. Absent targetPort = port.
 * - Topology hints: `trafficDistributionHints` (staging/src/k8s.io/endpointslice/trafficdist
 *   trafficdist.go `ReconcileHints`) or, with the topology-mode annotation, `applyTopologyModeHints`
 *   (staging/src/k8s.io/endpointslice/topologycache), as reconciler.go `finalize` selects them.
 */
import type {
  Endpoint,
  EndpointAddress,
  EndpointPort,
  Endpoints,
  Pod,
  ProtocolName,
  Service,
  ServicePort,
} from "./types.ts"

export interface SlicePort {
  name?: string
  port?: number
  protocol?: ProtocolName
  appProtocol?: string
}

export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false
}

export function isPodTerminating(pod: Pod): boolean {
  return pod.metadata.deletionTimestampNs !== undefined
}

export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  const phase = pod.status?.phase
  if (phase === "Succeeded" || phase === "Failed") return false
  if (pod.status?.podIP === undefined || pod.status.podIP === "") return false
  if (!includeTerminating && isPodTerminating(pod)) return false
  return true
}

export function findPort(pod: Pod, servicePort: ServicePort): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port
  if (typeof target === "number") return target
  const protocol = servicePort.protocol ?? "TCP"
  for (const container of pod.spec.containers) {
    for (const port of container.ports ?? []) {
      if (port.name === target && (port.protocol ?? "TCP") === protocol) return port.containerPort
    }
  }
  return undefined
}

/** The slice ports this pod serves for the service (service port order), skipping unresolved names. */
export function podSlicePorts(service: Service, pod: Pod): SlicePort[] {
  const out: SlicePort[] = []
  for (const servicePort of service.spec.ports ?? []) {
    const port = findPort(pod, servicePort)
    if (port === undefined) continue
    const slicePort: SlicePort = { name: servicePort.name ?? "", port, protocol: servicePort.protocol ?? "TCP" }
    if (servicePort.appProtocol !== undefined) slicePort.appProtocol = servicePort.appProtocol
    out.push(slicePort)
  }
  return out
}

/** A stable key for a port list (groups endpoints into slices the way upstream's port-mapping hash does). */
export function portsKey(ports: readonly SlicePort[]): string {
  return ports.map((p) => `${p.name ?? ""}/${p.port ?? ""}/${p.protocol ?? ""}/${p.appProtocol ?? ""}`).join(",")
}

export function podToEndpoint(pod: Pod, service: Service, zone: string | undefined): Endpoint {
  const serving = isPodReady(pod)
  const terminating = isPodTerminating(pod)
  const ready = service.spec.publishNotReadyAddresses === true || (serving && !terminating)
  const endpoint: Endpoint = {
    addresses: [pod.status?.podIP ?? ""],
    conditions: { ready, serving, terminating },
    targetRef: targetRefOf(pod),
  }
  if (pod.spec.nodeName !== undefined) endpoint.nodeName = pod.spec.nodeName
  if (zone !== undefined && zone !== "") endpoint.zone = zone
  const hints = trafficDistributionHints(service, ready, endpoint.zone, endpoint.nodeName)
  if (hints !== undefined) endpoint.hints = hints
  // endpointutil.ShouldSetHostname: pod.spec.hostname set and subdomain == service name.
  if (
    pod.spec.hostname !== undefined &&
    pod.spec.subdomain === service.metadata.name &&
    pod.metadata.namespace === service.metadata.namespace
  ) {
    endpoint.hostname = pod.spec.hostname
  }
  return endpoint
}

/** Service annotations of the older topology-aware hints (k8s.io/api/core/v1 annotation_key_constants.go). */
export const ANNOTATION_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
export const ANNOTATION_TOPOLOGY_AWARE_HINTS = "service.kubernetes.io/topology-aware-hints"

/**
 * pkg/controller/endpointslice (staging endpointslice reconciler.go) `hintsEnabled`: the deprecated
 * topology-aware-hints annotation, else topology-mode, set to "Auto" or "auto". When true, the
 * controller's topology cache owns the hints (`applyTopologyModeHints`) and `trafficDistribution`
 * is not used (reconciler.go `finalize`:
 * canUseTrafficDistribution = trafficDistributionEnabled && !hintsEnabled(annotations)).
 */
export function topologyAnnotationHintsEnabled(annotations: Readonly<Record<string, string>> | undefined): boolean {
  const value = annotations?.[ANNOTATION_TOPOLOGY_AWARE_HINTS] ?? annotations?.[ANNOTATION_TOPOLOGY_MODE]
  return value === "Auto" || value === "auto"
}

/**
 * The hints the EndpointSlice controller writes on one endpoint of a selector Service, from
 * spec.trafficDistribution (trafficdist.go `ReconcileHints`, GA in 1.33):
 * - PreferClose (and its 1.33 alias PreferSameZone, same heuristic): a ready endpoint with a zone
 *   gets forZones = [its own zone]; without a zone, no hint (`preferSameZoneHeuristic.update`).
 * - PreferSameNode (1.33 feature gate PreferSameTrafficDistribution): forNodes = [its node] and
 *   forZones = [its zone], so a kube-proxy without the gate still keeps traffic in the zone.
 * - No value (`defaultHeuristic`): hints removed.
 * Not-ready endpoints get none here (upstream keeps a stale hint on an unchanged not-ready endpoint;
 * kube-proxy ignores not-ready endpoints' hints either way: topology.go `topologyModeFromHints`).
 * With the topology annotation set to Auto, the topology cache owns the hints: none here.
 */
export function trafficDistributionHints(
  service: Service,
  ready: boolean,
  zone: string | undefined,
  nodeName: string | undefined,
): Endpoint["hints"] | undefined {
  const distribution = service.spec.trafficDistribution
  if (distribution === undefined || !ready || topologyAnnotationHintsEnabled(service.metadata.annotations))
    return undefined
  const hints: NonNullable<Endpoint["hints"]> = {}
  if (zone !== undefined && zone !== "") hints.forZones = [{ name: zone }]
  if (distribution === "PreferSameNode" && nodeName !== undefined && nodeName !== "")
    hints.forNodes = [{ name: nodeName }]
  return hints.forZones === undefined && hints.forNodes === undefined ? undefined : hints
}

/** topologycache.go overloadThreshold: the most overload any endpoint should be exposed to. */
const TOPOLOGY_OVERLOAD_THRESHOLD = 0.2

/** topologycache.go `allocation`: endpoints a zone should get. */
export interface ZoneAllocation {
  readonly minimum: number
  readonly maximum: number
  readonly desired: number
}

/**
 * topologycache.go `SetNodes` + `getAllocations` for `numEndpoints` ready endpoints. Upstream's
 * zone ratios are allocatable CPU per zone over the total; simulated nodes are identical, so the
 * ratio is the zone's share of the nodes (every node ready; control-plane-labelled nodes are not
 * excluded: scenario nodes are workers). null = hints disabled: a node without zone, fewer than two
 * zones, fewer endpoints than zones, or minimums (desired / 1.2, rounded up) above the total.
 * Zones are visited in name order (upstream: Go map order; the result is the same).
 */
export function topologyAllocations(
  nodeZones: readonly string[],
  numEndpoints: number,
): Map<string, ZoneAllocation> | null {
  const nodesByZone = new Map<string, number>()
  for (const zone of nodeZones) {
    if (zone === "") return null
    nodesByZone.set(zone, (nodesByZone.get(zone) ?? 0) + 1)
  }
  if (nodesByZone.size < 2 || nodesByZone.size > numEndpoints) return null
  let remainingMinEndpoints = numEndpoints
  let minTotal = 0
  const partial: [string, number, number][] = []
  for (const zone of [...nodesByZone.keys()].sort()) {
    const ratio = (nodesByZone.get(zone) ?? 0) / nodeZones.length
    const desired = ratio * numEndpoints
    const minimum = Math.ceil(desired * (1 / (1 + TOPOLOGY_OVERLOAD_THRESHOLD)))
    partial.push([zone, minimum, Math.max(desired, minimum)])
    minTotal += minimum
    remainingMinEndpoints -= minimum
    if (remainingMinEndpoints < 0) return null
  }
  return new Map(
    partial.map(([zone, minimum, desired]) => [zone, { minimum, maximum: minimum + numEndpoints - minTotal, desired }]),
  )
}

/**
 * The hints of `service.kubernetes.io/topology-mode: Auto` (topologycache.go `AddHints`), written
 * on `endpoints` (all of one Service's controller-managed endpoints, in slice order) when the
 * annotation is set: every ready endpoint is first hinted for its own zone; then zones holding
 * more than their desired share give endpoints (their first ready ones in order) to zones holding
 * fewer (utils.go `getGivingAndReceivingZones`, `redistributeHints`). Allocations that are not
 * possible, or an endpoint without zone, remove every hint. Differences: every endpoint is treated
 * as in a slice being written (upstream keeps unchanged slices' hints and counts them first), and
 * ties between zones go to the first by name (upstream: Go map order).
 */
export function applyTopologyModeHints(
  service: Service,
  endpoints: readonly Endpoint[],
  nodeZones: readonly string[],
): void {
  if (!topologyAnnotationHintsEnabled(service.metadata.annotations)) return
  const removeAll = (): void => {
    for (const endpoint of endpoints) delete endpoint.hints
  }
  const isReady = (endpoint: Endpoint): boolean => endpoint.conditions?.ready === true
  const allocations = topologyAllocations(nodeZones, endpoints.filter(isReady).length)
  if (allocations === null) return removeAll()
  const allocated = new Map<string, number>()
  for (const endpoint of endpoints) {
    if (!isReady(endpoint)) {
      delete endpoint.hints
      continue
    }
    if (endpoint.zone === undefined || endpoint.zone === "") return removeAll()
    allocated.set(endpoint.zone, (allocated.get(endpoint.zone) ?? 0) + 1)
    endpoint.hints = { forZones: [{ name: endpoint.zone }] }
  }
  // getGivingAndReceivingZones: fractional surplus/deficit against `desired`, turned into whole
  // endpoints largest first while both sides have at least half an endpoint left.
  const givingDesired = new Map<string, number>()
  const receivingDesired = new Map<string, number>()
  for (const [zone, allocation] of allocations) {
    const hints = allocated.get(zone) ?? 0
    if (hints > allocation.desired) givingDesired.set(zone, hints - allocation.desired)
    else if (hints < allocation.desired) receivingDesired.set(zone, allocation.desired - hints)
  }
  const giving = new Map<string, number>()
  const receiving = new Map<string, number>()
  for (;;) {
    const [givingZone, toGive] = most(givingDesired)
    const [receivingZone, toReceive] = most(receivingDesired)
    if (givingZone === "" || receivingZone === "" || (toGive < 1 && toReceive < 1) || toGive < 0.5 || toReceive < 0.5)
      break
    giving.set(givingZone, (giving.get(givingZone) ?? 0) + 1)
    givingDesired.set(givingZone, toGive - 1)
    receiving.set(receivingZone, (receiving.get(receivingZone) ?? 0) + 1)
    receivingDesired.set(receivingZone, toReceive - 1)
  }
  // redistributeHints: hand the giving zones' endpoints, in order, to the receiving zones.
  for (const endpoint of endpoints) {
    if (!isReady(endpoint)) continue
    if (giving.size === 0 || receiving.size === 0) break
    const zone = endpoint.zone ?? ""
    if ((giving.get(zone) ?? 0) <= 0) continue
    for (const receivingZone of [...receiving.keys()].sort()) {
      const toReceive = receiving.get(receivingZone) ?? 0
      if (toReceive <= 0) continue
      endpoint.hints = { forZones: [{ name: receivingZone }] }
      const left = (giving.get(zone) ?? 0) - 1
      if (left === 0) giving.delete(zone)
      else giving.set(zone, left)
      if (toReceive === 1) receiving.delete(receivingZone)
      else receiving.set(receivingZone, toReceive - 1)
      break
    }
  }
}

/** utils.go `getMost`: the zone with the greatest positive value ("" when none); ties: first by name. */
function most(values: ReadonlyMap<string, number>): [string, number] {
  let zone = ""
  let best = 0
  for (const key of [...values.keys()].sort()) {
    const value = values.get(key) ?? 0
    if (value > best) {
      zone = key
      best = value
    }
  }
  return [zone, best]
}

function targetRefOf(pod: Pod): { kind: string; name: string; namespace?: string; uid?: string } {
  const ref: { kind: string; name: string; namespace?: string; uid?: string } = { kind: "Pod", name: pod.metadata.name }
  ref.namespace = pod.metadata.namespace ?? "default"
  if (pod.metadata.uid !== undefined) ref.uid = pod.metadata.uid
  return ref
}

function endpointAddressOf(pod: Pod): EndpointAddress {
  const address: EndpointAddress = { ip: pod.status?.podIP ?? "", targetRef: targetRefOf(pod) }
  if (pod.spec.nodeName !== undefined) address.nodeName = pod.spec.nodeName
  return address
}

/**
 * v1 Endpoints subsets for a selector Service (pkg/controller/endpoint syncService + RepackSubsets):
 * ready pods (or all, with publishNotReadyAddresses) in `addresses`, others in `notReadyAddresses`;
 * addresses with identical port sets share a subset. Addresses are sorted by IP string (SortSubsets);
 * subsets by their port key; ports keep the service's order (upstream sorts ports by an object
 * hash we do not reproduce).
 */
export function endpointsSubsets(service: Service, pods: readonly Pod[]): NonNullable<Endpoints["subsets"]> {
  const publishNotReady = service.spec.publishNotReadyAddresses === true
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>()
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue
    const ports = podSlicePorts(service, pod)
    if (ports.length === 0 && (service.spec.ports ?? []).length > 0) continue
    const key = portsKey(ports)
    let group = groups.get(key)
    if (group === undefined) {
      group = {
        ports: ports.map((p) => {
          const port: EndpointPort = { port: p.port ?? 0, protocol: p.protocol ?? "TCP" }
          if (p.name !== undefined && p.name !== "") port.name = p.name
          return port
        }),
        ready: [],
        notReady: [],
      }
      groups.set(key, group)
    }
    if (publishNotReady || isPodReady(pod)) group.ready.push(endpointAddressOf(pod))
    else group.notReady.push(endpointAddressOf(pod))
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress): number => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0)
  const out: NonNullable<Endpoints["subsets"]> = []
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)
    if (group === undefined) continue
    const subset: NonNullable<Endpoints["subsets"]>[number] = {}
    if (group.ready.length > 0) subset.addresses = group.ready.sort(byIp)
    if (group.notReady.length > 0) subset.notReadyAddresses = group.notReady.sort(byIp)
    if (group.ports.length > 0) subset.ports = group.ports
    out.push(subset)
  }
  return out
}

/** Endpoints equal as data (used to skip no-op writes, as upstream compares before updating). */
export function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
