/**
 * kube-proxy's iptables mode as a pure compiler: (Services, EndpointSlices, node, config) to the
 * exact `iptables-restore --noflush --counters` input that `syncProxyRules` writes.
 *
 * Upstream: kubernetes/kubernetes pkg/proxy/iptables/proxier.go `syncProxyRules` and
 * `writeServiceToEndpointRules` (v1.31-v1.33 shape, with nfacct counters); kube-proxy.md §2.
 * Argument order, comment texts and quoting follow the upstream source token for token.
 *
 * Differences from a real node, all deliberate and documented:
 * - Service ports are emitted sorted by ServicePortName string (real kube-proxy: Go map order).
 * - The masquerade mark is printed `0x4000` (as iptables-save and the upstream unit-test fakes
 *   print it); real kube-proxy writes Go `%#08x`, i.e. `0x00004000` (see `masqueradeMarkGo`).
 * - Stale chains (`-X`) and merged endpoint lists are sorted (upstream: Go map order).
 * - The jump rules from the built-in chains are not part of the restore input (kube-proxy installs
 *   them with `iptables -I`); they are returned separately in `jumpRules`.
 */
import {
  computeProbability,
  endpointChainName,
  isServiceChainName,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  masqueradeMark,
  NFACCT_CT_STATE_INVALID_DROPPED,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
  serviceChainName,
  serviceExternalChainName,
  serviceFirewallChainName,
  serviceLocalChainName,
} from "./names.ts"
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { buildServicePorts, cidrContainsIp, compareStrings, nodeZone } from "../service-port.ts"
import type { EndpointInfo, ProxyNode, ServicePortInfo } from "../service-port.ts"
import { servicePortView } from "../view.ts"
import type { ServicePortView } from "../view.ts"
import { cidrContains, formatIpv4, parseIpv4 } from "../../wire/ipv4.ts"
import { ipv4NodePortAddresses, resolvePrimary } from "../node-port-addresses.ts"

/** kube-proxy iptables settings (KubeProxyConfiguration.iptables and friends). */
export interface IptablesConfig {
  /** --cluster-cidr for the ClusterCIDR local-traffic detector (`! -s <cidr>`); null = no detector. */
  readonly clusterCIDR: string | null
  /** iptables.masqueradeAll, default false. */
  readonly masqueradeAll: boolean
  /** iptables.masqueradeBit, default 14 (mark 0x4000). */
  readonly masqueradeBit: number
  /** iptables.localhostNodePorts, default true. */
  readonly localhostNodePorts: boolean
  /** nfacct counters available (recent kernels/kube-proxy): adds `-m nfacct` matches. */
  readonly nfacct: boolean
  /** iptables supports `MASQUERADE --random-fully`. */
  readonly randomFully: boolean
  /** --nodeport-addresses CIDRs (or "primary"); null or empty = all local addresses. */
  readonly nodePortAddresses: readonly string[] | null
  /** Above this many endpoints, per-endpoint comments are dropped (upstream constant 1000). */
  readonly largeClusterEndpointsThreshold: number
  /** nf_conntrack_tcp_be_liberal != 0: no INVALID drop rule. Default false. */
  readonly conntrackTCPLiberal: boolean
  /** Feature gate PreferSameTrafficDistribution (node hints). Default false. */
  readonly preferSameTrafficDistribution: boolean
}

export const DEFAULT_IPTABLES_CONFIG: IptablesConfig = {
  clusterCIDR: null,
  masqueradeAll: false,
  masqueradeBit: 14,
  localhostNodePorts: true,
  nfacct: true,
  randomFully: true,
  nodePortAddresses: null,
  largeClusterEndpointsThreshold: 1000,
  conntrackTCPLiberal: false,
  preferSameTrafficDistribution: false,
}

/** The KubeProxySpec fields the compiler reads (cluster/spec.ts names them identically). */
export interface IptablesConfigFields {
  readonly clusterCIDR: string | null
  readonly masqueradeAll: boolean
  readonly masqueradeBit: number
  readonly localhostNodePorts: boolean
  readonly nfacct: boolean
  readonly randomFully: boolean
  readonly nodePortAddresses?: readonly string[] | null
  /** nf_conntrack_tcp_be_liberal is set (kube-proxy's conntrack.tcpBeLiberal). */
  readonly conntrackTCPLiberal?: boolean
}

/** An IptablesConfig from kube-proxy settings, other fields at their defaults. */
export function iptablesConfigFrom(fields: IptablesConfigFields): IptablesConfig {
  return {
    ...DEFAULT_IPTABLES_CONFIG,
    clusterCIDR: fields.clusterCIDR,
    masqueradeAll: fields.masqueradeAll,
    masqueradeBit: fields.masqueradeBit,
    localhostNodePorts: fields.localhostNodePorts,
    nfacct: fields.nfacct,
    randomFully: fields.randomFully,
    nodePortAddresses: fields.nodePortAddresses ?? null,
    conntrackTCPLiberal: fields.conntrackTCPLiberal ?? DEFAULT_IPTABLES_CONFIG.conntrackTCPLiberal,
  }
}

export interface IptablesSyncOptions {
  /**
   * Partial sync (MinimizeIPTablesRestore): the "namespace/name" of every Service whose Service
   * object or EndpointSlices changed since the last successful sync. Only those services get their
   * KUBE-SVC/SVL/EXT/FW/SEP chains written; top-level chains are always written.
   * Omitted or null = full sync.
   */
  readonly changedServices?: ReadonlySet<string> | null
  /**
   * The chains that exist in the node's nat table now (what iptables-save would list). Service
   * chains among them that this sync does not use are flushed and deleted (`-X`). Omitted = no
   * stale-chain deletion (upstream skips it in large-cluster mode within a syncPeriod).
   */
  readonly existingNatChains?: Iterable<string>
  /**
   * Cache of per-service-port fragments shared by the nodes of a cluster (IptablesFragments).
   * Omitted = compile every service port afresh. Same output either way.
   */
  readonly fragments?: IptablesFragments
  /**
   * The node's own variants of some of the service ports (shared-service-ports.ts `nodePorts`):
   * the node's list is the given list with `variants[k]` at `positions[k]`. Omitted = none.
   */
  readonly nodeVariants?: NodeVariants
}

