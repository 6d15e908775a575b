/**
 * kube-proxy's nftables mode as a pure compiler: the mode-independent per-service view (view.ts)
 * plus node and config, and a snapshot of what the `kube-proxy` table holds now, to the exact
 * transaction `syncProxyRules` runs (knftables operations; `nft -f` text via table.ts).
 *
 * Upstream: kubernetes/kubernetes pkg/proxy/nftables/proxier.go, era A (v1.33-v1.35) layout
 * (proxy-modes.md §1): `setupNFTables` (full syncs), the per-service-port loop of `syncProxyRules`,
 * `writeServiceToEndpointRules`, `nftElementStorage` (`readOrReset`, `ensureElem`,
 * `cleanupLeftoverKeys`), stale-chain flushing, and the restart optimisation of PR #130119
 * (endpoint chains already present are not rewritten by a full sync). Token order follows
 * knftables.Concat calls in the source.
 *
 * Deliberate differences, documented:
 * - Service ports are visited in ServicePortName order (upstream: Go map order); stale chains,
 *   stale affinity sets and leftover elements are handled in name order (upstream: map order).
 *   Only transaction order differs; the resulting table and the dump are the same.
 * - IPv4 (`ip` family) only, as the rest of the simulator.
 */
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { masqueradeMarkGo } from "../iptables/names.ts"
import { buildServicePorts, cidrContainsIp, compareStrings, nodeZone } from "../service-port.ts"
import type { EndpointInfo, ProxyNode } from "../service-port.ts"
import { servicePortView } from "../view.ts"
import type { ServicePortView } from "../view.ts"
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../../wire/ipv4.ts"
import {
  CLUSTER_IPS_CHECK_CHAIN,
  CLUSTER_IPS_SET,
  FILTER_FORWARD,
  FILTER_INPUT,
  FILTER_OUTPUT,
  FILTER_OUTPUT_PRE_DNAT,
  FILTER_PREROUTING_PRE_DNAT,
  FIREWALL_CHECK_CHAIN,
  FIREWALL_IPS_MAP,
  isAffinitySetName,
  isServiceChainName,
  MARK_MASQ_CHAIN,
  MASQUERADING_CHAIN,
  NAT_OUTPUT,
  NAT_POSTROUTING,
  NAT_PREROUTING,
  NO_ENDPOINT_NODEPORTS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  NODEPORT_ENDPOINTS_CHECK_CHAIN,
  NODEPORT_IPS_SET,
  PREFIX_AFFINITY,
  PREFIX_CLUSTER_POLICY,
  PREFIX_ENDPOINT,
  PREFIX_EXTERNAL,
  PREFIX_FIREWALL,
  PREFIX_LOCAL_POLICY,
  REJECT_CHAIN,
  SERVICE_ENDPOINTS_CHECK_CHAIN,
  SERVICE_IPS_MAP,
  SERVICE_NODEPORTS_MAP,
  SERVICES_CHAIN,
  servicePortChainNameBase,
  servicePortEndpointChainNameBase,
  TABLE_COMMENT,
} from "./names.ts"
import type { NftChainSpec, NftElementSpec, NftOperation, NftSetSpec } from "./table.ts"

/** kube-proxy settings the nftables proxier reads (KubeProxyConfiguration and NewProxier arguments). */
export interface NftablesConfig {
  /** --cluster-cidr for the ClusterCIDR local-traffic detector; null = no detector. */
  readonly clusterCIDR: string | null
  /** masqueradeAll, default false. */
  readonly masqueradeAll: boolean
  /**
   * The mark text written into rules. Real kube-proxy: Go `%#08x` of 1<<masqueradeBit, i.e.
   * `0x00004000` for the default bit 14; the upstream unit-test fake hard-codes `0x4000`.
   */
  readonly masqueradeMark: string
  /** --nodeport-addresses (CIDRs or "primary"); empty = every local address. Default ["primary"] in nftables mode. */
  readonly nodePortAddresses: readonly string[]
  /** The family's ServiceCIDRs (OnServiceCIDRsChanged); empty = no "unallocated ClusterIP" drop rule. */
  readonly serviceCIDRs: readonly string[]
  /** Feature gate PreferSameTrafficDistribution (node hints). Default false. */
  readonly preferSameTrafficDistribution: boolean
}

