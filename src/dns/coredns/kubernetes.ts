/**
 * CoreDNS's `kubernetes` plugin as an answer function over the API store (../shared/reference/
 * dns.md §1.1-1.3). Transcribed from coredns/coredns @4b26cced: plugin/kubernetes/handler.go
 * (ServeDNS), parse.go (parseRequest), kubernetes.go (Services, Records, findServices, findPods,
 * endpointHostname, match, matchPortAndProtocol, defaultTTL = 5), reverse.go (Reverse,
 * serviceRecordForIP), namespace.go (namespaceExposed), object/endpoint.go
 * (endpointSliceToEndpoints: ready = conditions.ready true or nil; a slice without ports gets a
 * port -1 sentinel), object/service.go (ToService: clusterIPs, port -1 sentinel), and
 * plugin/backend_lookup.go (A, AAAA, SRV, PTR, SOA, BackendError, checkForApex).
 *
 * Results: a reply, "next" (the name is outside the plugin's zones, or a name error in a
 * `fallthrough` zone: the next plugin, normally `forward`, answers), or "upstream" for an
 * ExternalName whose target is outside the zone: CoreDNS resolves the target through its own
 * plugin chain (`Upstream.Lookup`), which is asynchronous in the simulator, so the caller resolves
 * it and calls `completeExternalName` with the target's answer records (null when that failed:
 * the CNAME is then dropped and the reply is NODATA, as backend_lookup.go A() does).
 *
 * Not modelled: multicluster and `zonal` names, `namespaces`/`namespace_labels` filters, NS and
 * `ns.dns.<zone>` answers
 * (the plugin lists its own pod/service addresses there), MX, `autopath` (separate plugin),
 * DNSSEC. `loadbalance` (answer shuffling) is another plugin and is not applied here.
 */
import type { ApiStore } from "../../k8s/store.ts"
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import {
  DnsFlag,
  dnsReply,
  DnsType,
  Rcode,
  type CnameRecord,
  type DnsMessage,
  type DnsRecord,
  type SoaRecord,
} from "../../wire/dns.ts"

export interface KubernetesPluginConfig {
  /** Zones the plugin is authoritative for, e.g. cluster.local in-addr.arpa ip6.arpa. */
  readonly zones: readonly string[]
  /** `ttl` (0..3600); plugin default 5 s (kubernetes.go defaultTTL), kubeadm's Corefile 30. */
  readonly ttlS: number
  /** `pods disabled|insecure|verified`; plugin default disabled, kubeadm insecure. */
  readonly pods: "disabled" | "insecure" | "verified"
  /** `fallthrough [zones...]`: null = off; [] = every zone. kubeadm: in-addr.arpa ip6.arpa. */
  readonly fallthroughZones: readonly string[] | null
  /** `endpoint_pod_names`: endpoint hostname falls back to the pod name. */
  readonly endpointPodNames: boolean
  /** `ignore empty_service`: NXDOMAIN for ClusterIP services without ready endpoints. */
  readonly ignoreEmptyService: boolean
}

/** The plugin's own defaults (README + kubernetes.go). */
export const COREDNS_KUBERNETES_DEFAULTS: KubernetesPluginConfig = {
  zones: ["cluster.local"],
  ttlS: 5,
  pods: "disabled",
  fallthroughZones: null,
  endpointPodNames: false,
  ignoreEmptyService: false,
}

/** kubeadm's Corefile: `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa; ttl 30 }`. */
export function kubeadmKubernetesPlugin(clusterDomain = "cluster.local"): KubernetesPluginConfig {
  return {
    zones: [clusterDomain, "in-addr.arpa", "ip6.arpa"],
    ttlS: 30,
    pods: "insecure",
    fallthroughZones: ["in-addr.arpa", "ip6.arpa"],
    endpointPodNames: false,
    ignoreEmptyService: false,
  }
}

/** kubernetes/dns docs/specification.md schema version, answered at dns-version.<zone>. */
export const DNS_SCHEMA_VERSION = "1.1.0"
const DNS_VERSION_TTL_S = 28800

export type KubernetesResult =
  | { readonly kind: "reply"; readonly reply: DnsMessage }
  | { readonly kind: "next" }
  | {
      readonly kind: "upstream"
      readonly cname: CnameRecord
      /** Resolve `cname.target` for `qtype` through the server's chain, then completeExternalName. */
      readonly qtype: number
    }

