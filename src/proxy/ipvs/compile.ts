/**
 * kube-proxy's IPVS mode as a pure compiler: (Services, EndpointSlices, node, config) to what one
 * `syncProxyRules` run wants programmed: the addresses on the `kube-ipvs0` dummy interface, the
 * ipsets and their entries, the `iptables-restore --noflush --counters` payload, and the IPVS
 * virtual servers with their real servers.
 *
 * Upstream: kubernetes/kubernetes pkg/proxy/ipvs/proxier.go `syncProxyRules`, `writeIptablesRules`,
 * `acceptIPVSTraffic`, `createAndLinkKubeChain`, `syncEndpoint` (v1.31-v1.34 shape);
 * ../shared/reference/proxy-modes.md §3.1-3.3. Endpoint categories come from the mode-independent
 * view (view.ts), as pkg/proxy/topology.go `CategorizeEndpoints` gives them to every proxier.
 *
 * Differences from a real node, all deliberate and documented:
 * - Service ports are visited sorted by ServicePortName (upstream: Go map order). This fixes the order
 *   of KUBE-IPVS-OUT-FILTER rules and which of two services sharing one VIP:port wins its virtual
 *   server (upstream: whichever the map visits last).
 * - Real servers are listed sorted by "IP:port" (upstream adds them in Go set order; the kernel then
 *   head-inserts each, see reconcile.ts), node IPs for NodePorts numerically.
 * - ipset entries are sorted (upstream tests compare them sorted; `bitmap:port` lists ascending in the
 *   kernel too, hash sets list in hash order).
 * - The masquerade mark is written as real kube-proxy writes it (Go `%#08x`: `0x00004000`).
 */
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { buildServicePorts, nodeZone } from "../service-port.ts"
import type { EndpointInfo, ProxyNode, ServicePortInfo } from "../service-port.ts"
import { servicePortView } from "../view.ts"
import type { ServicePortView } from "../view.ts"
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../../wire/ipv4.ts"
import type { Cidr } from "../../wire/ipv4.ts"
import {
  DEFAULT_SCHEDULER,
  FLAG_PERSISTENT,
  FLAG_SOURCE_HASH,
  IPSET_INFO,
  IPSET_WITH_IPTABLES_CHAIN,
  IPTABLES_CHAINS,
  IPTABLES_JUMP_CHAINS,
  KUBE_CLUSTER_IP,
  KUBE_EXTERNAL_IP,
  KUBE_EXTERNAL_IP_LOCAL,
  KUBE_FORWARD,
  KUBE_HEALTH_CHECK_NODE_PORT,
  KUBE_IPVS_FILTER,
  KUBE_IPVS_IPS,
  KUBE_IPVS_OUT_FILTER,
  KUBE_LOAD_BALANCER,
  KUBE_LOAD_BALANCER_FW,
  KUBE_LOAD_BALANCER_LOCAL,
  KUBE_LOAD_BALANCER_SET,
  KUBE_LOAD_BALANCER_SOURCE_CIDR,
  KUBE_LOAD_BALANCER_SOURCE_IP,
  KUBE_LOOP_BACK,
  KUBE_MARK_MASQ,
  KUBE_NODE_PORT,
  KUBE_NODE_PORT_LOCAL_SCTP_HASH,
  KUBE_NODE_PORT_LOCAL_TCP,
  KUBE_NODE_PORT_LOCAL_UDP,
  KUBE_NODE_PORT_SCTP_HASH,
  KUBE_NODE_PORT_TCP,
  KUBE_NODE_PORT_UDP,
  KUBE_POSTROUTING,
  KUBE_SERVICES,
  KUBE_SOURCE_RANGES_FIREWALL,
} from "./names.ts"
import type { IpsetInfo, IptablesTableName } from "./names.ts"