export const DEFAULT_NFTABLES_CONFIG: NftablesConfig = {
  clusterCIDR: null,
  masqueradeAll: false,
  masqueradeMark: masqueradeMarkGo(14),
  nodePortAddresses: ["primary"],
  serviceCIDRs: [],
  preferSameTrafficDistribution: false,
}

/** What the proxier knows of the table before this sync (knftables ListAll / ListElements). */
export interface NftablesExistingState {
  readonly chains: ReadonlySet<string>
  /** Names of existing sets starting with "affinity-". */
  readonly affinitySets: ReadonlySet<string>
  /** Elements of the six kube-proxy-managed sets/maps: container -> (" . "-joined key -> " . "-joined value). */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>
}

export const EMPTY_NFTABLES_STATE: NftablesExistingState = {
  chains: new Set(),
  affinitySets: new Set(),
  elements: new Map(),
}

export interface NftablesSyncOptions {
  /** Run setupNFTables (first sync, after a failure, after a topology change, periodic full sync). */
  readonly fullSync: boolean
  /** Partial syncs: "namespace/name" of every Service whose Service or EndpointSlices changed. */
  readonly changedServices?: ReadonlySet<string>
  /**
   * First full sync of this proxier instance: upstream adds and deletes every base chain once so
   * that chains left by an older kube-proxy are recreated with the current properties.
   */
  readonly recreateBaseChains?: boolean
  readonly existing?: NftablesExistingState
  /**
   * Whether a full sync's transaction starts with setupNFTables' operations (default true). The
   * cluster's shared compile (proxier.ts NftSharedSync) leaves them out and puts the node's own
   * (`nftablesSetupOps`, which read the node's IPs) in front: the same operations in the same order.
   */
  readonly setup?: boolean
}

/** The view of one service port plus its nftables names and derived choices. */
export interface NftablesServicePortView extends ServicePortView {
  readonly clusterPolicyChain: string
  readonly localPolicyChain: string
  readonly externalChain: string
  readonly firewallChain: string
  readonly usesClusterPolicyChain: boolean
  readonly usesLocalPolicyChain: boolean
  readonly usesExternalTrafficChain: boolean
  readonly usesFWChain: boolean
  /** endpoint-… chain of each endpoint of allReachableEndpoints, by "IP:port". */
  readonly endpointChains: ReadonlyMap<string, string>
  /** Whether this sync wrote the service's chains (always in a full sync). */
  readonly chainsWritten: boolean
}

export interface NftablesCompileResult {
  readonly ops: readonly NftOperation[]
  readonly fullSync: boolean
  /** Service/endpoint chains in use after this sync (sorted). */
  readonly activeChains: readonly string[]
  /** Existing service chains this sync flushed because nothing uses them any more (sorted). */
  readonly staleChains: readonly string[]
  readonly services: readonly NftablesServicePortView[]
  readonly totalEndpoints: number
}

/** knftables.Concat: tokens joined with single spaces, no space after a "@" token. */
export function concat(...args: readonly (string | number | readonly string[])[]): string {
  let out = ""
  let needSpace = false
  let wroteAt = false
  for (const arg of args) {
    if (typeof arg === "string" || typeof arg === "number") {
      if (needSpace) out += " "
      out += String(arg)
      wroteAt = arg === "@"
    } else {
      for (const s of arg) {
        if (needSpace) out += " "
        out += s
        wroteAt = s === "@"
        needSpace = out.length > 0 && !wroteAt
      }
    }
    needSpace = out.length > 0 && !wroteAt
  }
  return out
}

interface BaseChain {
  readonly name: string
  readonly type: "filter" | "nat"
  readonly hook: NonNullable<NftChainSpec["hook"]>
  /** knftables.ParsePriority of "dstnat-10" (-110), "filter" (0), "dstnat" (-100), "srcnat" (100). */
  readonly priority: number
}

/** nftablesBaseChains (era A, proxy-modes.md §1.2). */
export const NFTABLES_BASE_CHAINS: readonly BaseChain[] = [
  { name: FILTER_PREROUTING_PRE_DNAT, type: "filter", hook: "prerouting", priority: -110 },
  { name: FILTER_OUTPUT_PRE_DNAT, type: "filter", hook: "output", priority: -110 },
  { name: FILTER_INPUT, type: "filter", hook: "input", priority: 0 },
  { name: FILTER_FORWARD, type: "filter", hook: "forward", priority: 0 },
  { name: FILTER_OUTPUT, type: "filter", hook: "output", priority: 0 },
  { name: NAT_PREROUTING, type: "nat", hook: "prerouting", priority: -100 },
  { name: NAT_OUTPUT, type: "nat", hook: "output", priority: -100 },
  { name: NAT_POSTROUTING, type: "nat", hook: "postrouting", priority: 100 },
]

