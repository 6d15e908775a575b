/**
 * kube-proxy's view of Services and EndpointSlices, shared by every proxy mode: one entry per
 * service port (ServicePortName = namespace/name:portName + protocol) with its endpoint list.
 *
 * Upstream (kubernetes/kubernetes pkg/proxy): serviceport.go `newBaseServiceInfo`,
 * servicechangetracker.go (`ShouldSkipService`, family filtering), endpointslicecache.go
 * (`addEndpoints`, `endpointsMapFromEndpointInfo`), endpoint.go (`BaseEndpointInfo`),
 * pkg/api/v1/service/util.go (`ExternallyAccessible`, `ExternalPolicyLocal`, `NeedsHealthCheck`).
 * This proxier is IPv4 single-stack: IPv6 addresses are ignored as the IPv4 proxier ignores them.
 *
 * Deterministic order (real kube-proxy iterates a Go map, i.e. randomly): service ports are sorted
 * by their ServicePortName string (then protocol); endpoints by the "IP:port" string as upstream.
 */
import { matchesSelector } from "../k8s/labels.ts"
import type { EndpointSlice, LabelSelector, Service } from "../k8s/types.ts"
import { LABEL_SERVICE_NAME } from "../k8s/types.ts"
import { cidrContains, formatCidr, formatIpv4, parseCidr, parseIpv4 } from "../wire/ipv4.ts"
import type { Cidr, Ipv4 } from "../wire/ipv4.ts"

/** Node label kube-proxy reads the zone from (v1.LabelTopologyZone). */
export const LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"

/** API default for sessionAffinityConfig.clientIP.timeoutSeconds (3 h). */
export const DEFAULT_STICKY_MAX_AGE_SECONDS = 10800

export type ProxyProtocol = "tcp" | "udp" | "sctp"

/** The node kube-proxy runs on. */
export interface ProxyNode {
  readonly name: string
  /** Node IPv4 addresses; the first is the primary node IP (kube-proxy's `nodeIP`). */
  readonly ips: readonly string[]
  readonly labels?: Readonly<Record<string, string>>
  /** Used when labels lack topology.kubernetes.io/zone. */
  readonly zone?: string
}

export interface EndpointInfo {
  readonly ip: string
  readonly port: number
  /** `net.JoinHostPort(ip, port)`, e.g. "10.180.0.1:80". */
  readonly endpoint: string
  /** endpoint.nodeName === this node's name. */
  readonly isLocal: boolean
  /** conditions.ready, nil => true. */
  readonly ready: boolean
  /** conditions.serving, nil => true. */
  readonly serving: boolean
  /** conditions.terminating, nil => false. */
  readonly terminating: boolean
  readonly zoneHints: readonly string[]
  readonly nodeHints: readonly string[]
}

export interface ServicePortInfo {
  readonly namespace: string
  readonly serviceName: string
  /** "namespace/name" (what partial syncs key changes on). */
  readonly namespacedName: string
  readonly portName: string
  /** ServicePortName.String(): "ns/name" + (":" + portName when portName is not empty). */
  readonly name: string
  /** Lower-cased protocol as kube-proxy writes it in rules. */
  readonly protocol: ProxyProtocol
  readonly clusterIP: string
  readonly port: number
  /** 0 when absent. */
  readonly nodePort: number
  readonly externalIPs: readonly string[]
  /** status.loadBalancer.ingress[].ip in VIP mode. */
  readonly loadBalancerVIPs: readonly string[]
  /** Trimmed, parsed and printed as Go's IPNet.String() (host bits cleared). */
  readonly loadBalancerSourceRanges: readonly string[]
  /** Non-zero only when the service needs one (LoadBalancer with ETP=Local). */
  readonly healthCheckNodePort: number
  /** ClientIP affinity timeout in seconds, or 0 for no affinity. */
  readonly stickyMaxAgeSeconds: number
  readonly internalPolicyLocal: boolean
  readonly externalPolicyLocal: boolean
  /** NodePort != 0 or any external IP or LB VIP (ServicePort.ExternallyAccessible). */
  readonly externallyAccessible: boolean
  readonly usesClusterEndpoints: boolean
  readonly usesLocalEndpoints: boolean
  /** All endpoints from the service's EndpointSlices for this port, sorted by "IP:port". */
  readonly endpoints: readonly EndpointInfo[]
}