/** kube-proxy IPVS settings (KubeProxyConfiguration.ipvs plus the shared iptables/masquerade ones). */
export interface IpvsConfig {
  /** ipvs.scheduler; "" means rr (proxier.go `defaultScheduler`). */
  readonly scheduler: string
  /** iptables.masqueradeAll, default false. */
  readonly masqueradeAll: boolean
  /** iptables.masqueradeBit, default 14 (mark 0x00004000). */
  readonly masqueradeBit: number
  /** --cluster-cidr for the ClusterCIDR local-traffic detector (`! -s <cidr>`); null = no detector. */
  readonly clusterCIDR: string | null
  /** iptables supports `MASQUERADE --random-fully`. */
  readonly randomFully: boolean
  /** --nodeport-addresses CIDRs (or "primary"); null or empty = all local addresses. */
  readonly nodePortAddresses: readonly string[] | null
  /** ipvs.strictARP: arp_ignore=1, arp_announce=2. */
  readonly strictARP: boolean
  /** ipvs.tcpTimeout/tcpFinTimeout/udpTimeout in seconds; 0 = keep the kernel's value. */
  readonly tcpTimeoutSeconds: number
  readonly tcpFinTimeoutSeconds: number
  readonly udpTimeoutSeconds: number
  /** ipvs.excludeCIDRs: virtual servers inside these are never cleaned up. */
  readonly excludeCIDRs: readonly string[]
  /** Feature gate PreferSameTrafficDistribution (node hints). Default false. */
  readonly preferSameTrafficDistribution: boolean
}

export const DEFAULT_IPVS_CONFIG: IpvsConfig = {
  scheduler: "",
  masqueradeAll: false,
  masqueradeBit: 14,
  clusterCIDR: null,
  randomFully: true,
  nodePortAddresses: null,
  strictARP: false,
  tcpTimeoutSeconds: 0,
  tcpFinTimeoutSeconds: 0,
  udpTimeoutSeconds: 0,
  excludeCIDRs: [],
  preferSameTrafficDistribution: false,
}

/** VirtualServer.Protocol as kube-proxy passes it (`string(svcInfo.Protocol())`). */
export type IpvsProtocol = "TCP" | "UDP" | "SCTP"

/** Which service address a virtual server was made for. */
export type VirtualServerKind = "ClusterIP" | "ExternalIP" | "LoadBalancer" | "NodePort"

export interface IpvsRealServer {
  readonly address: string
  readonly port: number
  /** 1 for every desired endpoint; graceful termination sets 0 (reconcile.ts). */
  readonly weight: number
}

export interface IpvsVirtualServer {
  /** VirtualServer.String(): `net.JoinHostPort(address, port) + "/" + protocol`, e.g. "10.0.0.1:80/TCP". */
  readonly key: string
  readonly address: string
  readonly port: number
  readonly protocol: IpvsProtocol
  readonly scheduler: string
  /** FLAG_PERSISTENT for ClientIP affinity, FLAG_SOURCE_HASH with scheduler mh. */
  readonly flags: number
  /** Persistence timeout (sessionAffinityConfig.clientIP.timeoutSeconds), 0 without affinity. */
  readonly timeoutSeconds: number
  readonly kind: VirtualServerKind
  /** ServicePortName string of the service port that programmed it. */
  readonly servicePortName: string
  /** The address is bound to kube-ipvs0 (false for node IPs and VIPs already on a node interface). */
  readonly bound: boolean
  /** Endpoints chosen with the Local policy (ITP for ClusterIP, ETP otherwise). */
  readonly onlyNodeLocal: boolean
  readonly realServers: readonly IpvsRealServer[]
}

export interface IpsetContents {
  readonly info: IpsetInfo
  /** `Entry.String()` values, sorted (numerically for bitmap:port, as the kernel lists them). */
  readonly entries: readonly string[]
}

/** One `-A` line of the restore payload, with what upstream's `checkIptables` compares. */
export interface IpvsIptablesRule {
  readonly table: IptablesTableName
  readonly chain: string
  /** Everything after `-A <chain> `. */
  readonly spec: string
  /** The `-j` target. */
  readonly jump: string
  /** The `--match-set` set name, or "". */
  readonly matchSet: string
}

/** A jump rule kube-proxy installs in a built-in chain (EnsureRule Prepend = `iptables -I`). */
export interface IpvsJumpRule {
  readonly table: IptablesTableName
  readonly chain: string
  readonly target: string
  readonly spec: string
}

export interface IpvsCompileResult {
  /** Addresses bound to kube-ipvs0 after the sync (= KUBE-IPVS-IPS), numerically sorted. */
  readonly dummyAddresses: readonly string[]
  /** Node IPs NodePort virtual servers are made for (empty when no service has a NodePort). */
  readonly nodePortIPs: readonly string[]
  /** Every virtual server, in the order the sync programs them. */
  readonly virtualServers: readonly IpvsVirtualServer[]
  /** Every ipset in `ipsetInfo` order. */
  readonly ipsets: readonly IpsetContents[]
  /** iptables-restore input: nat chains, nat rules, filter chains, filter rules (NoFlushTables). */
  readonly restoreInput: string
  readonly rules: readonly IpvsIptablesRule[]
  readonly jumpRules: readonly IpvsJumpRule[]
  readonly services: readonly ServicePortView[]
  /** Services with Local policy but no local endpoint (metric sync_proxy_rules_no_local_endpoints_total). */
  readonly noLocalEndpointsInternal: readonly string[]
  readonly noLocalEndpointsExternal: readonly string[]
}