/** nftablesJumpChains (era A): the order of the jump rules in each base chain. */
const NFTABLES_JUMP_CHAINS: readonly { dst: string; src: string; extraArgs: string }[] = [
  { dst: NODEPORT_ENDPOINTS_CHECK_CHAIN, src: FILTER_INPUT, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_INPUT, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_FORWARD, extraArgs: "ct state new" },
  { dst: SERVICE_ENDPOINTS_CHECK_CHAIN, src: FILTER_OUTPUT, extraArgs: "ct state new" },
  { dst: FIREWALL_CHECK_CHAIN, src: FILTER_PREROUTING_PRE_DNAT, extraArgs: "ct state new" },
  { dst: FIREWALL_CHECK_CHAIN, src: FILTER_OUTPUT_PRE_DNAT, extraArgs: "ct state new" },
  { dst: SERVICES_CHAIN, src: NAT_OUTPUT, extraArgs: "" },
  { dst: SERVICES_CHAIN, src: NAT_PREROUTING, extraArgs: "" },
  { dst: MASQUERADING_CHAIN, src: NAT_POSTROUTING, extraArgs: "" },
  { dst: CLUSTER_IPS_CHECK_CHAIN, src: FILTER_FORWARD, extraArgs: "ct state new" },
  { dst: CLUSTER_IPS_CHECK_CHAIN, src: FILTER_OUTPUT, extraArgs: "ct state new" },
]

const IPV4_ADDR = "ipv4_addr"
const IPX = "ip"
const NO_LOCALHOST = "ip daddr != 127.0.0.0/8"

/** The managed sets/maps, in `cleanupLeftoverKeys` order. */
const ELEMENT_CONTAINERS: readonly { name: string; isMap: boolean }[] = [
  { name: CLUSTER_IPS_SET, isMap: false },
  { name: SERVICE_IPS_MAP, isMap: true },
  { name: FIREWALL_IPS_MAP, isMap: true },
  { name: NO_ENDPOINT_SERVICES_MAP, isMap: true },
  { name: NO_ENDPOINT_NODEPORTS_MAP, isMap: true },
  { name: SERVICE_NODEPORTS_MAP, isMap: true },
]

/** NodePortAddresses for the IPv4 proxier: matchAll, or the matching local IPv4 addresses. */
export function nodePortIPs(addresses: readonly string[], node: ProxyNode): { matchAll: boolean; ips: string[] } {
  const cidrs: string[] = []
  let matchAll = addresses.length === 0
  for (const raw of addresses) {
    const text = raw.trim()
    if (text === "primary") {
      if (node.ips[0] !== undefined) cidrs.push(`${node.ips[0]}/32`)
      continue
    }
    const prefix = parseCidr(text, false)
    if (prefix === undefined) continue // an IPv6 CIDR, for the other family's proxier
    if (prefix.prefixLength === 0) matchAll = true
    cidrs.push(text)
  }
  // NewNodePortAddresses: a list with no IPv4 CIDR (IPv6 only, or `primary` on a node without one)
  // matches every address for this family (proxy/node-port-addresses.ts ipv4NodePortAddresses).
  if (matchAll || cidrs.length === 0) return { matchAll: true, ips: [] }
  const found = new Set<number>()
  for (const c of cidrs) {
    const prefix = parseCidr(c, false)
    if (prefix === undefined) continue
    for (const ip of node.ips) {
      const address = parseIpv4(ip)
      if (address !== undefined && cidrContains(prefix, address)) found.add(address)
    }
  }
  // Loopback addresses are skipped with an error log upstream ("localhost NodePorts are not supported").
  const ips = [...found]
    .filter((a) => a >>> 24 !== 127)
    .sort((a, b) => a - b)
    .map(formatIpv4)
  return { matchAll: false, ips }
}

/** An `add rule` operation, carrying a comment only when there is one. */
function addRuleOp(chain: string, rule: string, comment: string | undefined): NftOperation {
  return { verb: "add", kind: "rule", rule: comment === undefined ? { chain, rule } : { chain, rule, comment } }
}

