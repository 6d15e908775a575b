/**
 * The /etc/resolv.conf kubelet gives a pod: kubernetes/kubernetes pkg/kubelet/network/dns/dns.go
 * (`Configurer.GetPodDNS`, `getPodDNSType`, `generateSearchesForDNSClusterFirst`,
 * `appendDNSConfig`, `mergeDNSOptions`, `formDNSConfigFitsLimits`, `parseResolvConf`), rendered as
 * the container runtime writes the file (containerd's `parseDNSOptions`: a `search` line, one
 * `nameserver` line per server, an `options` line; empty parts omitted).
 *
 * Policy -> base configuration (GetPodDNS):
 * - `None`: empty; everything comes from `spec.dnsConfig` (the API server requires >= 1 nameserver).
 * - `ClusterFirst` (also the default: the API server defaults an empty dnsPolicy to it) on a pod
 *   network pod, and `ClusterFirstWithHostNet`: nameservers = kubelet clusterDNS; search =
 *   `<ns>.svc.<domain> svc.<domain> <domain>` followed by the node's search domains, duplicates
 *   omitted; options = exactly `ndots:5` (node options dropped). An empty clusterDomain keeps the
 *   node's search list only. Without clusterDNS kubelet falls back to `Default` (MissingClusterDNS
 *   event).
 * - `ClusterFirst` with hostNetwork, and `Default`: the node's resolv.conf (kubelet --resolv-conf)
 *   as kubelet parses it; when that flag is "" -> `nameserver 127.0.0.1` (`::1` for an IPv6 node
 *   IP), `search .`.
 * Then `spec.dnsConfig` is appended for every policy: nameservers and searches appended with
 * duplicates omitted, options merged by name with the pod's value winning. Finally the limits:
 * <= 3 nameservers (validation.MaxDNSNameservers); search list truncated to 32 domains, domains
 * longer than 253 characters dropped, then domains cut from the end until the joined line is
 * <= 2048 characters (validation.MaxDNSSearchPaths / MaxDNSSearchListChars since 1.28, the
 * ExpandedDNSConfig feature; 6 / 256 before). Each truncation is a `DNSConfigForming` warning.
 *
 * Option order: kubelet's mergeDNSOptions rebuilds the list from a Go map, so when a pod has
 * `dnsConfig.options` the real order is Go's randomized map order. Here the order is deterministic:
 * base options first, then new names in the pod's order (no resolver depends on option order
 * when names are unique, which the merge guarantees).
 */

export type DnsPolicy = "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None"

/** Pod `spec.dnsConfig` (core/v1 PodDNSConfig). */
export interface PodDnsConfig {
  readonly nameservers?: readonly string[]
  readonly searches?: readonly string[]
  readonly options?: readonly { readonly name: string; readonly value?: string }[]
}

/** What GetPodDNS needs from the pod. */
export interface PodDnsInput {
  readonly namespace: string
  /** Unset -> ClusterFirst (API server default). */
  readonly dnsPolicy?: DnsPolicy
  readonly hostNetwork?: boolean
  readonly dnsConfig?: PodDnsConfig
}

/** kubelet configuration the file depends on. */
export interface KubeletDnsSettings {
  /** --cluster-domain (kubeadm: cluster.local). "" = none. */
  readonly clusterDomain: string
  /** --cluster-dns addresses (kubeadm: the 10th address of the service CIDR, 10.96.0.10). */
  readonly clusterDNS: readonly string[]
  /** Text of the node file named by --resolv-conf; null when the flag is "". */
  readonly nodeResolvConf: string | null
  /** Node IPs, only to choose 127.0.0.1 or ::1 when nodeResolvConf is null. */
  readonly nodeIPs?: readonly string[]
  /** ExpandedDNSConfig limits (default true: GA and locked on since 1.28). */
  readonly expandedDnsConfig?: boolean
}

export interface ResolvConfData {
  readonly nameservers: readonly string[]
  readonly searches: readonly string[]
  /** "name" or "name:value", as written on the options line. */
  readonly options: readonly string[]
}