export function servicePortNameString(namespace: string, name: string, portName: string): string {
  return portName === "" ? `${namespace}/${name}` : `${namespace}/${name}:${portName}`
}

export function nodeZone(node: ProxyNode): string {
  return node.labels?.[LABEL_TOPOLOGY_ZONE] ?? node.zone ?? ""
}

/** Label naming another service proxy that owns the Service (k8s.io/kubernetes/pkg/proxy/apis LabelServiceProxyName). */
export const LABEL_SERVICE_PROXY_NAME = "service.kubernetes.io/service-proxy-name"
/** v1.IsHeadlessService: the label the EndpointSlice controller puts on a headless Service's slices. */
const LABEL_HEADLESS = "service.kubernetes.io/headless"

/**
 * cmd/kube-proxy/app/server.go: the Service and EndpointSlice informers list only objects matching
 * `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless` (labels.NewRequirement
 * ... selection.DoesNotExist): objects carrying either label do not exist for kube-proxy.
 */
const KUBE_PROXY_INFORMER_SELECTOR: LabelSelector = {
  matchExpressions: [
    { key: LABEL_SERVICE_PROXY_NAME, operator: "DoesNotExist" },
    { key: LABEL_HEADLESS, operator: "DoesNotExist" },
  ],
}

export function watchedByKubeProxy(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels === undefined || matchesSelector(KUBE_PROXY_INFORMER_SELECTOR, labels)
}

/** proxyutil.ShouldSkipService: headless (clusterIP "" or "None") and ExternalName services. */
export function shouldSkipService(service: Service): boolean {
  const clusterIP = service.spec.clusterIP ?? ""
  if (clusterIP === "" || clusterIP === "None") return true
  return service.spec.type === "ExternalName"
}

/**
 * netutils.ParseIPSloppy: kube-proxy parses Service and EndpointSlice addresses with Go's pre-1.17
 * rules, where an octet with leading zeros is decimal ("172.30.0.041" is 172.30.0.41). Objects
 * written before API validation tightened can still carry such addresses (TestBadIPs).
 */
export function parseIpv4Sloppy(text: string): Ipv4 | undefined {
  // /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/ with each octet read as decimal (at most
  // 255), scanned by hand: every endpoint address of every slice goes through here.
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return undefined
      octet = octet * 10 + (c - 48)
    } else if (c === 46 && digits > 0 && dots < 3) {
      if (octet > 255) return undefined
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else return undefined
  }
  if (dots !== 3 || digits === 0 || octet > 255) return undefined
  return (value * 256 + octet) >>> 0
}

/** netutils.ParseCIDRSloppy: as parseIpv4Sloppy, prefix length with leading zeros allowed too. */
export function parseCidrSloppy(text: string): Cidr | undefined {
  const slash = text.indexOf("/")
  if (slash < 0) return undefined
  const address = parseIpv4Sloppy(text.slice(0, slash))
  const prefix = text.slice(slash + 1)
  if (address === undefined || !/^\d{1,3}$/.test(prefix)) return undefined
  return parseCidr(`${formatIpv4(address)}/${Number(prefix)}`, false)
}

function ipv4ClusterIP(service: Service): string {
  const candidates =
    service.spec.clusterIPs !== undefined && service.spec.clusterIPs.length > 0
      ? service.spec.clusterIPs
      : [service.spec.clusterIP ?? ""]
  for (const ip of candidates) {
    const parsed = parseIpv4Sloppy(ip)
    if (parsed !== undefined) return formatIpv4(parsed)
  }
  return ""
}