/** One `syncProxyRules` transaction from the views. Pure. */
export function compileNftables(
  views: readonly ServicePortView[],
  node: ProxyNode,
  config: NftablesConfig,
  options: NftablesSyncOptions,
): NftablesCompileResult {
  const ops: NftOperation[] = []
  const fullSync = options.fullSync
  const changed = options.changedServices ?? new Set<string>()
  const existing = options.existing ?? EMPTY_NFTABLES_STATE
  const detector = config.clusterCIDR === null || config.clusterCIDR.trim() === "" ? null : config.clusterCIDR.trim()
  const nodeIP = node.ips[0] ?? ""

  const addChain = (chain: NftChainSpec): void => void ops.push({ verb: "add", kind: "chain", chain })
  const flushChain = (name: string): void => void ops.push({ verb: "flush", kind: "chain", chain: { name } })
  const addRule = (chain: string, rule: string, comment?: string): void =>
    void ops.push(addRuleOp(chain, rule, comment))
  const addSet = (kind: "set" | "map", set: NftSetSpec): void => void ops.push({ verb: "add", kind, set })
  /** ensureChain: add+flush once per transaction; with skipCreation only note the chain as used. */
  const ensureChain = (name: string, created: Set<string>, skipCreation: boolean): void => {
    if (created.has(name)) return
    created.add(name)
    if (skipCreation) return
    addChain({ name })
    flushChain(name)
  }

  // nftElementStorage per managed container: readOrReset from the table, leftovers deleted at the end.
  const storages = new Map<string, { isMap: boolean; elements: Map<string, string>; leftover: Set<string> }>()
  for (const c of ELEMENT_CONTAINERS) {
    const elements = new Map(existing.elements.get(c.name) ?? [])
    storages.set(c.name, { isMap: c.isMap, elements, leftover: new Set(elements.keys()) })
  }
  const ensureElem = (container: string, key: readonly string[], value: readonly string[], comment?: string): void => {
    const storage = storages.get(container)!
    const keyText = key.join(" . ")
    const valueText = value.join(" . ")
    const current = storage.elements.get(keyText)
    // Unchanged elements (the common case in partial syncs) cost a lookup and no allocation.
    if (current === valueText) {
      storage.leftover.delete(keyText)
      return
    }
    const element: NftElementSpec = {
      container,
      isMap: storage.isMap,
      key,
      value,
      ...(comment !== undefined ? { comment } : {}),
    }
    if (current !== undefined) {
      ops.push({ verb: "delete", kind: "element", element })
      storage.leftover.delete(keyText)
    }
    ops.push({ verb: "add", kind: "element", element })
    storage.elements.set(keyText, valueText)
  }

  if (fullSync && options.setup !== false)
    setupNftables(ops, node, config, options.recreateBaseChains ?? false, ensureChain, addRule, addSet)

  const activeChains = new Set<string>()
  const activeAffinitySets = new Set<string>()
  const out: NftablesServicePortView[] = []
  let totalEndpoints = 0
  for (const view of views) totalEndpoints += view.endpoints.length

  for (const svc of views) {
    const protocol = svc.protocol
    const port = String(svc.port)
    const nameBase = servicePortChainNameBase(svc.namespace, svc.serviceName, protocol, svc.portName)
    const clusterPolicyChain = PREFIX_CLUSTER_POLICY + nameBase
    const localPolicyChain = PREFIX_LOCAL_POLICY + nameBase
    const externalTrafficChain = PREFIX_EXTERNAL + nameBase
    const fwChain = PREFIX_FIREWALL + nameBase
    const { clusterEndpoints, localEndpoints, allReachableEndpoints, hasInternalEndpoints, hasExternalEndpoints } = svc
    const hasEndpoints = svc.hasAnyEndpoints
    const affinity = svc.stickyMaxAgeSeconds > 0

    const skipServiceUpdate = !fullSync && !changed.has(svc.namespacedName)

    const endpointBases = new Map<string, string>()
    const endpointChains = new Map<string, string>()
    const skipEndpoint = new Set<string>()
    for (const ep of allReachableEndpoints) {
      const epBase = servicePortEndpointChainNameBase(
        svc.namespace,
        svc.serviceName,
        protocol,
        svc.portName,
        ep.endpoint,
      )
      const chain = PREFIX_ENDPOINT + epBase
      endpointBases.set(ep.endpoint, epBase)
      endpointChains.set(ep.endpoint, chain)
      // PR #130119: an endpoint chain's rules follow from its name (endpoint IP and port) and from
      // whether the service uses affinity (the affinity set exists), so a full sync leaves an
      // existing, matching chain alone.
      const hasAffinitySet = existing.affinitySets.has(PREFIX_AFFINITY + epBase)
      const unchanged = fullSync && existing.chains.has(chain) && hasAffinitySet === affinity
      if (unchanged) skipEndpoint.add(ep.endpoint)
      ensureChain(chain, activeChains, skipServiceUpdate || unchanged)
      if (affinity) activeAffinitySets.add(PREFIX_AFFINITY + epBase)
    }

    const usesClusterPolicyChain = clusterEndpoints.length > 0 && svc.usesClusterEndpoints
    if (usesClusterPolicyChain) ensureChain(clusterPolicyChain, activeChains, skipServiceUpdate)
    const usesLocalPolicyChain = localEndpoints.length > 0 && svc.usesLocalEndpoints
    if (usesLocalPolicyChain) ensureChain(localPolicyChain, activeChains, skipServiceUpdate)

    const internalTrafficChain = svc.internalPolicyLocal ? localPolicyChain : clusterPolicyChain
    const externalPolicyChain = svc.externalPolicyLocal ? localPolicyChain : clusterPolicyChain
    // Based on hasEndpoints: the short-circuit rules are needed even without external endpoints.
    const usesExternalTrafficChain = hasEndpoints && svc.externallyAccessible
    if (usesExternalTrafficChain) ensureChain(externalTrafficChain, activeChains, skipServiceUpdate)

    // No endpoints at all: reject; none for the policy: drop.
    const internalVerdict = !hasEndpoints ? `goto ${REJECT_CHAIN}` : "drop"
    const externalVerdict = internalVerdict

    ensureElem(CLUSTER_IPS_SET, [svc.clusterIP], [])
    if (hasInternalEndpoints) {
      ensureElem(SERVICE_IPS_MAP, [svc.clusterIP, protocol, port], [`goto ${internalTrafficChain}`])
    } else {
      ensureElem(NO_ENDPOINT_SERVICES_MAP, [svc.clusterIP, protocol, port], [internalVerdict], svc.name)
    }

    for (const externalIP of svc.externalIPs) {
      if (hasEndpoints) ensureElem(SERVICE_IPS_MAP, [externalIP, protocol, port], [`goto ${externalTrafficChain}`])
      if (!hasExternalEndpoints)
        ensureElem(NO_ENDPOINT_SERVICES_MAP, [externalIP, protocol, port], [externalVerdict], svc.name)
    }

    const usesFWChain = svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0
    if (usesFWChain) ensureChain(fwChain, activeChains, skipServiceUpdate)

    for (const lbip of svc.loadBalancerVIPs) {
      if (hasEndpoints) ensureElem(SERVICE_IPS_MAP, [lbip, protocol, port], [`goto ${externalTrafficChain}`])
      if (usesFWChain) ensureElem(FIREWALL_IPS_MAP, [lbip, protocol, port], [`goto ${fwChain}`])
    }
    if (!hasExternalEndpoints) {
      for (const lbip of svc.loadBalancerVIPs)
        ensureElem(NO_ENDPOINT_SERVICES_MAP, [lbip, protocol, port], [externalVerdict], svc.name)
    }

    if (svc.nodePort !== 0) {
      const nodePort = String(svc.nodePort)
      // NodePorts are not subject to loadBalancerSourceRanges.
      if (hasEndpoints) ensureElem(SERVICE_NODEPORTS_MAP, [protocol, nodePort], [`goto ${externalTrafficChain}`])
      if (!hasExternalEndpoints)
        ensureElem(NO_ENDPOINT_NODEPORTS_MAP, [protocol, nodePort], [externalVerdict], svc.name)
    }

    out.push({
      ...svc,
      clusterPolicyChain,
      localPolicyChain,
      externalChain: externalTrafficChain,
      firewallChain: fwChain,
      usesClusterPolicyChain,
      usesLocalPolicyChain,
      usesExternalTrafficChain,
      usesFWChain,
      endpointChains,
      chainsWritten: !skipServiceUpdate,
    })
    if (skipServiceUpdate) continue

    if (hasInternalEndpoints) {
      if (config.masqueradeAll) {
        addRule(internalTrafficChain, concat(IPX, "daddr", svc.clusterIP, "jump", MARK_MASQ_CHAIN))
      } else if (detector !== null) {
        // Off-cluster traffic to a ClusterIP (a static route to any node) is masqueraded.
        addRule(
          internalTrafficChain,
          concat(IPX, "daddr", svc.clusterIP, IPX, "saddr", "!=", detector, "jump", MARK_MASQ_CHAIN),
        )
      }
    }

    if (usesExternalTrafficChain) {
      if (!svc.externalPolicyLocal) {
        // Non-local endpoints: masquerade in case the packet crosses nodes.
        addRule(externalTrafficChain, concat("jump", MARK_MASQ_CHAIN))
      } else {
        if (detector !== null)
          addRule(
            externalTrafficChain,
            concat(IPX, "saddr", detector, "goto", clusterPolicyChain),
            "short-circuit pod traffic",
          )
        addRule(
          externalTrafficChain,
          concat("fib", "saddr", "type", "local", "jump", MARK_MASQ_CHAIN),
          "masquerade local traffic",
        )
        addRule(
          externalTrafficChain,
          concat("fib", "saddr", "type", "local", "goto", clusterPolicyChain),
          "short-circuit local traffic",
        )
      }
      if (hasExternalEndpoints) addRule(externalTrafficChain, concat("goto", externalPolicyChain))
    }

    if (usesFWChain) {
      const sources: string[] = []
      let allowFromNode = false
      for (const range of svc.loadBalancerSourceRanges) {
        if (sources.length > 0) sources.push(",")
        sources.push(range)
        if (nodeIP !== "" && cidrContainsIp(range, nodeIP)) allowFromNode = true
      }
      // A VIP that is also a local address loops requests from this node back with the VIP as source.
      if (allowFromNode) for (const lbip of svc.loadBalancerVIPs) sources.push(",", lbip)
      addRule(fwChain, concat(IPX, "saddr", "!=", "{", sources, "}", "drop"))
    }

    if (affinity) {
      for (const ep of allReachableEndpoints) {
        addSet("set", {
          name: PREFIX_AFFINITY + endpointBases.get(ep.endpoint)!,
          type: IPV4_ADDR,
          flags: ["dynamic", "timeout"],
          timeoutSeconds: svc.stickyMaxAgeSeconds,
        })
      }
    }

    if (usesClusterPolicyChain)
      writeServiceToEndpointRules(addRule, affinity, clusterPolicyChain, clusterEndpoints, endpointBases)
    if (usesLocalPolicyChain)
      writeServiceToEndpointRules(addRule, affinity, localPolicyChain, localEndpoints, endpointBases)

    for (const ep of allReachableEndpoints) {
      if (skipEndpoint.has(ep.endpoint)) continue
      const chain = endpointChains.get(ep.endpoint)!
      // Hairpin: traffic looping back to its originator is masqueraded.
      addRule(chain, concat(IPX, "saddr", ep.ip, "jump", MARK_MASQ_CHAIN))
      if (affinity)
        addRule(chain, concat("update", "@", PREFIX_AFFINITY + endpointBases.get(ep.endpoint)!, "{", IPX, "saddr", "}"))
      addRule(chain, concat("meta l4proto", protocol, "dnat to", ep.endpoint))
    }
  }

  // Stale chains are flushed now and deleted by a later sync (kernels < 6.2 notice late that a
  // chain is unreferenced after its map element is removed).
  const staleChains: string[] = []
  for (const chain of [...existing.chains].sort(compareStrings)) {
    if (isServiceChainName(chain) && !activeChains.has(chain)) {
      flushChain(chain)
      staleChains.push(chain)
    }
  }
  // Stale affinity sets go at once.
  for (const set of [...existing.affinitySets].sort(compareStrings)) {
    if (isAffinitySetName(set) && !activeAffinitySets.has(set))
      ops.push({ verb: "delete", kind: "set", set: { name: set, type: IPV4_ADDR } })
  }
  for (const c of ELEMENT_CONTAINERS) {
    const storage = storages.get(c.name)!
    for (const key of [...storage.leftover].sort(compareStrings)) {
      ops.push({
        verb: "delete",
        kind: "element",
        element: { container: c.name, isMap: c.isMap, key: key.split(" . "), value: [] },
      })
    }
  }

  return {
    ops,
    fullSync,
    activeChains: [...activeChains].sort(compareStrings),
    staleChains,
    services: out,
    totalEndpoints,
  }
}