/**
 * NewProxier: `fmt.Sprintf("%#08x", 1<<masqueradeBit)`. Go's zero padding counts digits only (the
 * `0x` prefix comes on top, fmt/format.go `fmtInteger`), so bit 14 prints `0x00004000`.
 */
export function masqueradeMarkIpvs(masqueradeBit: number): string {
  return `0x${(2 ** masqueradeBit).toString(16).padStart(8, "0")}`
}

export function effectiveScheduler(config: IpvsConfig): string {
  return config.scheduler === "" ? DEFAULT_SCHEDULER : config.scheduler
}

/** `ipvs.ConfigureTimeouts` and the sysctls NewProxier ensures, in upstream order. */
export interface IpvsSysctl {
  readonly path: string
  readonly value: number
}

export interface KernelVersion {
  readonly major: number
  readonly minor: number
}

/** utilkernel.IPVSConnReuseModeFixedKernelVersion = "5.9" (kubernetes issue #93297). */
export const CONN_REUSE_MODE_FIXED_KERNEL: KernelVersion = { major: 5, minor: 9 }
/** utilkernel.IPVSConnReuseModeMinSupportedKernelVersion = "4.1" (pkg/util/kernel/constants.go). */
export const CONN_REUSE_MODE_MIN_KERNEL: KernelVersion = { major: 4, minor: 1 }

function kernelLess(a: KernelVersion, b: KernelVersion): boolean {
  return a.major < b.major || (a.major === b.major && a.minor < b.minor)
}

/** proxier.go `NewProxier`: the sysctls it sets, given the running kernel. */
export function ipvsSysctls(config: IpvsConfig, kernel: KernelVersion): IpvsSysctl[] {
  const out: IpvsSysctl[] = [{ path: "net/ipv4/vs/conntrack", value: 1 }]
  // Below the minimum it logs an error; at or above 5.9 it leaves conn_reuse_mode as is.
  if (!kernelLess(kernel, CONN_REUSE_MODE_MIN_KERNEL) && kernelLess(kernel, CONN_REUSE_MODE_FIXED_KERNEL))
    out.push({ path: "net/ipv4/vs/conn_reuse_mode", value: 0 })
  out.push({ path: "net/ipv4/vs/expire_nodest_conn", value: 1 })
  out.push({ path: "net/ipv4/vs/expire_quiescent_template", value: 1 })
  out.push({ path: "net/ipv4/ip_forward", value: 1 })
  if (config.strictARP) {
    out.push({ path: "net/ipv4/conf/all/arp_ignore", value: 1 })
    out.push({ path: "net/ipv4/conf/all/arp_announce", value: 2 })
  }
  return out
}

/** `ipvsadm --set tcp tcpfin udp` NewProxier runs only when one of them is non-zero (0 = keep). */
export function ipvsTimeouts(config: IpvsConfig): { tcp: number; tcpFin: number; udp: number } | null {
  if (config.tcpTimeoutSeconds <= 0 && config.tcpFinTimeoutSeconds <= 0 && config.udpTimeoutSeconds <= 0) return null
  return { tcp: config.tcpTimeoutSeconds, tcpFin: config.tcpFinTimeoutSeconds, udp: config.udpTimeoutSeconds }
}

/** The jump rules from built-in chains, in the order kube-proxy ensures them. */
export function ipvsJumpRules(): IpvsJumpRule[] {
  return IPTABLES_JUMP_CHAINS.map((jump) => ({
    table: jump.table,
    chain: jump.from,
    target: jump.to,
    spec: `-m comment --comment "${jump.comment}" -j ${jump.to}`,
  }))
}

function isLoopback(address: number): boolean {
  return address >>> 24 === 127
}

/**
 * The node IPs NodePort virtual servers are made for (proxier.go `syncProxyRules`): with
 * nodePortAddresses matching all, every local address not on kube-ipvs0 (`GetAllLocalAddressesExcept`,
 * whose `isValidForSet` drops loopback); otherwise the local addresses inside the CIDRs
 * (`NodePortAddresses.GetNodeIPs`), loopback excluded. pkg/proxy/util/nodeport_addresses.go
 * `NewNodePortAddresses`: CIDRs of the other family are ignored, none left or a zero CIDR = all;
 * "primary" = the node's primary IP.
 */
