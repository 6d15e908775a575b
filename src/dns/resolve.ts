/**
 * Name resolution for workload targets, done by the runtime until cluster DNS is simulated packet
 * by packet (the DNS issue): a Service name answers its ClusterIP as CoreDNS's kubernetes plugin
 * would (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`, searched from the client's
 * namespace like the pod's resolv.conf search list); node and external host names answer their
 * addresses. A headless Service answers one A record per ready endpoint, as CoreDNS's kubernetes
 * plugin does, in EndpointSlice order; the client connects to the first (glibc's getaddrinfo
 * returns the answers in order and RFC 6724 sorting does not reorder IPv4 addresses of one scope).
 * CoreDNS's `loadbalance` plugin (in the default Corefile) would shuffle that order per query; it
 * is not modelled, and a name is resolved once, when its workload starts (as an application that
 * caches the answer), not per connection: both belong to the packet-level DNS of the DNS issue.
 * Unknown names stay unresolved: the workload's requests then fail with reason "unresolved".
 */
import type { ApiStore } from "../k8s/store.ts"
import { formatIpv4, parseIpv4, type Ipv4 } from "../wire/ipv4.ts"

export interface NameTables {
  readonly store: ApiStore
  readonly clusterDomain: string
  readonly nodeAddresses: ReadonlyMap<string, Ipv4>
  readonly externalAddresses: ReadonlyMap<string, Ipv4>
}

export interface Resolution {
  /** The address the client uses: the first of `addresses`. */
  readonly address: Ipv4
  /** Every address of the answer (several for a headless Service). */
  readonly addresses: readonly Ipv4[]
  /** The Service the name resolved through, "namespace/name", or null. */
  readonly service: { readonly namespace: string; readonly name: string } | null
}

export function resolveHost(
  tables: NameTables,
  host: string,
  port: number,
  clientNamespace: string,
): Resolution | null {
  const literal = parseIpv4(host)
  if (literal !== undefined)
    return { address: literal, addresses: [literal], service: serviceByAddress(tables, host, port) }
  const name = host.endsWith(".") ? host.slice(0, -1) : host
  const domainSuffix = `.svc.${tables.clusterDomain}`
  const labels = name.split(".")
  let candidates: [string, string][]
  if (name.endsWith(domainSuffix)) {
    const parts = name.slice(0, -domainSuffix.length).split(".")
    candidates = parts.length === 2 ? [[parts[1], parts[0]]] : []
  } else if (labels.length === 3 && labels[2] === "svc") {
    candidates = [[labels[1], labels[0]]]
  } else if (labels.length === 2) {
    // "svc.ns" (search domain svc.<domain>) before "svc" in namespace "ns"-less forms.
    candidates = [[labels[1], labels[0]]]
  } else if (labels.length === 1) {
    candidates = [[clientNamespace, labels[0]]]
  } else {
    candidates = []
  }
  for (const [namespace, serviceName] of candidates) {
    const service = tables.store.get("Service", namespace, serviceName)
    if (service === undefined) continue
    const ip = service.spec.clusterIP
    if (ip !== undefined && ip !== "None" && ip !== "") {
      const address = parseIpv4(ip)
      if (address !== undefined) return { address, addresses: [address], service: { namespace, name: serviceName } }
    }
    // Headless: an A record per ready endpoint (an address in two slices answers once; CoreDNS not
    // re-verified on that point).
    const addresses: Ipv4[] = []
    for (const slice of tables.store.endpointSlicesFor(namespace, serviceName)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false) continue
        const address = parseIpv4(endpoint.addresses[0] ?? "")
        if (address !== undefined && !addresses.includes(address)) addresses.push(address)
      }
    }
    if (addresses.length > 0) return { address: addresses[0], addresses, service: null }
  }
  const node = tables.nodeAddresses.get(name)
  if (node !== undefined) return { address: node, addresses: [node], service: null }
  const external = tables.externalAddresses.get(name)
  if (external !== undefined) return { address: external, addresses: [external], service: null }
  return null
}

/**
 * The Service an address:port reaches: its ClusterIP, an external IP or load-balancer IP with a
 * service port, or any node address with a NodePort.
 */
function serviceByAddress(tables: NameTables, ip: string, port: number): { namespace: string; name: string } | null {
  const isNode = [...tables.nodeAddresses.values()].some((a) => formatIpv4(a) === ip)
  for (const service of tables.store.list("Service")) {
    const spec = service.spec
    const ports = spec.ports ?? []
    const byPort = ports.some((p) => p.port === port)
    const vips = [
      spec.clusterIP,
      ...(spec.externalIPs ?? []),
      ...(service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip),
    ]
    const hit = (byPort && vips.includes(ip)) || (isNode && ports.some((p) => p.nodePort === port))
    if (hit) return { namespace: service.metadata.namespace ?? "default", name: service.metadata.name }
  }
  return null
}