/** A backend entry (CoreDNS msg.Service): an address or a CNAME target, a port, an SRV target. */
interface Entry {
  readonly host: string
  readonly port: number
  /** msg.Domain(Key): the SRV target / owner of additional records. */
  readonly domain: string
}

const ERR_NONE = 0
const ERR_NO_ITEMS = 1
const ERR_INVALID = 2

interface Lookup {
  entries: Entry[]
  err: number
}

function isIpv4(s: string): boolean {
  const parts = s.split(".")
  if (parts.length !== 4) return false
  for (const p of parts) if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return false
  return true
}

function isIpv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9a-fA-F:.]+$/.test(s)) return false
  const double = s.split("::").length - 1
  if (double > 1) return false
  const groups = s.split(":").filter((g) => g !== "")
  if (groups.length > 8 || (double === 0 && groups.length !== 8)) return false
  return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))
}

/** msg.Service.HostType: A, AAAA or CNAME (not an IP). */
function hostType(host: string): number {
  return isIpv4(host) ? DnsType.A : isIpv6(host) ? DnsType.AAAA : DnsType.CNAME
}

/** match(): case-insensitive equality. */
function match(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase()
}

function matchPortAndProtocol(aPort: string, bPort: string, aProtocol: string, bProtocol: string): boolean {
  return (aPort === "" || match(aPort, bPort)) && (aProtocol === "" || match(aProtocol, bProtocol))
}

function stripUnderscore(s: string): string {
  return s.startsWith("_") ? s.slice(1) : s
}

function isSubdomain(name: string, zone: string): boolean {
  const n = name.toLowerCase()
  const z = zone.toLowerCase()
  return z === "" || n === z || n.endsWith(`.${z}`)
}

interface Request {
  port: string
  protocol: string
  endpoint: string
  service: string
  namespace: string
  podOrSvc: string
}

/** dnsutil.ExtractAddressFromReverse: the address of a full in-addr.arpa / ip6.arpa name, or "". */
export function addressFromReverse(name: string): string {
  const lower = name.toLowerCase()
  if (lower.endsWith(".in-addr.arpa")) {
    const labels = lower.slice(0, -".in-addr.arpa".length).split(".")
    if (labels.length !== 4) return ""
    const ip = labels.reverse().join(".")
    return isIpv4(ip) ? ip : ""
  }
  if (lower.endsWith(".ip6.arpa")) {
    const nibbles = lower.slice(0, -".ip6.arpa".length).split(".")
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return ""
    const hex = nibbles.reverse().join("")
    const groups: string[] = []
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4).replace(/^0+(?=.)/, ""))
    return canonicalIpv6(groups.join(":"))
  }
  return ""
}