/** A node's own service-port variants over a shared list (see IptablesSyncOptions.nodeVariants). */
export interface NodeVariants {
  readonly positions: readonly number[]
  readonly variants: readonly ServicePortInfo[]
}

const NO_VARIANTS: NodeVariants = { positions: [], variants: [] }

/** Total endpoints of a node's ports: the shared list's (summed once per list) plus its variants' differences. */
export function totalEndpointsOf(servicePorts: readonly ServicePortInfo[], node: NodeVariants = NO_VARIANTS): number {
  let total = listEndpoints.get(servicePorts)
  if (total === undefined) {
    total = 0
    for (const svc of servicePorts) total += svc.endpoints.length
    listEndpoints.set(servicePorts, total)
  }
  for (let k = 0; k < node.positions.length; k++)
    total += node.variants[k].endpoints.length - servicePorts[node.positions[k]].endpoints.length
  return total
}
const listEndpoints = new WeakMap<readonly ServicePortInfo[], number>()

/** A jump rule kube-proxy installs in a built-in chain with `iptables -I` (insert at position 1). */
export interface JumpRule {
  readonly table: "filter" | "nat"
  /** Built-in chain: INPUT, FORWARD, OUTPUT, PREROUTING, POSTROUTING. */
  readonly chain: string
  /** kube-proxy chain jumped to. */
  readonly target: string
  /** Rule spec after the chain name, e.g. `-m conntrack --ctstate NEW -m comment --comment "..." -j KUBE-SERVICES`. */
  readonly spec: string
}

/** The mode-independent view (view.ts) of one service port plus its iptables chains. */
export interface IptablesServicePortView extends ServicePortView {
  readonly clusterPolicyChain: string
  readonly localPolicyChain: string
  readonly externalChain: string
  readonly firewallChain: string
  readonly usesClusterPolicyChain: boolean
  readonly usesLocalPolicyChain: boolean
  readonly usesExternalTrafficChain: boolean
  readonly usesFWChain: boolean
  /** Chain ClusterIP traffic jumps to (SVC or SVL). */
  readonly internalPolicyChain: string
  /** Chain EXT falls through to (SVC or SVL). */
  readonly externalPolicyChain: string
  /** KUBE-SEP- chain of every endpoint in allReachableEndpoints, by "IP:port". */
  readonly endpointChains: ReadonlyMap<string, string>
  /** Whether this sync wrote the service's own chains (always true in a full sync). */
  readonly chainsWritten: boolean
}

export interface IptablesCompileResult {
  /** iptables-restore input: `*filter ... COMMIT\n*nat ... COMMIT\n`. */
  readonly restoreInput: string
  /**
   * The same input as lines (restoreInput is their join, plus the final newline): what the
   * simulator restores, sharing the line strings with the compiled fragments (no text round trip).
   */
  readonly restoreLines: readonly string[]
  readonly fullSync: boolean
  readonly largeClusterMode: boolean
  /** Total endpoints over all service ports (the large-cluster-mode measure). */
  readonly totalEndpoints: number
  /** Per-service nat chains in use after this sync (sorted). */
  readonly activeNatChains: readonly string[]
  /** Stale service chains deleted with `-X` (sorted). */
  readonly deletedChains: readonly string[]
  readonly services: readonly IptablesServicePortView[]
  readonly jumpRules: readonly JumpRule[]
  /** Every nat chain the restore input declares (`:CHAIN` lines), deleted ones included. */
  readonly declaredNatChains: readonly string[]
  /** Rule-line counts as upstream's metrics count them. */
  readonly filterRuleCount: number
  readonly natRuleCount: number
}

const FILTER_TOP_LEVEL_CHAINS = [
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FORWARD,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL,
] as const
const NAT_TOP_LEVEL_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ] as const

interface JumpChainSpec {
  readonly table: "filter" | "nat"
  readonly target: string
  readonly chain: string
  readonly comment: string
  readonly extraArgs: string
}

const CT_NEW = "-m conntrack --ctstate NEW"

/** proxier.go `iptablesJumpChains` followed by `iptablesKubeletJumpChains`, in upstream order. */
const JUMP_CHAINS: readonly JumpChainSpec[] = [
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "INPUT",
    comment: "kubernetes externally-visible service portals",
    extraArgs: CT_NEW,
  },
  {
    table: "filter",
    target: KUBE_EXTERNAL_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes externally-visible service portals",
    extraArgs: CT_NEW,
  },
  {
    table: "filter",
    target: KUBE_NODEPORTS,
    chain: "INPUT",
    comment: "kubernetes health check service ports",
    extraArgs: "",
  },
  {
    table: "filter",
    target: KUBE_SERVICES,
    chain: "FORWARD",
    comment: "kubernetes service portals",
    extraArgs: CT_NEW,
  },
  { table: "filter", target: KUBE_SERVICES, chain: "OUTPUT", comment: "kubernetes service portals", extraArgs: CT_NEW },
  { table: "filter", target: KUBE_FORWARD, chain: "FORWARD", comment: "kubernetes forwarding rules", extraArgs: "" },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "INPUT",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW,
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "OUTPUT",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW,
  },
  {
    table: "filter",
    target: KUBE_PROXY_FIREWALL,
    chain: "FORWARD",
    comment: "kubernetes load balancer firewall",
    extraArgs: CT_NEW,
  },
  { table: "nat", target: KUBE_SERVICES, chain: "OUTPUT", comment: "kubernetes service portals", extraArgs: "" },
  { table: "nat", target: KUBE_SERVICES, chain: "PREROUTING", comment: "kubernetes service portals", extraArgs: "" },
  {
    table: "nat",
    target: KUBE_POSTROUTING,
    chain: "POSTROUTING",
    comment: "kubernetes postrouting rules",
    extraArgs: "",
  },
  { table: "filter", target: KUBE_FIREWALL, chain: "INPUT", comment: "", extraArgs: "" },
  { table: "filter", target: KUBE_FIREWALL, chain: "OUTPUT", comment: "", extraArgs: "" },
]

/**
 * The jump rules, in the order kube-proxy ensures them (each with `iptables -I <chain>`, i.e. at
 * position 1, and only when missing). Installing them in this order on an empty chain leaves them
 * in reverse order in the chain, as on a real node.
 */