export function ipvsNodePortIPs(nodePortAddresses: readonly string[] | null, node: ProxyNode): string[] {
  const local: number[] = []
  for (const text of node.ips) {
    const address = parseIpv4(text)
    if (address !== undefined && !isLoopback(address) && !local.includes(address)) local.push(address)
  }
  const cidrs: Cidr[] = []
  let matchAll = false
  for (const raw of nodePortAddresses ?? []) {
    const text = raw.trim()
    if (text === "primary") {
      const primary = parseIpv4(node.ips[0] ?? "")
      if (primary !== undefined) cidrs.push({ address: primary, prefixLength: 32, mask: 0xffffffff })
      continue
    }
    const prefix = parseCidr(text, false)
    if (prefix === undefined) continue
    if (prefix.prefixLength === 0) matchAll = true
    cidrs.push(prefix)
  }
  if (cidrs.length === 0) matchAll = true
  const chosen = matchAll ? local : local.filter((address) => cidrs.some((prefix) => cidrContains(prefix, address)))
  return [...chosen].sort((a, b) => a - b).map(formatIpv4)
}

function protocolUpper(protocol: ServicePortInfo["protocol"]): IpvsProtocol {
  return protocol === "udp" ? "UDP" : protocol === "sctp" ? "SCTP" : "TCP"
}

/**
 * syncEndpoint: onlyNodeLocal uses the local endpoints, or, when there is none, the cluster ones
 * (kubernetes PR #97081: "Allow access from local PODs even if no local endpoints exist").
 */
function realServersFor(view: ServicePortView, onlyNodeLocal: boolean): IpvsRealServer[] {
  let endpoints: readonly EndpointInfo[] = view.clusterEndpoints
  if (onlyNodeLocal && view.localEndpoints.length > 0) endpoints = view.localEndpoints
  const out: IpvsRealServer[] = []
  const seen = new Set<string>()
  for (const endpoint of endpoints) {
    if (seen.has(endpoint.endpoint)) continue
    seen.add(endpoint.endpoint)
    out.push({ address: endpoint.ip, port: endpoint.port, weight: 1 })
  }
  return out
}

/** Compiles one `syncProxyRules` run of the IPVS proxier. Pure. */
export function compileIpvs(
  services: readonly Service[],
  endpointSlices: readonly EndpointSlice[],
  node: ProxyNode,
  config: IpvsConfig,
): IpvsCompileResult {
  const zone = nodeZone(node)
  const views = buildServicePorts(services, endpointSlices, node).map((svc) =>
    servicePortView(svc, node.name, zone, { preferSameTrafficDistribution: config.preferSameTrafficDistribution }),
  )
  return compileIpvsViews(views, node, config)
}

/** As `compileIpvs`, from the mode-independent views (view.ts `servicePortViews`). */
export function compileIpvsViews(
  views: readonly ServicePortView[],
  node: ProxyNode,
  config: IpvsConfig,
): IpvsCompileResult {
  const context = ipvsNodeContext(views, node, config)
  return assembleIpvs(
    views,
    views.map((view) => compileIpvsPort(view, context, config)),
    config,
    context.nodeIPs,
  )
}

/**
 * What a node's sync reads of the node itself: its addresses (external IPs and load-balancer VIPs
 * that are local addresses are not bound to kube-ipvs0; NodePort virtual servers are made for the
 * node IPs) and its primary IP (loadBalancerSourceRanges). `key` names it: equal keys give equal
 * fragments for the same service port.
 */
export interface IpvsNodeContext {
  readonly key: string
  readonly nodeIP: number | undefined
  readonly nodeAddressSet: ReadonlySet<string>
  readonly nodeIPs: readonly string[]
}

/** The node context of one sync (`hasNodePort`: node IPs are looked up only when a port needs them). */
export function ipvsNodeContext(
  views: readonly { readonly nodePort: number }[],
  node: ProxyNode,
  config: IpvsConfig,
): IpvsNodeContext {
  const nodeIP = parseIpv4(node.ips[0] ?? "")
  // nodeAddressSet: every local address except kube-ipvs0's (loopback dropped by isValidForSet).
  const nodeAddressSet = new Set<string>()
  for (const text of node.ips) {
    const address = parseIpv4(text)
    if (address !== undefined && !isLoopback(address)) nodeAddressSet.add(formatIpv4(address))
  }
  const hasNodePort = views.some((view) => view.nodePort !== 0)
  const nodeIPs = hasNodePort ? ipvsNodePortIPs(config.nodePortAddresses, node) : []
  return { key: `${node.ips.join(",")}|${hasNodePort ? 1 : 0}`, nodeIP, nodeAddressSet, nodeIPs }
}