/** RFC 5952 text of a full 8-group address (longest run of >= 2 zero groups compressed). */
function canonicalIpv6(full: string): string {
  const groups = full.split(":")
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === "0") j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart < 0) return groups.join(":")
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLength).join(":")}`
}

export class KubernetesPlugin {
  /** False until the informers synced: name errors become SERVFAIL (handler.go). */
  synced = true
  /** SOA serial: Unix seconds of the last Service/EndpointSlice change (dnsControl.Modified). */
  serial = 0
  /** Reverse and pod-IP indexes (the informers' SvcIndexReverse/EpIndexReverse/PodIndex), rebuilt lazily when the store changed. */
  private indexVersion = -1
  private reverse = new Map<string, string[]>()
  private podIps = new Map<string, string[]>()

  constructor(
    private readonly store: ApiStore,
    private readonly config: KubernetesPluginConfig,
  ) {}

  /** The primary zone: the first non-reverse zone. */
  private primaryZone(): string {
    for (const z of this.config.zones) if (!z.endsWith("arpa")) return z
    return this.config.zones[0]
  }

  /** plugin.Zones.Matches: the longest zone `name` is in, or "". */
  private matchZone(name: string): string {
    let best = ""
    let found = false
    for (const z of this.config.zones)
      if (isSubdomain(name, z) && (!found || z.length > best.length)) {
        best = z
        found = true
      }
    return found ? best : "\u0000"
  }

  serve(query: DnsMessage): KubernetesResult {
    const question = query.questions[0]
    const qname = question.name
    const matched = this.matchZone(qname)
    if (matched === "\u0000") return { kind: "next" }
    // "maintain case of original query"
    const zone = matched === "" ? "" : qname.slice(qname.length - matched.length)
    const qtype = question.type
    let records: DnsRecord[] = []
    const extra: DnsRecord[] = []
    let err = ERR_NONE
    switch (qtype) {
      case DnsType.A:
      case DnsType.AAAA: {
        const found = this.checkForApex(qname, zone, qtype)
        err = found.err
        if (err === ERR_NONE) {
          const a = this.addressRecords(qname, zone, qtype, found.entries)
          if (a.kind === "upstream") return a
          records = a.records
        }
        break
      }
      case DnsType.TXT: {
        const found = this.txt(qname, zone)
        err = found.err
        records = found.records
        break
      }
      case DnsType.CNAME: {
        const found = this.services(qname, zone, qtype)
        err = found.err
        if (err === ERR_NONE)
          for (const e of found.entries)
            if (hostType(e.host) === DnsType.CNAME)
              records.push({ name: qname, ttl: this.config.ttlS, type: DnsType.CNAME, target: e.host })
        break
      }
      case DnsType.PTR: {
        const found = this.ptr(qname, zone)
        err = found.err
        records = found.records
        break
      }
      case DnsType.SRV: {
        const found = this.services(qname, zone, qtype)
        err = found.err
        if (err === ERR_NONE) this.srv(qname, found.entries, records, extra)
        break
      }
      case DnsType.SOA:
        if (qname.toLowerCase() === zone.toLowerCase()) records = [this.soa(zone)]
        break
      case DnsType.AXFR:
      case DnsType.IXFR:
        return { kind: "reply", reply: dnsReply(query, Rcode.REFUSED, 0, []) }
      default:
        // "Do a fake A lookup, so we can distinguish between NODATA and NXDOMAIN".
        err = this.checkForApex(qname, zone, DnsType.A).err
    }
    if (err !== ERR_NONE) {
      if (this.fallsThrough(qname)) return { kind: "next" }
      return { kind: "reply", reply: this.backendError(query, zone, this.synced ? Rcode.NXDOMAIN : Rcode.SERVFAIL) }
    }
    if (records.length === 0) return { kind: "reply", reply: this.backendError(query, zone, Rcode.NOERROR) }
    return { kind: "reply", reply: dnsReply(query, Rcode.NOERROR, DnsFlag.AA, records, [], extra) }
  }

  /**
   * The reply after the ExternalName target was resolved upstream: the CNAME then the target's
   * answers, or NODATA with the SOA when the lookup failed (A() `continue`s on e1 != nil).
   */
  completeExternalName(
    query: DnsMessage,
    cname: CnameRecord,
    upstreamAnswers: readonly DnsRecord[] | null,
  ): DnsMessage {
    const zone = this.zoneOf(query.questions[0].name)
    if (upstreamAnswers === null) return this.backendError(query, zone, Rcode.NOERROR)
    return dnsReply(query, Rcode.NOERROR, DnsFlag.AA, [cname, ...upstreamAnswers])
  }

  private zoneOf(qname: string): string {
    const matched = this.matchZone(qname)
    return matched === "\u0000" || matched === "" ? "" : qname.slice(qname.length - matched.length)
  }

  private fallsThrough(qname: string): boolean {
    const zones = this.config.fallthroughZones
    if (zones === null) return false
    if (zones.length === 0) return true
    for (const z of zones) if (isSubdomain(qname, z)) return true
    return false
  }

  /** BackendError: rcode, aa=1, the zone's SOA in the authority section. */
  private backendError(query: DnsMessage, zone: string, rcode: number): DnsMessage {
    return dnsReply(query, rcode, DnsFlag.AA, [], [this.soa(zone)])
  }

  /** backend_lookup.go SOA(): TTL min(ttl, 300), MINIMUM = ttl. */
  soa(zone: string): SoaRecord {
    const ttl = this.config.ttlS
    return {
      name: zone,
      ttl: Math.min(ttl, 300),
      type: DnsType.SOA,
      mname: zone === "" ? "ns.dns" : `ns.dns.${zone}`,
      rname: zone === "" ? "hostmaster" : `hostmaster.${zone}`,
      serial: this.serial >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    }
  }

  /** checkForApex: the zone apex is looked up as apex.dns.<zone> first (a name error), then as itself. */
  private checkForApex(qname: string, zone: string, qtype: number): Lookup {
    return this.services(qname, zone, qtype)
  }

  /** A() / AAAA(): addresses deduplicated; CNAME entries followed (in-zone) or sent upstream. */
  private addressRecords(
    qname: string,
    zone: string,
    qtype: number,
    entries: readonly Entry[],
  ): { kind: "records"; records: DnsRecord[] } | Extract<KubernetesResult, { kind: "upstream" }> {
    const records: DnsRecord[] = []
    const seen = new Set<string>()
    for (const e of entries) {
      const what = hostType(e.host)
      if (what === DnsType.CNAME) {
        // "x CNAME x is a direct loop, don't add those".
        if (match(e.host, qname)) continue
        const cname: CnameRecord = { name: qname, ttl: this.config.ttlS, type: DnsType.CNAME, target: e.host }
        if (isSubdomain(e.host, zone)) {
          const inner = this.services(e.host, zone, qtype)
          if (inner.err !== ERR_NONE) continue
          const next = this.addressRecords(e.host, zone, qtype, inner.entries)
          if (next.kind === "records" && next.records.length > 0) records.push(cname, ...next.records)
          continue
        }
        return { kind: "upstream", cname, qtype }
      }
      if (what !== qtype || seen.has(e.host)) continue
      seen.add(e.host)
      records.push(
        what === DnsType.A
          ? { name: qname, ttl: this.config.ttlS, type: DnsType.A, address: e.host }
          : { name: qname, ttl: this.config.ttlS, type: DnsType.AAAA, address: e.host },
      )
    }
    return { kind: "records", records }
  }

  /** plugin.SRV: weight floor(100 / entries) (min 1), priority 0, records dedup by (target, port). */
  private srv(qname: string, entries: readonly Entry[], records: DnsRecord[], extra: DnsRecord[]): void {
    const weight = Math.max(1, Math.floor(100 / Math.max(1, entries.length)))
    const seen = new Set<string>()
    for (const e of entries) {
      if (e.port === -1) continue
      const what = hostType(e.host)
      if (what === DnsType.CNAME) continue // Services() drops external services for SRV
      const target = e.domain
      const key = `${target.toLowerCase()}|${e.port}`
      if (!seen.has(key)) {
        seen.add(key)
        records.push({
          name: qname,
          ttl: this.config.ttlS,
          type: DnsType.SRV,
          priority: 0,
          weight,
          port: e.port,
          target,
        })
      }
      const addrKey = `${target.toLowerCase()}|${e.host}`
      if (!seen.has(addrKey)) {
        seen.add(addrKey)
        extra.push(
          what === DnsType.A
            ? { name: target, ttl: this.config.ttlS, type: DnsType.A, address: e.host }
            : { name: target, ttl: this.config.ttlS, type: DnsType.AAAA, address: e.host },
        )
      }
    }
  }

  /** Services() for TXT: dns-version, else NODATA when the name exists, NXDOMAIN otherwise. */
  private txt(qname: string, zone: string): { records: DnsRecord[]; err: number } {
    const base = this.trimZone(qname, zone)
    if (base.toLowerCase() === "dns-version")
      return {
        records: [{ name: qname, ttl: DNS_VERSION_TTL_S, type: DnsType.TXT, text: [DNS_SCHEMA_VERSION] }],
        err: ERR_NONE,
      }
    const found = this.records(qname, zone)
    if (found.entries.length > 0) return { records: [], err: ERR_NONE }
    return { records: [], err: ERR_NO_ITEMS }
  }

  private trimZone(qname: string, zone: string): string {
    if (qname.length === zone.length) return ""
    return zone === "" ? qname : qname.slice(0, qname.length - zone.length - 1)
  }

  /** Services(): Records(), SRV keeping internal entries only. */
  private services(qname: string, zone: string, qtype: number): Lookup {
    const found = this.records(qname, zone)
    if (qtype !== DnsType.SRV) return found
    return { entries: found.entries.filter((e) => hostType(e.host) !== DnsType.CNAME), err: found.err }
  }

  /** parseRequest. */
  private parse(qname: string, zone: string): Request | number {
    const r: Request = { port: "", protocol: "", endpoint: "", service: "", namespace: "", podOrSvc: "" }
    const base = this.trimZone(qname, zone).toLowerCase()
    // "return NODATA for apex queries"
    if (base === "" || base === "svc" || base === "pod") return r
    const segs = base.split(".")
    let last = segs.length - 1
    r.podOrSvc = segs[last]
    if (r.podOrSvc !== "pod" && r.podOrSvc !== "svc") return ERR_INVALID
    if (--last < 0) return r
    r.namespace = segs[last]
    if (--last < 0) return r
    r.service = segs[last]
    if (--last < 0) return r
    if (last === 0) r.endpoint = segs[0]
    else if (last === 1) {
      r.protocol = stripUnderscore(segs[1])
      r.port = stripUnderscore(segs[0])
    } else return ERR_INVALID // "a query that is too long to answer"
    return r
  }

  /** Records(). */
  private records(qname: string, zone: string): Lookup {
    const r = this.parse(qname, zone)
    if (typeof r === "number") return { entries: [], err: r }
    if (r.podOrSvc === "") return { entries: [], err: ERR_NONE }
    if (zone.toLowerCase().endsWith("arpa")) return { entries: [], err: ERR_NO_ITEMS } // dnsutil.IsReverse
    if (!this.namespaceExposed(r.namespace)) return { entries: [], err: ERR_NO_ITEMS } // errNsNotExposed
    if (r.podOrSvc === "pod") return this.findPods(r, zone)
    return this.findServices(r, zone)
  }

  private namespaceExposed(namespace: string): boolean {
    return this.store.get("Namespace", "", namespace) !== undefined
  }

  /** findPods: `pods insecure` answers any parseable IP in an existing namespace. */
  private findPods(r: Request, zone: string): Lookup {
    if (this.config.pods === "disabled") return { entries: [], err: ERR_NO_ITEMS }
    const podname = r.service
    if (podname === "") return { entries: [], err: ERR_NONE }
    const dashes = podname.split("-").length - 1
    const ip = dashes === 3 && !podname.includes("--") ? podname.replaceAll("-", ".") : podname.replaceAll("-", ":")
    const domain = `${podname}.${r.namespace}.pod.${zone}`
    if (this.config.pods === "insecure") {
      if (!isIpv4(ip) && !isIpv6(ip)) return { entries: [], err: ERR_NO_ITEMS }
      return { entries: [{ host: ip, port: 0, domain }], err: ERR_NONE }
    }
    // PodIndex(ip): pods with that IP, in the asked namespace.
    const entries: Entry[] = []
    for (const namespace of this.podIndex().get(ip) ?? [])
      if (match(r.namespace, namespace)) entries.push({ host: ip, port: 0, domain })
    return { entries, err: entries.length > 0 ? ERR_NONE : ERR_NO_ITEMS }
  }

  /** findServices. */
  private findServices(r: Request, zone: string): Lookup {
    if (r.service === "") return { entries: [], err: ERR_NONE } // "handle empty service name": NODATA
    const entries: Entry[] = []
    let err = ERR_NO_ITEMS
    // SvcIndex(name.namespace): the store is keyed by (namespace, name), compared case-insensitively.
    const svc = this.findService(r.namespace, r.service)
    if (svc === undefined) return { entries, err }
    const clusterIPs = svc.spec.clusterIPs ?? [svc.spec.clusterIP ?? ""]
    const headless = clusterIPs[0] === "None"
    const svcDomain = `${svc.metadata.name}.${svc.metadata.namespace ?? "default"}.svc.${zone}`
    const slices = this.store.endpointSlicesFor(svc.metadata.namespace ?? "default", svc.metadata.name)
    if (this.config.ignoreEmptyService && svc.spec.type !== "ExternalName" && !headless) {
      let ready = 0
      for (const slice of slices) for (const ep of slice.endpoints) if (ep.conditions?.ready ?? true) ready++
      if (ready === 0) return { entries, err }
    }
    if (svc.spec.type === "ExternalName") {
      // "External services do not have endpoints, nor can we accept port/protocol pseudo subdomains".
      if (r.endpoint !== "" || r.port !== "" || r.protocol !== "") return { entries, err }
      const host = svc.spec.externalName ?? ""
      if (hostType(host) === DnsType.CNAME) {
        entries.push({ host, port: 0, domain: svcDomain })
        err = ERR_NONE
      }
      return { entries, err }
    }
    if (headless || r.endpoint !== "") {
      for (const slice of slices) {
        const ports = slicePorts(slice)
        for (const ep of slice.endpoints) {
          if (!(ep.conditions?.ready ?? true)) continue
          for (const address of ep.addresses) {
            const hostname = this.endpointHostname(address, ep.hostname, ep.targetRef?.name)
            if (r.endpoint !== "" && !match(r.endpoint, hostname)) continue
            for (const p of ports) {
              if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue
              entries.push({ host: address, port: p.port, domain: `${hostname}.${svcDomain}` })
              err = ERR_NONE
            }
          }
        }
      }
      return { entries, err }
    }
    // ToService: a port -1 sentinel when the service has no ports; the API defaults protocol to TCP.
    const ports =
      svc.spec.ports === undefined || svc.spec.ports.length === 0
        ? [{ name: "", protocol: "", port: -1 }]
        : svc.spec.ports.map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port }))
    for (const p of ports) {
      if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue
      err = ERR_NONE
      for (const ip of clusterIPs) entries.push({ host: ip, port: p.port, domain: svcDomain })
    }
    return { entries, err }
  }

  /**
   * SvcIndex(name.namespace). API object names are lowercase DNS-1123 labels and parse() lowercases
   * the query, so the exact key is the case-insensitive match.
   */
  private findService(namespace: string, name: string): Service | undefined {
    return this.store.get("Service", namespace, name)
  }

  /** endpointHostname: hostname, else pod name with endpoint_pod_names, else the dashed IP. */
  private endpointHostname(ip: string, hostname: string | undefined, podName: string | undefined): string {
    if (hostname !== undefined && hostname !== "") return hostname
    if (this.config.endpointPodNames && podName !== undefined && podName !== "" && podName.length < 64) return podName
    if (ip.includes(".")) return ip.replaceAll(".", "-")
    if (ip.includes(":")) {
      const dashed = ip.replaceAll(":", "-")
      return dashed.endsWith("-") ? `${dashed}0` : dashed
    }
    return ""
  }

  private refreshIndexes(): void {
    if (this.indexVersion === this.store.resourceVersion) return
    this.indexVersion = this.store.resourceVersion
    const primary = this.primaryZone()
    const reverse = new Map<string, string[]>()
    // serviceRecordForIP: a ClusterIP answers with its (first) service only...
    for (const s of this.store.list("Service")) {
      const ips = s.spec.clusterIPs ?? (s.spec.clusterIP !== undefined ? [s.spec.clusterIP] : [])
      for (const ip of ips)
        if (ip !== "None" && ip !== "" && !reverse.has(ip))
          reverse.set(ip, [`${s.metadata.name}.${s.metadata.namespace ?? "default"}.svc.${primary}`])
    }
    // ...else every ready endpoint with that address, one name per (hostname, service).
    const endpoints = new Map<string, string[]>()
    for (const slice of this.store.list("EndpointSlice")) {
      const service = slice.metadata.labels?.["kubernetes.io/service-name"]
      if (service === undefined) continue
      for (const ep of slice.endpoints) {
        if (!(ep.conditions?.ready ?? true)) continue
        for (const address of ep.addresses) {
          const hostname = this.endpointHostname(address, ep.hostname, ep.targetRef?.name)
          const target = `${hostname}.${service}.${slice.metadata.namespace ?? "default"}.svc.${primary}`
          let list = endpoints.get(address)
          if (list === undefined) endpoints.set(address, (list = []))
          if (!list.includes(target)) list.push(target)
        }
      }
    }
    for (const [ip, targets] of endpoints) if (!reverse.has(ip)) reverse.set(ip, targets)
    this.reverse = reverse
    const podIps = new Map<string, string[]>()
    for (const p of this.store.list("Pod")) {
      const ip = p.status?.podIP
      if (ip === undefined) continue
      let list = podIps.get(ip)
      if (list === undefined) podIps.set(ip, (list = []))
      list.push(p.metadata.namespace ?? "default")
    }
    this.podIps = podIps
  }

  private reverseIndex(): ReadonlyMap<string, readonly string[]> {
    this.refreshIndexes()
    return this.reverse
  }

  private podIndex(): ReadonlyMap<string, readonly string[]> {
    this.refreshIndexes()
    return this.podIps
  }

  /** plugin.PTR over Reverse(): the first ClusterIP service with that IP, else every ready endpoint. */
  private ptr(qname: string, zone: string): { records: DnsRecord[]; err: number } {
    const ip = addressFromReverse(qname)
    if (ip === "") {
      const found = this.records(qname, zone)
      return { records: [], err: found.err }
    }
    const targets = this.reverseIndex().get(ip) ?? []
    if (targets.length === 0) return { records: [], err: ERR_NO_ITEMS }
    return {
      records: targets.map((target) => ({ name: qname, ttl: this.config.ttlS, type: DnsType.PTR, target })),
      err: ERR_NONE,
    }
  }
}

/** endpointSliceToEndpoints ports: a port -1 sentinel when the slice has none. */
function slicePorts(slice: EndpointSlice): { name: string; protocol: string; port: number }[] {
  if (slice.ports === undefined || slice.ports.length === 0) return [{ name: "", protocol: "", port: -1 }]
  // The API defaults an EndpointSlice port's protocol to TCP.
  return slice.ports.map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP", port: p.port ?? -1 }))
}