export function jumpRules(): JumpRule[] {
  return JUMP_CHAINS.map((jump) => {
    const parts: string[] = []
    if (jump.extraArgs !== "") parts.push(jump.extraArgs)
    if (jump.comment !== "") parts.push(`-m comment --comment ${quoteIfNeeded(jump.comment)}`)
    parts.push(`-j ${jump.target}`)
    return { table: jump.table, chain: jump.chain, target: jump.target, spec: parts.join(" ") }
  })
}

/**
 * The jump rules as iptables-restore input (`--noflush`), for engines that take restore text:
 * chains not in `existingChains` are declared (created) first, as kube-proxy's EnsureChain does,
 * then each rule is inserted at position 1 (`-I`), in kube-proxy's order. Apply it once, when the
 * rules are missing (kube-proxy checks with `iptables -C` before inserting).
 */
export function jumpRulesRestoreInput(existingChains: {
  readonly filter: Pick<ReadonlySet<string>, "has">
  readonly nat: Pick<ReadonlySet<string>, "has">
}): string {
  const out: string[] = []
  for (const table of ["filter", "nat"] as const) {
    out.push(`*${table}`)
    const declared = new Set<string>()
    for (const jump of JUMP_CHAINS) {
      if (jump.table !== table || existingChains[table].has(jump.target) || declared.has(jump.target)) continue
      declared.add(jump.target)
      out.push(chainLine(jump.target))
    }
    for (const rule of jumpRules()) if (rule.table === table) out.push(`-I ${rule.chain} ${rule.spec}`)
    out.push("COMMIT")
  }
  return out.join("\n") + "\n"
}

function quoteIfNeeded(text: string): string {
  return text.includes(" ") ? `"${text}"` : text
}

function chainLine(chain: string): string {
  return `:${chain} - [0:0]`
}

/** NodePortAddresses (pkg/proxy/util/nodeport_addresses.go), IPv4 family only. */
interface NodePortAddressPlan {
  readonly matchAll: boolean
  readonly containsIPv4Loopback: boolean
  /** Matching local addresses (loopback 127.0.0.1 and the node IPs), numerically sorted. */
  readonly nodeIPs: readonly string[]
}

function planNodePortAddresses(addresses: readonly string[] | null, node: ProxyNode): NodePortAddressPlan {
  // server.go resolves `primary`; NewNodePortAddresses keeps this family's CIDRs (none: match all).
  const plan = ipv4NodePortAddresses(resolvePrimary(addresses ?? [], node.ips[0]))
  if (plan.matchAll) return { matchAll: true, containsIPv4Loopback: true, nodeIPs: [] }
  // Upstream de-duplicates through a Go map (random order); sorted numerically here.
  const found = new Set<number>()
  for (const prefix of plan.cidrs) {
    for (const ip of ["127.0.0.1", ...node.ips]) {
      const address = parseIpv4(ip)
      if (address !== undefined && cidrContains(prefix, address)) found.add(address)
    }
  }
  const nodeIPs = [...found].sort((a, b) => a - b).map(formatIpv4)
  return { matchAll: false, containsIPv4Loopback: plan.containsIPv4Loopback, nodeIPs }
}

/** Compiles the iptables-restore input of one `syncProxyRules` run. Pure. */
export function compileIptables(
  services: readonly Service[],
  endpointSlices: readonly EndpointSlice[],
  node: ProxyNode,
  config: IptablesConfig,
  options: IptablesSyncOptions = {},
): IptablesCompileResult {
  const servicePorts = buildServicePorts(services, endpointSlices, node)
  return compileIptablesServicePorts(servicePorts, node, config, options)
}

/** As `compileIptables`, from already-built service ports (see `buildServicePorts`). */
export function compileIptablesServicePorts(
  servicePortsIn: readonly ServicePortInfo[],
  node: ProxyNode,
  config: IptablesConfig,
  options: IptablesSyncOptions = {},
): IptablesCompileResult {
  let servicePorts = servicePortsIn
  const changed = options.changedServices ?? null
  const fullSync = changed === null
  const zone = nodeZone(node)
  const nodeIP = node.ips[0] ?? ""
  const nodePorts = planNodePortAddresses(config.nodePortAddresses, node)
  // NewProxier: localhost NodePorts are disabled when nodePortAddresses excludes loopback.
  const localhostNodePorts = config.localhostNodePorts && nodePorts.containsIPv4Loopback
  const detector = config.clusterCIDR === null || config.clusterCIDR.trim() === "" ? null : config.clusterCIDR.trim()
  const fragments = options.fragments
  let variants = options.nodeVariants ?? NO_VARIANTS
  if (fragments === undefined && variants.positions.length > 0) {
    // Nothing shared: compile the node's whole list.
    const list = servicePorts.slice()
    for (let k = 0; k < variants.positions.length; k++) list[variants.positions[k]] = variants.variants[k]
    servicePorts = list
    variants = NO_VARIANTS
  }

  const totalEndpoints = totalEndpointsOf(servicePorts, variants)
  const largeClusterMode = totalEndpoints > config.largeClusterEndpointsThreshold
  const context: FragmentContext = {
    nodeName: node.name,
    zone,
    nodeIP,
    config,
    localhostNodePorts,
    detector,
    largeClusterMode,
    key: `${largeClusterMode}|${localhostNodePorts}|${detector ?? ""}|${configKey(config)}`,
  }
  // One string object per distinct key: fragment lookups (one per port and node) then compare it
  // by pointer rather than by content.
  if (fragments !== undefined) context.key = fragments.internKey(context.key)
  const selection =
    fragments === undefined
      ? selectFragments(servicePorts, context, changed, (svcPort) => compileServicePortFragment(svcPort, context))
      : fragments.selectNode(servicePorts, variants, context, changed)
  const { list, written, contents } = selection

  // Nodes whose fragments have the same contents, in the same state, get the same input: the first
  // one assembles it, the others take it (same lines, shared).
  const key: AssemblyKey | null =
    fragments === undefined
      ? null
      : {
          node: `${context.key}|${nodePorts.matchAll ? "all" : nodePorts.nodeIPs.join(",")}`,
          existing: options.existingNatChains ?? null,
          contents,
          written,
        }
  const input =
    (key === null ? undefined : fragments?.assembled(key)) ??
    assembleInput(list, written, options.existingNatChains, config, localhostNodePorts, nodePorts, key)
  if (key !== null && input.key === key) fragments?.remember(input)
  let sortedActive: string[] | null = null
  let text: string | null = null
  const lines = input.lines
  return {
    // Joined on demand: the simulator restores the lines.
    get restoreInput(): string {
      if (text === null) text = lines.join("\n") + "\n"
      return text
    },
    restoreLines: lines,
    fullSync,
    largeClusterMode,
    totalEndpoints,
    // Sorted on demand: the proxier does not read it, and sorting every chain name per node and
    // sync costs more than the rest of a partial sync.
    get activeNatChains(): readonly string[] {
      if (sortedActive === null) sortedActive = [...input.activeNatChains].sort(compareStrings)
      return sortedActive
    },
    deletedChains: input.deletedChains,
    declaredNatChains: input.declaredNatChains,
    // Built on demand when the node has variants of its own (selectNode).
    get services(): readonly IptablesServicePortView[] {
      return selection.views
    },
    jumpRules: jumpRules(),
    filterRuleCount: input.filterRuleCount,
    natRuleCount: input.natRuleCount,
  }
}