/** The operations a full sync's transaction starts with (setupNFTables), as compileNftables writes them. */
export function nftablesSetupOps(node: ProxyNode, config: NftablesConfig, recreateBaseChains: boolean): NftOperation[] {
  const ops: NftOperation[] = []
  const ensureChain = (name: string, created: Set<string>, skipCreation: boolean): void => {
    if (created.has(name)) return
    created.add(name)
    if (skipCreation) return
    ops.push({ verb: "add", kind: "chain", chain: { name } })
    ops.push({ verb: "flush", kind: "chain", chain: { name } })
  }
  const addRule = (chain: string, rule: string, comment?: string): void =>
    void ops.push(addRuleOp(chain, rule, comment))
  const addSet = (kind: "set" | "map", set: NftSetSpec): void => void ops.push({ verb: "add", kind, set })
  setupNftables(ops, node, config, recreateBaseChains, ensureChain, addRule, addSet)
  return ops
}

/** `writeServiceToEndpointRules`: affinity lookups, then the `numgen random mod N vmap`. */
function writeServiceToEndpointRules(
  addRule: (chain: string, rule: string) => void,
  affinity: boolean,
  svcChain: string,
  endpoints: readonly EndpointInfo[],
  endpointBases: ReadonlyMap<string, string>,
): void {
  if (affinity) {
    for (const ep of endpoints) {
      const epBase = endpointBases.get(ep.endpoint)!
      addRule(svcChain, concat(IPX, "saddr", "@", PREFIX_AFFINITY + epBase, "goto", PREFIX_ENDPOINT + epBase))
    }
  }
  const elements: string[] = []
  endpoints.forEach((ep, i) => {
    elements.push(String(i), ":", "goto", PREFIX_ENDPOINT + endpointBases.get(ep.endpoint)!)
    if (i !== endpoints.length - 1) elements.push(",")
  })
  addRule(svcChain, concat("numgen random mod", endpoints.length, "vmap", "{", elements, "}"))
}