/**
 * Whether a service port's fragment reads the node context (external IPs and load-balancer VIPs
 * are bound unless local, NodePorts are per node IP, source ranges test the node IP); a port
 * without them compiles to the same fragment on every node.
 */
export function ipvsPortReadsNode(view: ServicePortView): boolean {
  return view.externalIPs.length > 0 || view.loadBalancerVIPs.length > 0 || view.nodePort !== 0
}

/**
 * What one service port contributes to a sync (the body of syncProxyRules' loop over service
 * ports), immutable: the virtual servers it programs in order, the ipset entries it adds in order,
 * the addresses it binds to kube-ipvs0, the load-balancer VIPs the node may not reach, and whether
 * it counts in the no-local-endpoints metrics. Shared between nodes with equal views of the port.
 */
export interface IpvsPortFragment {
  readonly virtualServers: readonly IpvsVirtualServer[]
  /** [set name, entry] in the order the loop adds them (KUBE-LOOP-BACK entries excluded). */
  readonly entries: readonly (readonly [string, string])[]
  /** KUBE-LOOP-BACK entries (one per local endpoint): the part that differs between nodes. */
  readonly loopback: readonly string[]
  readonly bindAddresses: readonly string[]
  readonly lbNoNodeAccess: readonly { readonly ip: string; readonly protocol: string; readonly port: number }[]
  readonly noLocalInternal: boolean
  readonly noLocalExternal: boolean
}

/** One service port's fragment on a node (see IpvsPortFragment). Pure. */
export function compileIpvsPort(view: ServicePortView, context: IpvsNodeContext, config: IpvsConfig): IpvsPortFragment {
  const scheduler = effectiveScheduler(config)
  const { nodeIP, nodeAddressSet, nodeIPs } = context
  const virtualServers: IpvsVirtualServer[] = []
  const entries: (readonly [string, string])[] = []
  const loopback: string[] = []
  const bindAddresses: string[] = []
  const lbNoNodeAccess: { ip: string; protocol: string; port: number }[] = []
  let noLocalInternal = false
  let noLocalExternal = false
  const add = (set: string, entry: string): void => {
    entries.push([set, entry])
  }

  const program = (
    kind: VirtualServerKind,
    address: string,
    port: number,
    bind: boolean,
    onlyNodeLocal: boolean,
  ): void => {
    let flags = 0
    let timeoutSeconds = 0
    if (view.stickyMaxAgeSeconds > 0) {
      flags |= FLAG_PERSISTENT
      timeoutSeconds = view.stickyMaxAgeSeconds
    }
    if (scheduler === "mh") flags |= FLAG_SOURCE_HASH
    const protocol = protocolUpper(view.protocol)
    const key = `${address}:${port}/${protocol}`
    if (bind) bindAddresses.push(address)
    if (onlyNodeLocal && view.localEndpoints.length === 0 && view.hasAnyEndpoints) {
      if (view.internalPolicyLocal) noLocalInternal = true
      if (view.externalPolicyLocal) noLocalExternal = true
    }
    virtualServers.push({
      key,
      address,
      port,
      protocol,
      scheduler,
      flags,
      timeoutSeconds,
      kind,
      servicePortName: view.name,
      bound: bind,
      onlyNodeLocal,
      realServers: realServersFor(view, onlyNodeLocal),
    })
  }

  const protocol = view.protocol
  // Hairpin: every local endpoint, whatever its conditions.
  for (const endpoint of view.endpoints) {
    if (!endpoint.isLocal || endpoint.port === 0) continue
    loopback.push(`${endpoint.ip},${protocol}:${endpoint.port},${endpoint.ip}`)
  }
  add(KUBE_CLUSTER_IP, `${view.clusterIP},${protocol}:${view.port}`)
  program("ClusterIP", view.clusterIP, view.port, true, view.internalPolicyLocal)

  for (const externalIP of view.externalIPs) {
    add(view.externalPolicyLocal ? KUBE_EXTERNAL_IP_LOCAL : KUBE_EXTERNAL_IP, `${externalIP},${protocol}:${view.port}`)
    program("ExternalIP", externalIP, view.port, !nodeAddressSet.has(externalIP), view.externalPolicyLocal)
  }

  for (const ingress of view.loadBalancerVIPs) {
    const entry = `${ingress},${protocol}:${view.port}`
    add(KUBE_LOAD_BALANCER_SET, entry)
    if (view.externalPolicyLocal) add(KUBE_LOAD_BALANCER_LOCAL, entry)
    if (view.loadBalancerSourceRanges.length > 0) {
      add(KUBE_LOAD_BALANCER_FW, entry)
      let allowFromNode = false
      for (const range of view.loadBalancerSourceRanges) {
        add(KUBE_LOAD_BALANCER_SOURCE_CIDR, `${entry},${range}`)
        const prefix = parseCidr(range, false)
        if (prefix !== undefined && nodeIP !== undefined && cidrContains(prefix, nodeIP)) allowFromNode = true
      }
      // The LB's own backends reach the VIP locally (route to it); allow that, else block the node.
      if (allowFromNode) add(KUBE_LOAD_BALANCER_SOURCE_IP, `${entry},${ingress}`)
      else lbNoNodeAccess.push({ ip: ingress, protocol, port: view.port })
    }
    program("LoadBalancer", ingress, view.port, !nodeAddressSet.has(ingress), view.externalPolicyLocal)
  }

  // Upstream `continue`s when there is no node IP, skipping the health check port below as well.
  if (view.nodePort !== 0 && nodeIPs.length === 0)
    return { virtualServers, entries, loopback, bindAddresses, lbNoNodeAccess, noLocalInternal, noLocalExternal }
  if (view.nodePort !== 0) {
    const nodePortEntries =
      protocol === "sctp" ? nodeIPs.map((ip) => `${ip},sctp:${view.nodePort}`) : [`${view.nodePort}`]
    const set =
      protocol === "tcp" ? KUBE_NODE_PORT_TCP : protocol === "udp" ? KUBE_NODE_PORT_UDP : KUBE_NODE_PORT_SCTP_HASH
    for (const entry of nodePortEntries) add(set, entry)
    if (view.externalPolicyLocal) {
      const localSet =
        protocol === "tcp"
          ? KUBE_NODE_PORT_LOCAL_TCP
          : protocol === "udp"
            ? KUBE_NODE_PORT_LOCAL_UDP
            : KUBE_NODE_PORT_LOCAL_SCTP_HASH
      for (const entry of nodePortEntries) add(localSet, entry)
    }
    for (const ip of nodeIPs) program("NodePort", ip, view.nodePort, false, view.externalPolicyLocal)
  }

  if (view.healthCheckNodePort !== 0) add(KUBE_HEALTH_CHECK_NODE_PORT, `${view.healthCheckNodePort}`)
  return { virtualServers, entries, loopback, bindAddresses, lbNoNodeAccess, noLocalInternal, noLocalExternal }
}