/** A sync's fragments, their views, and which fragments' own chains it writes. Immutable once made. */
interface FragmentSelection {
  readonly list: readonly ServicePortFragment[]
  readonly views: readonly IptablesServicePortView[]
  /** Partial sync: which fragments' own chains are written (null = all). */
  readonly written: Uint8Array | null
  readonly contents: readonly ServicePortFragment["content"][]
}

function selectFragments(
  servicePorts: readonly ServicePortInfo[],
  context: FragmentContext,
  changed: ReadonlySet<string> | null,
  fragmentOf: (svcPort: ServicePortInfo) => ServicePortFragment,
): FragmentSelection {
  const views: IptablesServicePortView[] = new Array<IptablesServicePortView>(servicePorts.length)
  const list: ServicePortFragment[] = new Array<ServicePortFragment>(servicePorts.length)
  const written = changed === null ? null : new Uint8Array(servicePorts.length)
  for (let i = 0; i < servicePorts.length; i++) {
    const svcPort = servicePorts[i]
    const fragment = fragmentOf(svcPort)
    list[i] = fragment
    // Partial sync: unchanged services' own chains are computed (they stay active) but not written.
    const chainsWritten = changed === null || changed.has(svcPort.namespacedName)
    if (written !== null && chainsWritten) written[i] = 1
    views[i] = chainsWritten ? fragment.view : fragment.unwrittenView()
  }
  return { list, views, written, contents: list.map((f) => f.content) }
}

/** The restore input of one sync from its fragments (the upstream order of syncProxyRules). */
function assembleInput(
  list: readonly ServicePortFragment[],
  written: Uint8Array | null,
  existingNatChains: Iterable<string> | undefined,
  config: IptablesConfig,
  localhostNodePorts: boolean,
  nodePorts: NodePortAddressPlan,
  key: AssemblyKey | null,
): AssembledInput {
  const mark = masqueradeMark(config.masqueradeBit)
  const filterChains: string[] = []
  const filterRules: string[] = []
  const natChains: string[] = []
  const natRules: string[] = []

  for (const chain of FILTER_TOP_LEVEL_CHAINS) filterChains.push(chainLine(chain))
  for (const chain of NAT_TOP_LEVEL_CHAINS) natChains.push(chainLine(chain))

  natRules.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`)
  natRules.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`)
  natRules.push(
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${config.randomFully ? " --random-fully" : ""}`,
  )
  natRules.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`)

  if (localhostNodePorts) {
    filterChains.push(chainLine(KUBE_FIREWALL))
    filterRules.push(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    )
  }

  const activeNatChains = new Set<string>()
  const declaredNatChains: string[] = [...NAT_TOP_LEVEL_CHAINS]
  for (let i = 0; i < list.length; i++) {
    const fragment = list[i]
    for (const line of fragment.filterRules) filterRules.push(line)
    for (const line of fragment.natTopRules) natRules.push(line)
    if (written === null || written[i] === 1) {
      for (const line of fragment.natChainLines) natChains.push(line)
      for (const chain of fragment.natChains) declaredNatChains.push(chain)
      for (const line of fragment.natChainRules) natRules.push(line)
    }
    for (const chain of fragment.natChains) activeNatChains.add(chain)
  }

  // Delete service chains no longer in use.
  const deletedChains: string[] = []
  if (existingNatChains !== undefined) {
    for (const chain of existingNatChains) {
      if (!activeNatChains.has(chain) && isServiceChainName(chain)) deletedChains.push(chain)
    }
    deletedChains.sort(compareStrings)
    for (const chain of deletedChains) {
      natChains.push(chainLine(chain))
      declaredNatChains.push(chain)
      natRules.push(`-X ${chain}`)
    }
  }

  // Finally, the tail call to KUBE-NODEPORTS; it must stay after all service portal rules.
  const lastRuleComment = `"kubernetes service nodeports; NOTE: this must be the last rule in this chain"`
  if (nodePorts.matchAll) {
    const destinations = localhostNodePorts
      ? "-m addrtype --dst-type LOCAL"
      : "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8"
    natRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${lastRuleComment} ${destinations} -j ${KUBE_NODEPORTS}`)
  } else {
    for (const ip of nodePorts.nodeIPs) {
      if (ip.startsWith("127.") && !localhostNodePorts) continue
      natRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${lastRuleComment} -d ${ip} -j ${KUBE_NODEPORTS}`)
    }
  }

  if (!config.conntrackTCPLiberal) {
    filterRules.push(
      `-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${config.nfacct ? ` -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED}` : ""} -j DROP`,
    )
  }
  filterRules.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
  )
  filterRules.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  )

  const lines = ["*filter", ...filterChains, ...filterRules, "COMMIT", "*nat", ...natChains, ...natRules, "COMMIT"]
  return {
    key: key ?? { node: "", existing: null, contents: [], written: null },
    lines,
    deletedChains,
    declaredNatChains,
    activeNatChains,
    filterRuleCount: filterRules.length,
    natRuleCount: natRules.length - deletedChains.length,
  }
}

/**
 * What a node's restore input is made of besides constants: its node-level parts, the fragments'
 * contents in order, which of them were written (partial syncs), and the chain set stale chains
 * are computed from. Nodes with equal keys get equal inputs.
 */
interface AssemblyKey {
  readonly node: string
  readonly existing: Iterable<string> | null
  readonly contents: readonly object[]
  /** null = full sync (every fragment written). */
  readonly written: Uint8Array | null
}