export interface PodResolvConf extends ResolvConfData {
  /** DNSConfigForming / MissingClusterDNS warnings kubelet records as pod events. */
  readonly warnings: readonly string[]
}

/** dns.go defaultDNSOptions. */
export const KUBELET_DEFAULT_DNS_OPTIONS: readonly string[] = ["ndots:5"]
/** validation.MaxDNSNameservers. */
export const MAX_DNS_NAMESERVERS = 3
/** validation.MaxDNSSearchPaths / MaxDNSSearchListChars (ExpandedDNSConfig, 1.28+). */
export const MAX_DNS_SEARCH_PATHS = 32
export const MAX_DNS_SEARCH_LIST_CHARS = 2048
/** The legacy limits (before ExpandedDNSConfig). */
export const MAX_DNS_SEARCH_PATHS_LEGACY = 6
export const MAX_DNS_SEARCH_LIST_CHARS_LEGACY = 256
/** utilvalidation.DNS1123SubdomainMaxLength: longer search domains are dropped. */
export const MAX_DNS_SEARCH_DOMAIN_CHARS = 253

/** Policy kubelet applies (getPodDNSType): hostNetwork + ClusterFirst falls back to Default. */
export function effectiveDnsPolicy(pod: PodDnsInput): "cluster" | "host" | "none" {
  const policy = pod.dnsPolicy ?? "ClusterFirst"
  switch (policy) {
    case "None":
      return "none"
    case "ClusterFirstWithHostNet":
      return "cluster"
    case "ClusterFirst":
      return pod.hostNetwork === true ? "host" : "cluster"
    case "Default":
      return "host"
  }
}

/**
 * The node file as kubelet reads it (dns.go parseResolvConf): `nameserver` lines in order, the
 * last `search` line (trailing dots trimmed, "." dropped), `options` appended with a later option
 * replacing an earlier one of the same name. Lines starting with '#' or ';' are comments.
 */
export function parseNodeResolvConf(text: string): ResolvConfData {
  const nameservers: string[] = []
  let searches: string[] = []
  let options: string[] = []
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.startsWith(";")) continue
    const fields = line.trim().split(/\s+/)
    if (fields[0] === "nameserver" && fields.length >= 2) nameservers.push(fields[1])
    else if (fields[0] === "search") {
      searches = []
      for (const s of fields.slice(1)) if (s !== ".") searches.push(s.endsWith(".") ? s.slice(0, -1) : s)
    } else if (fields[0] === "options") options = appendOptions(options, fields.slice(1))
  }
  return { nameservers, searches, options }
}

function optionName(option: string): string {
  const colon = option.indexOf(":")
  return colon < 0 ? option : option.slice(0, colon)
}

/** dns.go appendOptions: a new option replaces the one with the same name, in place. */
function appendOptions(options: readonly string[], extra: readonly string[]): string[] {
  const out = [...options]
  for (const option of extra) {
    const at = out.findIndex((o) => optionName(o) === optionName(option))
    if (at >= 0) out[at] = option
    else out.push(option)
  }
  return out
}

/** dns.go omitDuplicates: first occurrence kept, order preserved. */
function omitDuplicates(items: readonly string[]): string[] {
  return [...new Set(items)]
}

/** dns.go mergeDNSOptions (deterministic order, see the module comment). */
function mergeDnsOptions(base: readonly string[], pod: PodDnsConfig["options"]): string[] {
  const values = new Map<string, string>()
  for (const option of base) {
    const colon = option.indexOf(":")
    if (colon < 0) values.set(option, "")
    else values.set(option.slice(0, colon), option.slice(colon + 1))
  }
  for (const option of pod ?? []) values.set(option.name, option.value ?? "")
  const out: string[] = []
  for (const [name, value] of values) out.push(value === "" ? name : `${name}:${value}`)
  return out
}