function ipv4List(values: readonly string[] | undefined): string[] {
  const out: string[] = []
  for (const value of values ?? []) {
    const parsed = parseIpv4Sloppy(value.trim())
    if (parsed !== undefined) out.push(formatIpv4(parsed))
  }
  return out
}

/** Go net.ParseCIDR accepts host bits; IPNet.String() prints the masked network. */
export function parseSourceRange(text: string): Cidr | undefined {
  const trimmed = text.trim()
  if (!trimmed.includes("/")) return undefined
  return parseCidrSloppy(trimmed)
}

export function cidrContainsIp(range: string, ip: string): boolean {
  const prefix = parseCidr(range, false)
  const address = parseIpv4(ip)
  return prefix !== undefined && address !== undefined && cidrContains(prefix, address)
}

function lowerProtocol(protocol: string | undefined): ProxyProtocol {
  const lower = (protocol ?? "TCP").toLowerCase()
  return lower === "udp" ? "udp" : lower === "sctp" ? "sctp" : "tcp"
}

interface SlicePortKey {
  readonly portName: string
  readonly protocol: ProxyProtocol
}

/**
 * Builds the endpoints of every (service, port name, protocol) from EndpointSlices, as
 * EndpointSliceCache does: addresses[0] only, IPv4 slices only, de-duplicated by "IP:port"
 * (a local duplicate replaces a non-local one), sorted by the "IP:port" string.
 * Key: `${namespacedName}|${portName}|${protocol}`.
 */