/**
 * The rest of syncProxyRules from the per-port fragments (in service-port order): the virtual
 * servers (a second service port with the same address:port/protocol updates the same virtual
 * server, in the first one's place), the sets, the kube-ipvs0 addresses and the iptables rules.
 */
export function assembleIpvs(
  views: readonly ServicePortView[],
  fragments: readonly IpvsPortFragment[],
  config: IpvsConfig,
  nodePortIPs?: readonly string[],
): IpvsCompileResult {
  const sets = new Map<string, Set<string>>()
  for (const info of IPSET_INFO) sets.set(info.name, new Set())
  const add = (set: string, entry: string): void => {
    sets.get(set)?.add(entry)
  }
  const virtualServers = new Map<string, IpvsVirtualServer>()
  const activeBindAddrs = new Set<string>()
  const lbNoNodeAccess: { ip: string; protocol: string; port: number }[] = []
  const noLocalInternal = new Set<string>()
  const noLocalExternal = new Set<string>()
  for (let i = 0; i < fragments.length; i++) {
    const fragment = fragments[i]
    for (const entry of fragment.loopback) add(KUBE_LOOP_BACK, entry)
    for (const [set, entry] of fragment.entries) add(set, entry)
    for (const vs of fragment.virtualServers) virtualServers.set(vs.key, vs)
    for (const address of fragment.bindAddresses) activeBindAddrs.add(address)
    for (const entry of fragment.lbNoNodeAccess) lbNoNodeAccess.push(entry)
    if (fragment.noLocalInternal) noLocalInternal.add(views[i].namespacedName)
    if (fragment.noLocalExternal) noLocalExternal.add(views[i].namespacedName)
  }

  const dummyAddresses = sortAddresses(activeBindAddrs)
  for (const address of dummyAddresses) add(KUBE_IPVS_IPS, address)

  const ipsets: IpsetContents[] = IPSET_INFO.map((info) => ({
    info,
    entries: sortEntries(info, sets.get(info.name) ?? new Set()),
  }))
  const nonEmpty = (name: string): boolean => (sets.get(name)?.size ?? 0) > 0

  const rules = writeIptablesRules(config, nonEmpty, lbNoNodeAccess)
  const restoreInput = restorePayload(rules)

  return {
    dummyAddresses,
    nodePortIPs: nodePortIPs ?? [],
    virtualServers: [...virtualServers.values()],
    ipsets,
    restoreInput,
    rules,
    jumpRules: ipvsJumpRules(),
    services: views,
    noLocalEndpointsInternal: [...noLocalInternal].sort(),
    noLocalEndpointsExternal: [...noLocalExternal].sort(),
  }
}