/** GetPodDNS: the pod's resolver configuration. Throws for dnsPolicy None without nameservers. */
export function podResolvConf(pod: PodDnsInput, kubelet: KubeletDnsSettings): PodResolvConf {
  const warnings: string[] = []
  const host: ResolvConfData =
    kubelet.nodeResolvConf === null
      ? { nameservers: [], searches: [], options: [] }
      : parseNodeResolvConf(kubelet.nodeResolvConf)
  let nameservers: string[] = [...host.nameservers]
  let searches: string[] = [...host.searches]
  let options: string[] = [...host.options]
  let kind = effectiveDnsPolicy(pod)
  if (kind === "cluster" && kubelet.clusterDNS.length === 0) {
    warnings.push(
      `MissingClusterDNS: kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.`,
    )
    kind = "host"
  }
  if (kind === "none") {
    nameservers = []
    searches = []
    options = []
    if ((pod.dnsConfig?.nameservers?.length ?? 0) === 0)
      throw new Error(
        `spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when dnsPolicy is None`,
      )
  } else if (kind === "cluster") {
    nameservers = [...kubelet.clusterDNS]
    if (kubelet.clusterDomain !== "") {
      const d = kubelet.clusterDomain
      searches = omitDuplicates([`${pod.namespace}.svc.${d}`, `svc.${d}`, d, ...searches])
    }
    options = [...KUBELET_DEFAULT_DNS_OPTIONS]
  } else if (kubelet.nodeResolvConf === null) {
    // --resolv-conf="": "use the nameserver on the local machine".
    nameservers = []
    for (const ip of kubelet.nodeIPs ?? []) nameservers.push(ip.includes(":") ? "::1" : "127.0.0.1")
    if (nameservers.length === 0) nameservers.push("127.0.0.1")
    searches = ["."]
  }
  if (pod.dnsConfig !== undefined) {
    nameservers = omitDuplicates([...nameservers, ...(pod.dnsConfig.nameservers ?? [])])
    searches = omitDuplicates([...searches, ...(pod.dnsConfig.searches ?? [])])
    options = mergeDnsOptions(options, pod.dnsConfig.options)
  }
  // formDNSNameserversFitsLimits
  if (nameservers.length > MAX_DNS_NAMESERVERS) {
    nameservers = nameservers.slice(0, MAX_DNS_NAMESERVERS)
    warnings.push(
      `DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${nameservers.join(" ")}`,
    )
  }
  searches = searchFitsLimits(searches, kubelet.expandedDnsConfig ?? true, warnings)
  return { nameservers, searches, options, warnings }
}

/** formDNSSearchFitsLimits. */
function searchFitsLimits(input: readonly string[], expanded: boolean, warnings: string[]): string[] {
  const maxPaths = expanded ? MAX_DNS_SEARCH_PATHS : MAX_DNS_SEARCH_PATHS_LEGACY
  const maxChars = expanded ? MAX_DNS_SEARCH_LIST_CHARS : MAX_DNS_SEARCH_LIST_CHARS_LEGACY
  let exceeded = false
  let searches = [...input]
  if (searches.length > maxPaths) {
    searches = searches.slice(0, maxPaths)
    exceeded = true
  }
  // "In some DNS resolvers (e.g. glibc 2.28), DNS resolving causes abort() if there is a search
  // path exceeding 255 characters" (dns.go).
  const kept = searches.filter((s) => s.length <= MAX_DNS_SEARCH_DOMAIN_CHARS)
  if (kept.length !== searches.length) exceeded = true
  searches = kept
  const lineChars = searches.join(" ").length
  if (lineChars > maxChars) {
    let cutCount = 0
    let cutChars = 0
    for (let i = searches.length - 1; i >= 0; i--) {
      cutChars += searches[i].length + 1
      cutCount++
      if (lineChars - cutChars <= maxChars) break
    }
    searches = searches.slice(0, searches.length - cutCount)
    exceeded = true
  }
  if (exceeded)
    warnings.push(
      `DNSConfigForming: Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${searches.join(" ")}`,
    )
  return searches
}

/** The file text as the container runtime writes it (containerd parseDNSOptions). */
export function renderResolvConf(conf: ResolvConfData): string {
  let text = ""
  if (conf.searches.length > 0) text += `search ${conf.searches.join(" ")}\n`
  for (const ns of conf.nameservers) text += `nameserver ${ns}\n`
  if (conf.options.length > 0) text += `options ${conf.options.join(" ")}\n`
  return text
}