export function buildEndpointsMap(
  slices: readonly EndpointSlice[],
  nodeName: string | null,
): Map<string, EndpointInfo[]> {
  const sets = new Map<string, Map<string, EndpointInfo>>()
  // Slices are visited in name order for determinism (upstream: map order, with the same result
  // except for which of two conflicting duplicates wins).
  const ordered = [...slices].sort((a, b) => compareStrings(sliceKey(a), sliceKey(b)))
  for (const slice of ordered) {
    if (slice.addressType !== "IPv4" || !watchedByKubeProxy(slice.metadata.labels)) continue
    const serviceName = slice.metadata.labels?.[LABEL_SERVICE_NAME]
    if (serviceName === undefined || serviceName === "") continue
    const namespacedName = `${slice.metadata.namespace ?? "default"}/${serviceName}`
    for (const slicePort of slice.ports ?? []) {
      // Upstream skips ports with a nil name or nil port; a missing name is read as "" here, which
      // is what the EndpointSlice controller writes for an unnamed service port.
      if (slicePort.port === undefined) continue
      const key: SlicePortKey = { portName: slicePort.name ?? "", protocol: lowerProtocol(slicePort.protocol) }
      const mapKey = `${namespacedName}|${key.portName}|${key.protocol}`
      let set = sets.get(mapKey)
      if (set === undefined) {
        set = new Map()
        sets.set(mapKey, set)
      }
      for (const endpoint of slice.endpoints) {
        // nodeName null: the view of a node that hosts none of these endpoints (shared-service-ports.ts).
        const isLocal = endpoint.nodeName !== undefined && endpoint.nodeName === nodeName
        const info = endpointInfoOf(endpoint, slicePort.port, isLocal)
        if (info === undefined) continue
        if (!set.has(info.endpoint) || isLocal) set.set(info.endpoint, info)
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>()
  for (const [key, set] of sets) {
    out.set(
      key,
      [...set.values()].sort((a, b) => compareStrings(a.endpoint, b.endpoint)),
    )
  }
  return out
}

/**
 * `buildEndpointsMap(slices, null)` and, for every node an endpoint names, what
 * `buildEndpointsMap(slices, node)` holds instead, in one pass: the two differ only in the
 * endpoints the node hosts (isLocal true; with duplicate "IP:port" endpoints, the node's last one
 * replaces the first). `local` maps node name -> map key -> "IP:port" -> that endpoint. So the
 * views of every node hosting an endpoint cost the endpoints once, not once per hosting node.
 */
export function buildEndpointVariants(slices: readonly EndpointSlice[]): {
  readonly remote: Map<string, EndpointInfo[]>
  readonly local: Map<string, Map<string, Map<string, EndpointInfo>>>
} {
  const sets = new Map<string, Map<string, EndpointInfo>>()
  const local = new Map<string, Map<string, Map<string, EndpointInfo>>>()
  const ordered = slices.length > 1 ? [...slices].sort((a, b) => compareStrings(sliceKey(a), sliceKey(b))) : slices
  for (const slice of ordered) {
    if (slice.addressType !== "IPv4" || !watchedByKubeProxy(slice.metadata.labels)) continue
    const serviceName = slice.metadata.labels?.[LABEL_SERVICE_NAME]
    if (serviceName === undefined || serviceName === "") continue
    const namespacedName = `${slice.metadata.namespace ?? "default"}/${serviceName}`
    for (const slicePort of slice.ports ?? []) {
      if (slicePort.port === undefined) continue
      const mapKey = `${namespacedName}|${slicePort.name ?? ""}|${lowerProtocol(slicePort.protocol)}`
      let set = sets.get(mapKey)
      if (set === undefined) {
        set = new Map()
        sets.set(mapKey, set)
      }
      for (const endpoint of slice.endpoints) {
        const info = endpointInfoOf(endpoint, slicePort.port, false)
        if (info === undefined) continue
        if (!set.has(info.endpoint)) set.set(info.endpoint, info)
        const nodeName = endpoint.nodeName
        if (nodeName === undefined) continue
        let byKey = local.get(nodeName)
        if (byKey === undefined) {
          byKey = new Map()
          local.set(nodeName, byKey)
        }
        let mine = byKey.get(mapKey)
        if (mine === undefined) {
          mine = new Map()
          byKey.set(mapKey, mine)
        }
        mine.set(info.endpoint, { ...info, isLocal: true })
      }
    }
  }
  const remote = new Map<string, EndpointInfo[]>()
  for (const [key, set] of sets)
    remote.set(
      key,
      [...set.values()].sort((a, b) => compareStrings(a.endpoint, b.endpoint)),
    )
  return { remote, local }
}

/**
 * One slice endpoint as kube-proxy's endpointInfo for a service port: its first address (parsed
 * sloppily, as netutils.ParseIPSloppy) and conditions (nil read as ready/serving, not terminating);
 * undefined when it has no parsable address (upstream skips it).
 */
function endpointInfoOf(
  endpoint: EndpointSlice["endpoints"][number],
  port: number,
  isLocal: boolean,
): EndpointInfo | undefined {
  const address = endpoint.addresses[0]
  if (address === undefined) return undefined
  const parsed = parseIpv4Sloppy(address)
  if (parsed === undefined) return undefined
  const ip = formatIpv4(parsed)
  return {
    ip,
    port,
    endpoint: `${ip}:${port}`,
    isLocal,
    ready: endpoint.conditions?.ready ?? true,
    serving: endpoint.conditions?.serving ?? true,
    terminating: endpoint.conditions?.terminating ?? false,
    zoneHints: (endpoint.hints?.forZones ?? []).map((z) => z.name),
    nodeHints: (endpoint.hints?.forNodes ?? []).map((n) => n.name),
  }
}

function sliceKey(slice: EndpointSlice): string {
  return `${slice.metadata.namespace ?? "default"}/${slice.metadata.name}`
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Every service port kube-proxy programs, sorted by ServicePortName string then protocol. */
export function buildServicePorts(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  node: ProxyNode,
): ServicePortInfo[] {
  const endpointsMap = buildEndpointsMap(slices, node.name)
  const out: ServicePortInfo[] = []
  for (const service of services) {
    if (!programmedByKubeProxy(service)) continue
    for (const port of servicePortsOf(service, endpointsMap)) out.push(port)
  }
  out.sort(compareServicePorts)
  return out
}

/** The order of buildServicePorts: ServicePortName string, then protocol. */
export function compareServicePorts(a: ServicePortInfo, b: ServicePortInfo): number {
  return compareStrings(a.name, b.name) || compareStrings(a.protocol, b.protocol)
}

/** A Service kube-proxy writes rules for: watched, not headless/ExternalName, with an IPv4 cluster IP. */
export function programmedByKubeProxy(service: Service): boolean {
  return watchedByKubeProxy(service.metadata.labels) && !shouldSkipService(service) && ipv4ClusterIP(service) !== ""
}

/**
 * The service ports of one programmed Service (see programmedByKubeProxy), in spec order, with their
 * endpoints from `endpointsMap` (buildEndpointsMap of at least this Service's slices).
 */
export function servicePortsOf(service: Service, endpointsMap: ReadonlyMap<string, EndpointInfo[]>): ServicePortInfo[] {
  const out: ServicePortInfo[] = []
  const clusterIP = ipv4ClusterIP(service)
  const spec = service.spec
  const namespace = service.metadata.namespace ?? "default"
  const serviceName = service.metadata.name
  const namespacedName = `${namespace}/${serviceName}`
  const type = spec.type ?? "ClusterIP"
  const externalIPs = ipv4List(spec.externalIPs)
  const serviceExternallyAccessible =
    type === "LoadBalancer" || type === "NodePort" || (type === "ClusterIP" && (spec.externalIPs ?? []).length > 0)
  const externalPolicyLocal = serviceExternallyAccessible && spec.externalTrafficPolicy === "Local"
  const internalPolicyLocal = spec.internalTrafficPolicy === "Local"
  const needsHealthCheck = type === "LoadBalancer" && externalPolicyLocal
  const loadBalancerVIPs: string[] = []
  for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
    if (ingress.ip === undefined || ingress.ip === "") continue
    if (ingress.ipMode !== undefined && ingress.ipMode !== "VIP") continue
    const parsed = parseIpv4Sloppy(ingress.ip)
    if (parsed !== undefined) loadBalancerVIPs.push(formatIpv4(parsed))
  }
  const loadBalancerSourceRanges: string[] = []
  for (const range of spec.loadBalancerSourceRanges ?? []) {
    const parsed = parseSourceRange(range)
    if (parsed !== undefined) loadBalancerSourceRanges.push(formatCidr(parsed))
  }
  const stickyMaxAgeSeconds =
    spec.sessionAffinity === "ClientIP"
      ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_STICKY_MAX_AGE_SECONDS)
      : 0
  for (const port of spec.ports ?? []) {
    const portName = port.name ?? ""
    const protocol = lowerProtocol(port.protocol)
    const nodePort = port.nodePort ?? 0
    const externallyAccessible = nodePort !== 0 || loadBalancerVIPs.length > 0 || externalIPs.length > 0
    out.push({
      namespace,
      serviceName,
      namespacedName,
      portName,
      name: servicePortNameString(namespace, serviceName, portName),
      protocol,
      clusterIP,
      port: port.port,
      nodePort,
      externalIPs,
      loadBalancerVIPs,
      loadBalancerSourceRanges,
      healthCheckNodePort: needsHealthCheck ? (spec.healthCheckNodePort ?? 0) : 0,
      stickyMaxAgeSeconds,
      internalPolicyLocal,
      externalPolicyLocal,
      externallyAccessible,
      // Even with ETP=Local, Cluster endpoints are needed for the short-circuit rules.
      usesClusterEndpoints: !internalPolicyLocal || externallyAccessible,
      usesLocalEndpoints: internalPolicyLocal || (externallyAccessible && externalPolicyLocal),
      endpoints: endpointsMap.get(`${namespacedName}|${portName}|${protocol}`) ?? [],
    })
  }
  return out
}