/** `setupNFTables` (era A): table, base chains, top-level chains and their fixed rules, sets and maps. */
function setupNftables(
  ops: NftOperation[],
  node: ProxyNode,
  config: NftablesConfig,
  recreateBaseChains: boolean,
  ensureChain: (name: string, created: Set<string>, skipCreation: boolean) => void,
  addRule: (chain: string, rule: string, comment?: string) => void,
  addSet: (kind: "set" | "map", set: NftSetSpec) => void,
): void {
  ops.push({ verb: "add", kind: "table", comment: TABLE_COMMENT })
  if (recreateBaseChains) {
    for (const bc of NFTABLES_BASE_CHAINS) {
      ops.push({ verb: "add", kind: "chain", chain: { name: bc.name } })
      ops.push({ verb: "delete", kind: "chain", chain: { name: bc.name } })
    }
  }
  for (const bc of NFTABLES_BASE_CHAINS) {
    const chain: NftChainSpec = { name: bc.name, type: bc.type, hook: bc.hook, priority: bc.priority }
    ops.push({ verb: "add", kind: "chain", chain })
    ops.push({ verb: "flush", kind: "chain", chain: { name: bc.name } })
  }
  const created = new Set<string>()
  for (const jump of NFTABLES_JUMP_CHAINS) {
    ensureChain(jump.dst, created, false)
    addRule(jump.src, concat(jump.extraArgs, "jump", jump.dst))
  }
  for (const chain of [SERVICES_CHAIN, CLUSTER_IPS_CHECK_CHAIN, MASQUERADING_CHAIN, MARK_MASQ_CHAIN])
    ensureChain(chain, created, false)

  const mark = config.masqueradeMark
  addRule(MARK_MASQ_CHAIN, concat("mark", "set", "mark", "or", mark))
  addRule(MASQUERADING_CHAIN, concat("mark", "and", mark, "==", "0", "return"))
  addRule(MASQUERADING_CHAIN, concat("mark", "set", "mark", "xor", mark))
  addRule(MASQUERADING_CHAIN, "masquerade fully-random")

  addSet("set", { name: CLUSTER_IPS_SET, type: IPV4_ADDR, comment: "Active ClusterIPs" })
  addRule(
    CLUSTER_IPS_CHECK_CHAIN,
    concat(IPX, "daddr", "@", CLUSTER_IPS_SET, "reject"),
    "Reject traffic to invalid ports of ClusterIPs",
  )
  if (config.serviceCIDRs.length > 0) {
    addRule(
      CLUSTER_IPS_CHECK_CHAIN,
      concat(IPX, "daddr", "{", config.serviceCIDRs.join(","), "}", "drop"),
      "Drop traffic to unallocated ClusterIPs",
    )
  }

  // nodeport-ips: "add+delete" when NodePorts match every address ("delete" alone fails if absent).
  const nodePorts = nodePortIPs(config.nodePortAddresses, node)
  addSet("set", { name: NODEPORT_IPS_SET, type: IPV4_ADDR, comment: "IPs that accept NodePort traffic" })
  if (nodePorts.matchAll) {
    ops.push({ verb: "delete", kind: "set", set: { name: NODEPORT_IPS_SET, type: IPV4_ADDR } })
  } else {
    ops.push({ verb: "flush", kind: "set", set: { name: NODEPORT_IPS_SET, type: IPV4_ADDR } })
    for (const ip of nodePorts.ips)
      ops.push({
        verb: "add",
        kind: "element",
        element: { container: NODEPORT_IPS_SET, isMap: false, key: [ip], value: [] },
      })
  }

  addSet("map", {
    name: NO_ENDPOINT_SERVICES_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "vmap to drop or reject packets to services with no endpoints",
  })
  addSet("map", {
    name: NO_ENDPOINT_NODEPORTS_MAP,
    type: "inet_proto . inet_service : verdict",
    comment: "vmap to drop or reject packets to service nodeports with no endpoints",
  })
  ops.push({
    verb: "add",
    kind: "chain",
    chain: { name: REJECT_CHAIN, comment: "helper for @no-endpoint-services / @no-endpoint-nodeports" },
  })
  ops.push({ verb: "flush", kind: "chain", chain: { name: REJECT_CHAIN } })
  addRule(REJECT_CHAIN, "reject")
  addRule(
    SERVICE_ENDPOINTS_CHECK_CHAIN,
    concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", NO_ENDPOINT_SERVICES_MAP),
  )
  if (nodePorts.matchAll) {
    addRule(
      NODEPORT_ENDPOINTS_CHECK_CHAIN,
      concat(NO_LOCALHOST, "meta l4proto . th dport", "vmap", "@", NO_ENDPOINT_NODEPORTS_MAP),
    )
  } else {
    addRule(
      NODEPORT_ENDPOINTS_CHECK_CHAIN,
      concat(IPX, "daddr", "@", NODEPORT_IPS_SET, "meta l4proto . th dport", "vmap", "@", NO_ENDPOINT_NODEPORTS_MAP),
    )
  }

  addSet("map", {
    name: FIREWALL_IPS_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "destinations that are subject to LoadBalancerSourceRanges",
  })
  ensureChain(FIREWALL_CHECK_CHAIN, created, false)
  addRule(
    FIREWALL_CHECK_CHAIN,
    concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", FIREWALL_IPS_MAP),
  )

  addSet("map", {
    name: SERVICE_IPS_MAP,
    type: `${IPV4_ADDR} . inet_proto . inet_service : verdict`,
    comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic",
  })
  addSet("map", {
    name: SERVICE_NODEPORTS_MAP,
    type: "inet_proto . inet_service : verdict",
    comment: "NodePort traffic",
  })
  addRule(SERVICES_CHAIN, concat(IPX, "daddr", ".", "meta l4proto", ".", "th dport", "vmap", "@", SERVICE_IPS_MAP))
  if (nodePorts.matchAll) {
    addRule(
      SERVICES_CHAIN,
      concat("fib daddr type local", NO_LOCALHOST, "meta l4proto . th dport", "vmap", "@", SERVICE_NODEPORTS_MAP),
    )
  } else {
    addRule(
      SERVICES_CHAIN,
      concat(IPX, "daddr @nodeport-ips", "meta l4proto . th dport", "vmap", "@", SERVICE_NODEPORTS_MAP),
    )
  }
}

/** As `compileNftables`, from Services and EndpointSlices. */
export function compileNftablesFromObjects(
  services: readonly Service[],
  slices: readonly EndpointSlice[],
  node: ProxyNode,
  config: NftablesConfig,
  options: NftablesSyncOptions,
): NftablesCompileResult {
  const zone = nodeZone(node)
  const views = buildServicePorts(services, slices, node).map((svc) =>
    servicePortView(svc, node.name, zone, { preferSameTrafficDistribution: config.preferSameTrafficDistribution }),
  )
  return compileNftables(views, node, config, options)
}

export type NftablesRulesForm = "transaction" | "list" | "sorted"