/** One node's assembled input, taken as is by nodes with the same key. */
interface AssembledInput {
  readonly key: AssemblyKey
  readonly lines: readonly string[]
  readonly deletedChains: readonly string[]
  readonly declaredNatChains: readonly string[]
  readonly activeNatChains: ReadonlySet<string>
  readonly filterRuleCount: number
  readonly natRuleCount: number
}

/** Assembled inputs kept: nodes sync the same state at about the same time. */
const ASSEMBLED_INPUTS_KEPT = 16

function sameAssembly(a: AssemblyKey, b: AssemblyKey): boolean {
  if (a.node !== b.node || a.existing !== b.existing || a.contents.length !== b.contents.length) return false
  // The same selection (FragmentSelection shared between nodes): equal without a walk.
  if (a.contents === b.contents && a.written === b.written) return true
  if ((a.written === null) !== (b.written === null)) return false
  for (let i = 0; i < a.contents.length; i++) if (a.contents[i] !== b.contents[i]) return false
  if (a.written !== null && b.written !== null)
    for (let i = 0; i < a.written.length; i++) if (a.written[i] !== b.written[i]) return false
  return true
}

/** What a service port's rules depend on besides the service port itself. */
interface FragmentContext {
  readonly nodeName: string
  readonly zone: string
  readonly nodeIP: string
  readonly config: IptablesConfig
  readonly localhostNodePorts: boolean
  readonly detector: string | null
  readonly largeClusterMode: boolean
  /** The parts every fragment depends on, as a cache key. */
  key: string
}

/** One service port's share of the restore input (immutable; shared by every node that compiles it alike). */
export interface ServicePortFragment {
  /** Its rules in the top-level filter chains. */
  readonly filterRules: readonly string[]
  /** Its rules in the top-level nat chains (KUBE-SERVICES, KUBE-NODEPORTS). */
  readonly natTopRules: readonly string[]
  /** Its own nat chains (SVC, SVL, EXT, FW, SEP), in declaration order. */
  readonly natChains: readonly string[]
  /** Their `:CHAIN - [0:0]` declarations. */
  readonly natChainLines: readonly string[]
  /**
   * The same lines as one object per distinct content (IptablesFragments): fragments of different
   * views of a port that write the same rules share it, so nodes' inputs compare by identity.
   */
  readonly content: object
  /** The rules of its own nat chains (written on full syncs and when the Service changed). */
  readonly natChainRules: readonly string[]
  /** The view with chainsWritten true. */
  readonly view: IptablesServicePortView
  /** The view with chainsWritten false. */
  unwrittenView(): IptablesServicePortView
}

function configKey(config: IptablesConfig): string {
  let key = configKeys.get(config)
  if (key === undefined) {
    key = JSON.stringify(config)
    configKeys.set(config, key)
  }
  return key
}
const configKeys = new WeakMap<IptablesConfig, string>()

/**
 * Compiled service-port fragments, shared between the nodes of a cluster. A fragment depends on the
 * service port (an immutable, interned object: shared-service-ports.ts), the config, and of the node
 * only on what the port's rules read: the zone when endpoints carry zone hints, the node name when
 * they carry node hints, the node IP when the port has loadBalancerSourceRanges. So nodes share a
 * port's fragment unless those differ: fragments grow with service ports x distinct views, not x nodes.
 */
export class IptablesFragments {
  /**
   * Per port (immutable): its fragments by key; `hints` 1 = an endpoint has zone hints, 2 = node
   * hints; the last key asked for and its fragment.
   */
  private readonly byPort = new WeakMap<
    ServicePortInfo,
    { hints: number; byKey: Map<string, ServicePortFragment>; lastKey: string | null; last: ServicePortFragment | null }
  >()
  /**
   * One string per distinct line: fragments of different views of a port (a node hosting one of
   * its endpoints, one that does not) mostly hold equal lines, and nodes' restore inputs are then
   * compared line by line (rule-cache.ts `restored`) by pointer instead of by content.
   */
  private readonly lines = new Map<string, string>()
  /** One content object per distinct fragment content (see ServicePortFragment.content). */
  private readonly contents = new Map<string, { readonly lines: readonly string[][] }>()
  /** Restore inputs assembled by one node and taken by others (see `assembled`). */
  private readonly inputs: AssembledInput[] = []
  /** Fragments compiled (cache misses). */
  compiled = 0
  /** Restore inputs assembled, and taken from another node's assembly. */
  inputsAssembled = 0
  inputsShared = 0

  /** The input another node assembled from the same fragments in the same state, if kept. */
  assembled(key: AssemblyKey): AssembledInput | undefined {
    for (let k = this.inputs.length - 1; k >= 0; k--) {
      const input = this.inputs[k]
      if (sameAssembly(input.key, key)) {
        this.inputsShared++
        return input
      }
    }
    return undefined
  }

  remember(input: AssembledInput): void {
    this.inputsAssembled++
    this.inputs.push(input)
    if (this.inputs.length > ASSEMBLED_INPUTS_KEPT) this.inputs.shift()
  }

  private readonly keys = new Map<string, string>()

  /** The kept string equal to `key` (a fragment context key). */
  internKey(key: string): string {
    const kept = this.keys.get(key)
    if (kept !== undefined) return kept
    this.keys.set(key, key)
    return key
  }

  private intern(list: readonly string[]): string[] {
    return list.map((line) => {
      const kept = this.lines.get(line)
      if (kept !== undefined) return kept
      this.lines.set(line, line)
      return line
    })
  }

  /** Selections made by one node's sync and taken by others' (see `select`), most recent last. */
  private readonly selections: {
    servicePorts: readonly ServicePortInfo[]
    key: string
    changed: ReadonlySet<string> | null
    selection: FragmentSelection
  }[] = []
  /** Per service-port list: 1 = a port has zone hints, 2 = node hints, 4 = loadBalancerSourceRanges. */
  private readonly listNeeds = new WeakMap<readonly ServicePortInfo[], number>()
  /** Selections made, and taken from another node's sync. */
  selectionsMade = 0
  /** Service ports walked by the selections made (a walk over a whole list is paid once per state, not per node). */
  portsWalked = 0
  /** Node variants looked at by `selectNode` (grows with the endpoints nodes host, not with Services x nodes). */
  variantsVisited = 0
  selectionsShared = 0