/** writeIptablesRules and its restore payload for a sync whose non-empty sets are `nonEmpty`. */
export function ipvsIptablesRules(
  config: IpvsConfig,
  nonEmpty: (set: string) => boolean,
  lbNoNodeAccess: readonly { ip: string; protocol: string; port: number }[],
): { rules: IpvsIptablesRule[]; restoreInput: string } {
  const rules = writeIptablesRules(config, nonEmpty, lbNoNodeAccess)
  return { rules, restoreInput: restorePayload(rules) }
}

function sortAddresses(addresses: Iterable<string>): string[] {
  return [...addresses]
    .map((text) => parseIpv4(text) ?? 0)
    .sort((a, b) => a - b)
    .map(formatIpv4)
}

function sortEntries(info: IpsetInfo, entries: Set<string>): string[] {
  if (info.type === "bitmap:port")
    return [...entries]
      .map(Number)
      .sort((a, b) => a - b)
      .map(String)
  return [...entries].sort()
}

function quoted(text: string): string {
  return `"${text}"`
}

function commentOf(set: string): string {
  const info = IPSET_INFO.find((i) => i.name === set)
  return quoted(info?.comment ?? "")
}

function rule(table: IptablesTableName, chain: string, spec: string): IpvsIptablesRule {
  const jump = / -j (\S+)/.exec(` ${spec}`)?.[1] ?? ""
  const matchSet = /--match-set (\S+)/.exec(spec)?.[1] ?? ""
  return { table, chain, spec, jump, matchSet }
}

