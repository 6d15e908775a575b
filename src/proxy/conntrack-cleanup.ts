/**
 * Stale UDP conntrack reconciliation, run by kube-proxy after a successful sync.
 *
 * Upstream: kubernetes/kubernetes pkg/proxy/conntrack/cleanup.go `CleanStaleEntries`
 * (kube-proxy.md §6.4). For every UDP service port with at least one *serving* endpoint:
 * - an entry whose original destination is a service IP:port (ClusterIP, ExternalIP or LB IP) and
 *   whose reply source is not a serving endpoint IP is stale; it is removed with the filter
 *   (orig dst IP, orig dst port, reply src IP, UDP);
 * - otherwise, an entry whose original destination port is the service's NodePort and whose reply
 *   source is not a serving endpoint IP is stale; filter (orig dst port, reply src IP, UDP).
 * Every entry matching a collected filter is deleted (as netlink's ConntrackDeleteFilters does).
 * TCP/SCTP entries are never touched; services without serving endpoints are skipped; traffic
 * policy, topology and terminating state are ignored. Upstream only calls this when an endpoint
 * update requires it (`ConntrackCleanupRequired`); the caller decides when.
 */
import type { Ipv4 } from "../wire/ipv4.ts"
import { parseIpv4 } from "../wire/ipv4.ts"
import { Protocol } from "../wire/protocol.ts"
import type { ServicePortInfo } from "./service-port.ts"

/** What the cleanup needs to know of one conntrack entry. */
export interface ConntrackEntryView {
  /** Caller's handle for `deleteEntry`. */
  readonly handle: number
  /** IP protocol number of the original tuple (17 = UDP). */
  readonly protocol: number
  readonly origDstAddr: Ipv4
  readonly origDstPort: number
  /** Source address of the reply tuple (the DNAT target when the entry was DNATed). */
  readonly replySrcAddr: Ipv4
}

/** The conntrack table as the cleanup sees it (the netfilter conntrack implements this). */
export interface ConntrackTableView {
  listEntries(): Iterable<ConntrackEntryView>
  deleteEntry(handle: number): void
}

/** A deletion filter, as upstream builds them (netlink CustomConntrackFilter). */
export type ConntrackDeleteFilter =
  | { readonly kind: "ip-port"; readonly origDstAddr: Ipv4; readonly origDstPort: number; readonly replySrcAddr: Ipv4 }
  | { readonly kind: "port"; readonly origDstPort: number; readonly replySrcAddr: Ipv4 }

function ipPortKey(address: Ipv4, port: number): number {
  return address * 65536 + port
}

/** The filters `CleanStaleEntries` would pass to ClearEntries. Pure. */
/** A UDP service port's serving endpoint IPs and its addresses, parsed; null when none serves. */
interface ParsedPort {
  readonly endpointIPs: Set<Ipv4>
  readonly addresses: readonly Ipv4[]
}

/**
 * Per service-port object, parsed once: the objects are immutable and shared between nodes and
 * syncs (shared-service-ports.ts, iptables/compile.ts fragments), so each node's sync does not
 * parse every endpoint again.
 */
const parsedPorts = new WeakMap<ServicePortInfo, ParsedPort | null>()

function parsedPort(svc: ServicePortInfo): ParsedPort | null {
  let parsed = parsedPorts.get(svc)
  if (parsed !== undefined) return parsed
  const endpointIPs = new Set<Ipv4>()
  for (const ep of svc.endpoints) {
    if (!ep.serving) continue
    const ip = parseIpv4(ep.ip)
    if (ip !== undefined) endpointIPs.add(ip)
  }
  parsed = null
  if (endpointIPs.size > 0) {
    const addresses: Ipv4[] = []
    for (const address of [svc.clusterIP, ...svc.externalIPs, ...svc.loadBalancerVIPs]) {
      const ip = parseIpv4(address)
      if (ip !== undefined) addresses.push(ip)
    }
    parsed = { endpointIPs, addresses }
  }
  parsedPorts.set(svc, parsed)
  return parsed
}

export function staleConntrackFilters(
  entries: Iterable<ConntrackEntryView>,
  servicePorts: readonly ServicePortInfo[],
): ConntrackDeleteFilter[] {
  const serviceIPEndpointIPs = new Map<number, Set<Ipv4>>()
  const serviceNodePortEndpointIPs = new Map<number, Set<Ipv4>>()
  // Only a node with UDP entries needs the maps (same filters either way: none without one).
  const list = Array.isArray(entries) ? (entries as readonly ConntrackEntryView[]) : [...entries]
  let udp = false
  for (const entry of list) if (entry.protocol === Protocol.UDP) udp = true
  if (!udp) return []
  for (const svc of servicePorts) {
    if (svc.protocol !== "udp") continue
    const parsed = parsedPort(svc)
    if (parsed === null) continue
    for (const ip of parsed.addresses) serviceIPEndpointIPs.set(ipPortKey(ip, svc.port), parsed.endpointIPs)
    if (svc.nodePort !== 0) serviceNodePortEndpointIPs.set(svc.nodePort, parsed.endpointIPs)
  }
  const filters: ConntrackDeleteFilter[] = []
  for (const entry of list) {
    if (entry.protocol !== Protocol.UDP) continue
    const byIP = serviceIPEndpointIPs.get(ipPortKey(entry.origDstAddr, entry.origDstPort))
    if (byIP !== undefined) {
      if (!byIP.has(entry.replySrcAddr)) {
        filters.push({
          kind: "ip-port",
          origDstAddr: entry.origDstAddr,
          origDstPort: entry.origDstPort,
          replySrcAddr: entry.replySrcAddr,
        })
      }
      continue
    }
    const byNodePort = serviceNodePortEndpointIPs.get(entry.origDstPort)
    if (byNodePort !== undefined && !byNodePort.has(entry.replySrcAddr)) {
      filters.push({ kind: "port", origDstPort: entry.origDstPort, replySrcAddr: entry.replySrcAddr })
    }
  }
  return filters
}

export function filterMatches(filter: ConntrackDeleteFilter, entry: ConntrackEntryView): boolean {
  if (entry.protocol !== Protocol.UDP) return false
  if (entry.origDstPort !== filter.origDstPort || entry.replySrcAddr !== filter.replySrcAddr) return false
  return filter.kind === "port" || entry.origDstAddr === filter.origDstAddr
}

/**
 * Lists the table, computes the stale filters and deletes every matching entry.
 * Returns the deleted handles in listing order.
 */
export function cleanStaleConntrackEntries(
  table: ConntrackTableView,
  servicePorts: readonly ServicePortInfo[],
): number[] {
  const entries = [...table.listEntries()]
  const filters = staleConntrackFilters(entries, servicePorts)
  if (filters.length === 0) return []
  const ipPortKeys = new Set<string>()
  const portKeys = new Set<string>()
  for (const f of filters) {
    if (f.kind === "ip-port") ipPortKeys.add(`${f.origDstAddr}/${f.origDstPort}/${f.replySrcAddr}`)
    else portKeys.add(`${f.origDstPort}/${f.replySrcAddr}`)
  }
  const deleted: number[] = []
  for (const entry of entries) {
    if (entry.protocol !== Protocol.UDP) continue
    if (
      portKeys.has(`${entry.origDstPort}/${entry.replySrcAddr}`) ||
      ipPortKeys.has(`${entry.origDstAddr}/${entry.origDstPort}/${entry.replySrcAddr}`)
    ) {
      deleted.push(entry.handle)
    }
  }
  for (const handle of deleted) table.deleteEntry(handle)
  return deleted
}