  /**
   * The fragments of `servicePorts` for this node: nodes syncing the same (shared, immutable) list
   * with the same changed set and the same key get the same fragments (`get` keys them by the
   * context key plus the zone, node name or node IP only where a port reads them), so the first
   * node's selection serves the others; the nodes x service ports walk is paid once per view.
   */
  select(
    servicePorts: readonly ServicePortInfo[],
    context: FragmentContext,
    changed: ReadonlySet<string> | null,
  ): FragmentSelection {
    let needs = this.listNeeds.get(servicePorts)
    if (needs === undefined) {
      needs = 0
      for (const svcPort of servicePorts) {
        for (const ep of svcPort.endpoints) {
          if (ep.zoneHints.length > 0) needs |= 1
          if (ep.nodeHints.length > 0) needs |= 2
        }
        if (svcPort.loadBalancerSourceRanges.length > 0) needs |= 4
      }
      this.listNeeds.set(servicePorts, needs)
    }
    let key = context.key
    if ((needs & 1) !== 0) key += `|z:${context.zone}`
    if ((needs & 2) !== 0) key += `|n:${context.nodeName}`
    if ((needs & 4) !== 0) key += `|ip:${context.nodeIP}`
    for (let k = this.selections.length - 1; k >= 0; k--) {
      const kept = this.selections[k]
      if (kept.servicePorts === servicePorts && kept.changed === changed && kept.key === key) {
        this.selectionsShared++
        return kept.selection
      }
    }
    this.selectionsMade++
    this.portsWalked += servicePorts.length
    const selection = selectFragments(servicePorts, context, changed, (svcPort) => this.get(svcPort, context))
    this.selections.push({ servicePorts, key, changed, selection })
    if (this.selections.length > ASSEMBLED_INPUTS_KEPT) this.selections.shift()
    return selection
  }

  /** Node selections with fragments of their own (a variant whose rules differ from the shared port's). */
  nodeSelectionsPatched = 0
  /** Fragments compiled only for a node's per-port views (cache misses), not for its rules. */
  viewFragmentsCompiled = 0

  /**
   * A node's fragments: the shared list's selection (`select`, shared by every node in the same
   * state), patched only where one of the node's own variants compiles to other rules. A variant
   * differs from the shared port only in `isLocal` (and, with duplicate endpoints, in which
   * duplicate won); syncProxyRules reads `isLocal` only where the port uses Local-policy endpoints
   * (categorizeEndpoints), so other variants cost neither a compile nor a per-node copy. The views
   * (per-port, with the node's own endpoints) are built when read.
   */
  selectNode(
    base: readonly ServicePortInfo[],
    node: NodeVariants,
    context: FragmentContext,
    changed: ReadonlySet<string> | null,
  ): FragmentSelection {
    const shared = this.select(base, context, changed)
    const { positions, variants } = node
    if (positions.length === 0) return shared
    this.variantsVisited += positions.length
    let list: ServicePortFragment[] | null = null
    let contents: ServicePortFragment["content"][] | null = null
    for (let k = 0; k < positions.length; k++) {
      const at = positions[k]
      if (!rulesMayDiffer(variants[k], base[at])) continue
      const fragment = this.get(variants[k], context)
      if (fragment.content === shared.list[at].content) continue
      if (list === null || contents === null) {
        list = shared.list.slice()
        contents = shared.contents.slice()
      }
      list[at] = fragment
      contents[at] = fragment.content
    }
    if (list !== null) this.nodeSelectionsPatched++
    const written = shared.written
    let views: IptablesServicePortView[] | null = null
    const fragmentOf = (svcPort: ServicePortInfo): ServicePortFragment => this.get(svcPort, context, true)
    return {
      list: list ?? shared.list,
      written,
      contents: contents ?? shared.contents,
      get views(): readonly IptablesServicePortView[] {
        if (views === null) {
          views = shared.views.slice()
          for (let k = 0; k < positions.length; k++) {
            const at = positions[k]
            const fragment = fragmentOf(variants[k])
            views[at] = written === null || written[at] === 1 ? fragment.view : fragment.unwrittenView()
          }
        }
        return views
      },
    }
  }

  get(svcPort: ServicePortInfo, context: FragmentContext, forView = false): ServicePortFragment {
    let entry = this.byPort.get(svcPort)
    if (entry === undefined) {
      let hints = 0
      for (const ep of svcPort.endpoints) {
        if (ep.zoneHints.length > 0) hints |= 1
        if (ep.nodeHints.length > 0) hints |= 2
      }
      entry = { hints, byKey: new Map(), lastKey: null, last: null }
      this.byPort.set(svcPort, entry)
    }
    const zoneHints = (entry.hints & 1) !== 0
    const nodeHints = (entry.hints & 2) !== 0
    let key = context.key
    if (zoneHints) key += `|z:${context.zone}`
    if (nodeHints) key += `|n:${context.nodeName}`
    if (svcPort.loadBalancerSourceRanges.length > 0) key += `|ip:${context.nodeIP}`
    // Most nodes ask with the key the previous one used (one lookup per port and node).
    if (entry.lastKey === key && entry.last !== null) return entry.last
    const byKey = entry.byKey
    let fragment = byKey.get(key)
    if (fragment === undefined) {
      if (forView) this.viewFragmentsCompiled++
      else this.compiled++
      const compiled = compileServicePortFragment(svcPort, context)
      const lines = [
        compiled.filterRules,
        compiled.natTopRules,
        compiled.natChains,
        compiled.natChainLines,
        compiled.natChainRules,
      ].map((list) => this.intern(list))
      const contentKey = lines.map((list) => list.join("\n")).join("\n\n")
      let content = this.contents.get(contentKey)
      if (content === undefined) {
        content = { lines }
        this.contents.set(contentKey, content)
      }
      const canonical = content.lines
      fragment = {
        filterRules: canonical[0],
        natTopRules: canonical[1],
        natChains: canonical[2],
        natChainLines: canonical[3],
        natChainRules: canonical[4],
        content,
        view: compiled.view,
        unwrittenView: () => compiled.unwrittenView(),
      }
      byKey.set(key, fragment)
    }
    entry.lastKey = key
    entry.last = fragment
    return fragment
  }
}