/** proxier.go `writeIptablesRules` (with `acceptIPVSTraffic`), in upstream order. */
function writeIptablesRules(
  config: IpvsConfig,
  nonEmpty: (set: string) => boolean,
  lbNoNodeAccess: readonly { ip: string; protocol: string; port: number }[],
): IpvsIptablesRule[] {
  const nat: IpvsIptablesRule[] = []
  const filter: IpvsIptablesRule[] = []
  const mark = masqueradeMarkIpvs(config.masqueradeBit)

  // Dismiss connections to localhost early in the service chain.
  nat.push(rule("nat", KUBE_SERVICES, "-s 127.0.0.0/8 -j RETURN"))

  for (const link of IPSET_WITH_IPTABLES_CHAIN) {
    if (!nonEmpty(link.set)) continue
    const protocol = link.protocolMatch === "" ? "" : `-p ${link.protocolMatch} `
    const spec = `${protocol}-m comment --comment ${commentOf(link.set)} -m set --match-set ${link.set} ${link.matchType} -j ${link.to}`
    ;(link.table === "filter" ? filter : nat).push(rule(link.table, link.from, spec))
  }

  if (nonEmpty(KUBE_CLUSTER_IP)) {
    const head = `-m comment --comment ${commentOf(KUBE_CLUSTER_IP)} -m set --match-set ${KUBE_CLUSTER_IP}`
    const detector = config.clusterCIDR === null ? "" : config.clusterCIDR.trim()
    if (config.masqueradeAll) nat.push(rule("nat", KUBE_SERVICES, `${head} dst,dst -j ${KUBE_MARK_MASQ}`))
    else if (detector !== "")
      // Masquerade off-cluster traffic to a service VIP (LocalTrafficDetector.IfNotLocal).
      nat.push(rule("nat", KUBE_SERVICES, `${head} dst,dst ! -s ${detector} -j ${KUBE_MARK_MASQ}`))
    // No detector: masquerade node-originated traffic whose source is a VIP on kube-ipvs0.
    else nat.push(rule("nat", KUBE_SERVICES, `${head} src,dst -j ${KUBE_MARK_MASQ}`))
  }

  const externalIPRules = (head: string): void => {
    // "all traffic from off-machine", then external IPs that are local addresses.
    nat.push(
      rule("nat", KUBE_SERVICES, `${head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`),
    )
    nat.push(rule("nat", KUBE_SERVICES, `${head} -m addrtype --dst-type LOCAL -j ACCEPT`))
  }
  if (nonEmpty(KUBE_EXTERNAL_IP)) {
    const head = `-m comment --comment ${commentOf(KUBE_EXTERNAL_IP)} -m set --match-set ${KUBE_EXTERNAL_IP} dst,dst`
    nat.push(rule("nat", KUBE_SERVICES, `${head} -j ${KUBE_MARK_MASQ}`))
    externalIPRules(head)
  }
  if (nonEmpty(KUBE_EXTERNAL_IP_LOCAL)) {
    externalIPRules(
      `-m comment --comment ${commentOf(KUBE_EXTERNAL_IP_LOCAL)} -m set --match-set ${KUBE_EXTERNAL_IP_LOCAL} dst,dst`,
    )
  }

  nat.push(rule("nat", KUBE_SERVICES, `-m addrtype --dst-type LOCAL -j ${KUBE_NODE_PORT}`))
  nat.push(rule("nat", KUBE_LOAD_BALANCER, `-j ${KUBE_MARK_MASQ}`))
  filter.push(rule("filter", KUBE_SOURCE_RANGES_FIREWALL, "-j DROP"))
  for (const entry of lbNoNodeAccess) {
    filter.push(
      rule(
        "filter",
        KUBE_IPVS_OUT_FILTER,
        `-s ${entry.ip} -m ipvs --vaddr ${entry.ip} --vproto ${entry.protocol} --vport ${entry.port} -j DROP`,
      ),
    )
  }

  // acceptIPVSTraffic: must be at the end of KUBE-SERVICES.
  for (const set of [KUBE_CLUSTER_IP, KUBE_LOAD_BALANCER_SET]) {
    if (nonEmpty(set)) nat.push(rule("nat", KUBE_SERVICES, `-m set --match-set ${set} dst,dst -j ACCEPT`))
  }

  filter.push(
    rule(
      "filter",
      KUBE_FORWARD,
      `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    ),
  )
  filter.push(
    rule(
      "filter",
      KUBE_FORWARD,
      `-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ),
  )
  filter.push(
    rule(
      "filter",
      KUBE_NODE_PORT,
      `-m comment --comment ${commentOf(KUBE_HEALTH_CHECK_NODE_PORT)} -m set --match-set ${KUBE_HEALTH_CHECK_NODE_PORT} dst -j ACCEPT`,
    ),
  )
  // Block access to the node's other ports through VIPs on kube-ipvs0 (kubernetes issue #72236).
  for (const [set, match] of [
    [KUBE_LOAD_BALANCER_SET, "dst,dst"],
    [KUBE_CLUSTER_IP, "dst,dst"],
    [KUBE_EXTERNAL_IP, "dst,dst"],
    [KUBE_EXTERNAL_IP_LOCAL, "dst,dst"],
    [KUBE_HEALTH_CHECK_NODE_PORT, "dst"],
  ] as const) {
    filter.push(rule("filter", KUBE_IPVS_FILTER, `-m set --match-set ${set} ${match} -j RETURN`))
  }
  filter.push(
    rule("filter", KUBE_IPVS_FILTER, `-m conntrack --ctstate NEW -m set --match-set ${KUBE_IPVS_IPS} dst -j REJECT`),
  )

  nat.push(rule("nat", KUBE_POSTROUTING, `-m mark ! --mark ${mark}/${mark} -j RETURN`))
  // Clear the mark so a packet re-traversing the stack is not masqueraded twice.
  nat.push(rule("nat", KUBE_POSTROUTING, `-j MARK --xor-mark ${mark}`))
  nat.push(
    rule(
      "nat",
      KUBE_POSTROUTING,
      `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${config.randomFully ? " --random-fully" : ""}`,
    ),
  )
  nat.push(rule("nat", KUBE_MARK_MASQ, `-j MARK --or-mark ${mark}`))
  return [...nat, ...filter]
}

function restorePayload(rules: readonly IpvsIptablesRule[]): string {
  const out: string[] = []
  for (const table of ["nat", "filter"] as const) {
    out.push(`*${table}`)
    for (const chain of IPTABLES_CHAINS) if (chain.table === table) out.push(`:${chain.chain} - [0:0]`)
    for (const r of rules) if (r.table === table) out.push(`-A ${r.chain} ${r.spec}`)
    out.push("COMMIT")
  }
  return `${out.join("\n")}\n`
}