/**
 * Whether a node's variant of a service port may compile to other rules than the shared (remote)
 * port: it uses Local-policy endpoints (the only place syncProxyRules reads `isLocal`,
 * topology.ts categorizeEndpoints), or its endpoints differ in anything but `isLocal` (a local
 * duplicate endpoint replaced a remote one with other conditions or hints). Both variants come
 * from the same Service object, so every other field is equal. Kept per variant object.
 */
export function rulesMayDiffer(variant: ServicePortInfo, remote: ServicePortInfo): boolean {
  const kept = variantDiffers.get(variant)
  if (kept !== undefined && kept.remote === remote) return kept.differs
  let differs = variant.usesLocalEndpoints || variant.endpoints.length !== remote.endpoints.length
  for (let i = 0; i < variant.endpoints.length && !differs; i++) {
    const a = variant.endpoints[i]
    const b = remote.endpoints[i]
    differs =
      a.ip !== b.ip ||
      a.port !== b.port ||
      a.endpoint !== b.endpoint ||
      a.ready !== b.ready ||
      a.serving !== b.serving ||
      a.terminating !== b.terminating ||
      !sameList(a.zoneHints, b.zoneHints) ||
      !sameList(a.nodeHints, b.nodeHints)
  }
  variantDiffers.set(variant, { remote, differs })
  return differs
}
const variantDiffers = new WeakMap<ServicePortInfo, { remote: ServicePortInfo; differs: boolean }>()

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The rules of one service port, as the body of syncProxyRules' per-service loop writes them. */
function compileServicePortFragment(svcPort: ServicePortInfo, context: FragmentContext): ServicePortFragment {
  const { config, localhostNodePorts, detector, largeClusterMode, nodeIP } = context
  const filterRules: string[] = []
  const natTopRules: string[] = []
  const natRules = natTopRules
  const svcNatChains: string[] = []
  const svcNatRules: string[] = []
  // Endpoint categories and the has*Endpoints flags come from the shared view; what follows is
  // iptables-only (chain names and rules).
  const svc = servicePortView(svcPort, context.nodeName, context.zone, {
    preferSameTrafficDistribution: config.preferSameTrafficDistribution,
  })
  const protocol = svc.protocol
  const name = svc.name
  const {
    clusterEndpoints,
    localEndpoints,
    allReachableEndpoints,
    hasAnyEndpoints: hasEndpoints,
    hasInternalEndpoints,
    hasExternalEndpoints,
  } = svc

  const clusterPolicyChain = serviceChainName(name, protocol)
  const localPolicyChain = serviceLocalChainName(name, protocol)
  const externalTrafficChain = serviceExternalChainName(name, protocol)
  const fwChain = serviceFirewallChainName(name, protocol)
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && svc.usesClusterEndpoints
  const usesLocalPolicyChain = localEndpoints.length > 0 && svc.usesLocalEndpoints

  const internalPolicyChain = svc.internalPolicyLocal ? localPolicyChain : clusterPolicyChain
  const internalTrafficChain = internalPolicyChain
  const externalPolicyChain = svc.externalPolicyLocal ? localPolicyChain : clusterPolicyChain
  // Based on hasEndpoints, not hasExternalEndpoints: the short-circuit rules are needed even
  // when no endpoint serves external traffic.
  const usesExternalTrafficChain = hasEndpoints && svc.externallyAccessible
  const usesFWChain = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0
  const loadBalancerTrafficChain = usesFWChain ? fwChain : externalTrafficChain

  // REJECT when no endpoint exists anywhere, DROP when none serves the policy (view verdicts).
  const filterComment = hasEndpoints ? `"${name} has no local endpoints"` : `"${name} has no endpoints"`
  const internalTrafficFilterTarget = svc.internalVerdict
  const internalTrafficFilterComment = filterComment
  const externalTrafficFilterTarget = svc.externalVerdict
  const externalTrafficFilterComment = filterComment

  const pp = `-m ${protocol} -p ${protocol}`
  const port = String(svc.port)

  // ClusterIP.
  if (hasInternalEndpoints) {
    natRules.push(
      `-A ${KUBE_SERVICES} -m comment --comment "${name} cluster IP" ${pp} -d ${svc.clusterIP} --dport ${port} -j ${internalTrafficChain}`,
    )
  } else {
    filterRules.push(
      `-A ${KUBE_SERVICES} -m comment --comment ${internalTrafficFilterComment} ${pp} -d ${svc.clusterIP} --dport ${port} -j ${internalTrafficFilterTarget}`,
    )
  }

  // External IPs.
  for (const externalIP of svc.externalIPs) {
    if (hasEndpoints) {
      natRules.push(
        `-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${pp} -d ${externalIP} --dport ${port} -j ${externalTrafficChain}`,
      )
    }
    if (!hasExternalEndpoints) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} ${pp} -d ${externalIP} --dport ${port} -j ${externalTrafficFilterTarget}`,
      )
    }
  }

  // Load-balancer ingress IPs.
  for (const lbip of svc.loadBalancerVIPs) {
    if (hasEndpoints) {
      natRules.push(
        `-A ${KUBE_SERVICES} -m comment --comment "${name} loadbalancer IP" ${pp} -d ${lbip} --dport ${port} -j ${loadBalancerTrafficChain}`,
      )
    }
    if (usesFWChain) {
      filterRules.push(
        `-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${name} traffic not accepted by ${fwChain}" ${pp} -d ${lbip} --dport ${port} -j DROP`,
      )
    }
  }
  if (!hasExternalEndpoints) {
    for (const lbip of svc.loadBalancerVIPs) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} ${pp} -d ${lbip} --dport ${port} -j ${externalTrafficFilterTarget}`,
      )
    }
  }

  // NodePorts (not subject to loadBalancerSourceRanges).
  if (svc.nodePort !== 0) {
    const nodePort = String(svc.nodePort)
    if (hasEndpoints) {
      if (localhostNodePorts && config.nfacct) {
        natRules.push(
          `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${pp} -d 127.0.0.0/8 --dport ${nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS_ACCEPTED} -j ${externalTrafficChain}`,
        )
      }
      natRules.push(
        `-A ${KUBE_NODEPORTS} -m comment --comment ${name} ${pp} --dport ${nodePort} -j ${externalTrafficChain}`,
      )
    }
    if (!hasExternalEndpoints) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m addrtype --dst-type LOCAL ${pp} --dport ${nodePort} -j ${externalTrafficFilterTarget}`,
      )
    }
  }

  // Health check node port, whether or not there are local endpoints.
  if (svc.healthCheckNodePort !== 0) {
    filterRules.push(
      `-A ${KUBE_NODEPORTS} -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`,
    )
  }

  if (hasInternalEndpoints) {
    const args = `-m comment --comment "${name} cluster IP" ${pp} -d ${svc.clusterIP} --dport ${port}`
    if (config.masqueradeAll) {
      svcNatRules.push(`-A ${internalTrafficChain} ${args} -j ${KUBE_MARK_MASQ}`)
    } else if (detector !== null) {
      // Masquerade off-cluster traffic to the service VIP.
      svcNatRules.push(`-A ${internalTrafficChain} ${args} ! -s ${detector} -j ${KUBE_MARK_MASQ}`)
    }
  }

  if (usesExternalTrafficChain) {
    svcNatChains.push(externalTrafficChain)
    if (!svc.externalPolicyLocal) {
      svcNatRules.push(
        `-A ${externalTrafficChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`,
      )
    } else {
      if (detector !== null) {
        svcNatRules.push(
          `-A ${externalTrafficChain} -m comment --comment "pod traffic for ${name} external destinations" -s ${detector} -j ${clusterPolicyChain}`,
        )
      }
      svcNatRules.push(
        `-A ${externalTrafficChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      )
      svcNatRules.push(
        `-A ${externalTrafficChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`,
      )
    }
    if (hasExternalEndpoints) svcNatRules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`)
  }

  if (usesFWChain) {
    svcNatChains.push(fwChain)
    const args = `-A ${fwChain} -m comment --comment "${name} loadbalancer IP"`
    let allowFromNode = false
    for (const range of svc.loadBalancerSourceRanges) {
      svcNatRules.push(`${args} -s ${range} -j ${externalTrafficChain}`)
      if (nodeIP !== "" && cidrContainsIp(range, nodeIP)) allowFromNode = true
    }
    if (allowFromNode) {
      for (const lbip of svc.loadBalancerVIPs) svcNatRules.push(`${args} -s ${lbip} -j ${externalTrafficChain}`)
    }
    svcNatRules.push(
      `-A ${fwChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`,
    )
  }

  const endpointChains = new Map<string, string>()
  for (const ep of allReachableEndpoints)
    endpointChains.set(ep.endpoint, endpointChainName(name, protocol, ep.endpoint))

  if (usesClusterPolicyChain) {
    svcNatChains.push(clusterPolicyChain)
    writeServiceToEndpointRules(svcNatRules, svc, clusterPolicyChain, clusterEndpoints, largeClusterMode)
  }
  if (usesLocalPolicyChain) {
    svcNatChains.push(localPolicyChain)
    writeServiceToEndpointRules(svcNatRules, svc, localPolicyChain, localEndpoints, largeClusterMode)
  }

  for (const ep of allReachableEndpoints) {
    const endpointChain = endpointChainName(name, protocol, ep.endpoint)
    svcNatChains.push(endpointChain)
    let args = `-A ${endpointChain}`
    if (!largeClusterMode) args += ` -m comment --comment ${name}`
    // Hairpin: traffic that loops back to its originator is masqueraded.
    svcNatRules.push(`${args} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`)
    if (svc.stickyMaxAgeSeconds > 0) args += ` -m recent --name ${endpointChain} --set`
    svcNatRules.push(`${args} ${pp} -j DNAT --to-destination ${ep.endpoint}`)
  }

  const view: IptablesServicePortView = {
    ...svc,
    clusterPolicyChain,
    localPolicyChain,
    externalChain: externalTrafficChain,
    firewallChain: fwChain,
    usesClusterPolicyChain,
    usesLocalPolicyChain,
    usesExternalTrafficChain,
    usesFWChain,
    internalPolicyChain,
    externalPolicyChain,
    endpointChains,
    chainsWritten: true,
  }
  let unwritten: IptablesServicePortView | null = null
  return {
    filterRules,
    natTopRules,
    natChains: svcNatChains,
    natChainLines: svcNatChains.map(chainLine),
    natChainRules: svcNatRules,
    content: {},
    view,
    unwrittenView() {
      if (unwritten === null) unwritten = { ...view, chainsWritten: false }
      return unwritten
    },
  }
}

/** proxier.go `writeServiceToEndpointRules`: affinity rules, then the 1/(n-i) statistic rules. */
function writeServiceToEndpointRules(
  natRules: string[],
  svc: ServicePortInfo,
  svcChain: string,
  endpoints: readonly EndpointInfo[],
  largeClusterMode: boolean,
): void {
  const commentOf = (ep: EndpointInfo): string =>
    largeClusterMode ? "" : ` -m comment --comment "${svc.name} -> ${ep.endpoint}"`
  if (svc.stickyMaxAgeSeconds > 0) {
    for (const ep of endpoints) {
      const chain = endpointChainName(svc.name, svc.protocol, ep.endpoint)
      natRules.push(
        `-A ${svcChain}${commentOf(ep)} -m recent --name ${chain} --rcheck --seconds ${svc.stickyMaxAgeSeconds} --reap -j ${chain}`,
      )
    }
  }
  const n = endpoints.length
  endpoints.forEach((ep, i) => {
    const chain = endpointChainName(svc.name, svc.protocol, ep.endpoint)
    const statistic = i < n - 1 ? ` -m statistic --mode random --probability ${computeProbability(n - i)}` : ""
    natRules.push(`-A ${svcChain}${commentOf(ep)}${statistic} -j ${chain}`)
  })
}

/**
 * The nat chains a node has after `iptables-restore --noflush` of `restoreInput` on a table that had
 * `existing`: declared chains are created (or flushed), `-X` chains deleted. Feed the result back as
 * `existingNatChains` of the next sync.
 */
export function natChainsAfterRestore(existing: Iterable<string>, restoreInput: string): Set<string> {
  const chains = new Set(existing)
  let inNat = false
  for (const line of restoreInput.split("\n")) {
    if (line.startsWith("*")) inNat = line === "*nat"
    else if (!inNat) continue
    else if (line.startsWith(":")) chains.add(line.slice(1).split(" ")[0])
    else if (line.startsWith("-X ")) chains.delete(line.slice(3).trim())
  }
  return chains
}
