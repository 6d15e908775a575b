/**
 * Applying a compiled IPVS sync to what the kernel holds, as kube-proxy does it: the netlink
 * operations in upstream order and the resulting state, with graceful termination of real servers.
 * Pure: the node's current IPVS state (with the kernel's per-destination connection counts) in,
 * the next state and the operation list out. The runtime (next round) feeds it the kernel model's
 * counts and charges each operation to the sync cost.
 *
 * Upstream: pkg/proxy/ipvs/proxier.go `syncProxyRules` (order: per virtual server `syncService` then
 * `syncEndpoint`; then unbinding superfluous kube-ipvs0 addresses; then `cleanLegacyService`),
 * pkg/proxy/ipvs/graceful_termination.go (`GracefulDeleteRS`, `deleteRsFunc`,
 * `MoveRSOutofGracefulDeleteList`, `tryDeleteRs` every `rsCheckDeleteInterval` = 1 minute).
 * Kernel: net/netfilter/ipvs/ip_vs_ctl.c `__ip_vs_update_dest` adds a destination with
 * `list_add_rcu(&dest->n_list, &svc->destinations)`, i.e. at the head of the list.
 */
import { cidrContains, parseCidr, parseIpv4 } from "../../wire/ipv4.ts"
import type { IpvsCompileResult, IpvsProtocol } from "./compile.ts"

export interface ProgrammedRealServer {
  readonly address: string
  readonly port: number
  readonly weight: number
  /** ip_vs_dest activeconns / inactconns as the kernel reports them (the kernel model owns them). */
  readonly activeConns: number
  readonly inactiveConns: number
}

export interface ProgrammedVirtualServer {
  readonly key: string
  readonly address: string
  readonly port: number
  readonly protocol: IpvsProtocol
  readonly scheduler: string
  readonly flags: number
  readonly timeoutSeconds: number
  /** In kernel list order (most recently added first). */
  readonly realServers: readonly ProgrammedRealServer[]
}

export interface IpvsNodeState {
  readonly virtualServers: ReadonlyMap<string, ProgrammedVirtualServer>
  readonly dummyAddresses: ReadonlySet<string>
  /** GracefulTerminationManager's list: `VirtualServer.String() + "/" + RealServer.String()`. */
  readonly gracefulDeletes: ReadonlySet<string>
}

export const EMPTY_IPVS_NODE_STATE: IpvsNodeState = {
  virtualServers: new Map(),
  dummyAddresses: new Set(),
  gracefulDeletes: new Set(),
}

/** One netlink request kube-proxy makes (what a sync costs in IPVS mode). */
export type IpvsOperation =
  | { readonly op: "addVirtualServer" | "updateVirtualServer" | "deleteVirtualServer"; readonly key: string }
  | {
      readonly op: "addRealServer" | "updateRealServer"
      readonly key: string
      readonly dest: string
      readonly weight: number
    }
  | { readonly op: "deleteRealServer"; readonly key: string; readonly dest: string }
  | { readonly op: "bindAddress" | "unbindAddress"; readonly address: string }

export interface IpvsSyncOptions {
  /** The proxier's first sync since start (`initialSync`): weights of kept destinations reset to 1. */
  readonly initialSync: boolean
  /** ipvs.excludeCIDRs: virtual servers there are left alone by cleanLegacyService. */
  readonly excludeCIDRs?: readonly string[]
}

export interface IpvsSyncPlan {
  readonly state: IpvsNodeState
  readonly operations: readonly IpvsOperation[]
}

function destKey(rs: { address: string; port: number }): string {
  return `${rs.address}:${rs.port}`
}

/** util.IsRsGracefulTerminationNeeded: UDP and SCTP real servers are deleted at once. */
export function gracefulTerminationNeeded(protocol: IpvsProtocol): boolean {
  return protocol !== "UDP" && protocol !== "SCTP"
}

interface MutableVs {
  key: string
  address: string
  port: number
  protocol: IpvsProtocol
  scheduler: string
  flags: number
  timeoutSeconds: number
  realServers: ProgrammedRealServer[]
}

function cloneState(state: IpvsNodeState): {
  vss: Map<string, MutableVs>
  bound: Set<string>
  graceful: Set<string>
} {
  const vss = new Map<string, MutableVs>()
  for (const [key, vs] of state.virtualServers) vss.set(key, { ...vs, realServers: [...vs.realServers] })
  return { vss, bound: new Set(state.dummyAddresses), graceful: new Set(state.gracefulDeletes) }
}

function freeze(vss: Map<string, MutableVs>, bound: Set<string>, graceful: Set<string>): IpvsNodeState {
  return { virtualServers: vss, dummyAddresses: bound, gracefulDeletes: graceful }
}

/**
 * GracefulDeleteRS / deleteRsFunc: delete now when the protocol needs no graceful termination or the
 * destination has no connections; otherwise set weight 0 (new connections skip it) and keep it on
 * the list for the periodic sweep.
 */
function gracefulDelete(vs: MutableVs, dest: string, graceful: Set<string>, ops: IpvsOperation[]): void {
  const index = vs.realServers.findIndex((rs) => destKey(rs) === dest)
  if (index < 0) return
  const rs = vs.realServers[index]
  if (!gracefulTerminationNeeded(vs.protocol) || rs.activeConns + rs.inactiveConns === 0) {
    vs.realServers.splice(index, 1)
    ops.push({ op: "deleteRealServer", key: vs.key, dest })
    return
  }
  vs.realServers[index] = { ...rs, weight: 0 }
  ops.push({ op: "updateRealServer", key: vs.key, dest, weight: 0 })
  graceful.add(`${vs.key}/${dest}`)
}

function inExcludedCidr(address: string, excludeCIDRs: readonly string[]): boolean {
  const ip = parseIpv4(address)
  if (ip === undefined) return false
  return excludeCIDRs.some((text) => {
    const prefix = parseCidr(text.trim(), false)
    return prefix !== undefined && cidrContains(prefix, ip)
  })
}

/** The operations and resulting state of applying `desired` on a node holding `current`. */
export function planIpvsSync(
  current: IpvsNodeState,
  desired: IpvsCompileResult,
  options: IpvsSyncOptions,
): IpvsSyncPlan {
  const { vss, bound, graceful } = cloneState(current)
  const alreadyBound = new Set(current.dummyAddresses)
  const ops: IpvsOperation[] = []
  const active = new Set<string>()

  for (const want of desired.virtualServers) {
    // syncService: add, or update when any field differs (VirtualServer.Equal).
    let vs = vss.get(want.key)
    if (vs === undefined) {
      vs = { ...want, realServers: [] }
      vss.set(want.key, vs)
      ops.push({ op: "addVirtualServer", key: want.key })
    } else if (
      vs.scheduler !== want.scheduler ||
      vs.flags !== want.flags ||
      vs.timeoutSeconds !== want.timeoutSeconds
    ) {
      vs.scheduler = want.scheduler
      vs.flags = want.flags
      vs.timeoutSeconds = want.timeoutSeconds
      ops.push({ op: "updateVirtualServer", key: want.key })
    }
    // EnsureAddressBind for every bound virtual server whose address was not on kube-ipvs0 when the
    // sync started (alreadyBoundAddrs is not updated during the sync: a second port binds again).
    if (want.bound && !alreadyBound.has(want.address)) {
      bound.add(want.address)
      ops.push({ op: "bindAddress", address: want.address })
    }
    active.add(want.key)

    // syncEndpoint.
    const curDests = [...vs.realServers]
    const cur = new Set(curDests.map(destKey))
    const next = new Set(want.realServers.map(destKey))
    for (const rs of want.realServers) {
      const dest = destKey(rs)
      if (cur.has(dest)) {
        if (options.initialSync) {
          // Upstream updates the endpoint being synced once per destination whose weight differs.
          for (const other of curDests) {
            if (other.weight === rs.weight) continue
            const index = vs.realServers.findIndex((r) => destKey(r) === dest)
            if (index >= 0) vs.realServers[index] = { ...vs.realServers[index], weight: rs.weight }
            ops.push({ op: "updateRealServer", key: vs.key, dest, weight: rs.weight })
          }
        }
        const unique = `${vs.key}/${dest}`
        if (!graceful.has(unique)) continue
        // MoveRSOutofGracefulDeleteList deletes it; it is then added again with weight 1.
        graceful.delete(unique)
        // (The kernel parks a deleted destination that still has connections on its trash list and
        // revives it on re-add, ip_vs_ctl.c `ip_vs_trash_get_dest`; counts here restart at 0.)
        const index = vs.realServers.findIndex((r) => destKey(r) === dest)
        if (index >= 0) vs.realServers.splice(index, 1)
        ops.push({ op: "deleteRealServer", key: vs.key, dest })
      }
      vs.realServers.unshift({
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: 0,
        inactiveConns: 0,
      })
      ops.push({ op: "addRealServer", key: vs.key, dest, weight: rs.weight })
    }
    for (const dest of cur) {
      if (next.has(dest) || graceful.has(`${vs.key}/${dest}`)) continue
      gracefulDelete(vs, dest, graceful, ops)
    }
  }

  // Remove superfluous addresses from the dummy device.
  const wanted = new Set(desired.dummyAddresses)
  for (const address of [...alreadyBound].sort()) {
    if (wanted.has(address)) continue
    bound.delete(address)
    ops.push({ op: "unbindAddress", address })
  }

  // cleanLegacyService: every virtual server this sync did not produce, except excluded ranges.
  const exclude = options.excludeCIDRs ?? []
  for (const key of [...vss.keys()]) {
    const vs = vss.get(key)
    if (vs === undefined || active.has(key) || inExcludedCidr(vs.address, exclude)) continue
    vss.delete(key)
    ops.push({ op: "deleteVirtualServer", key })
  }
  return { state: freeze(vss, bound, graceful), operations: ops }
}

/**
 * GracefulTerminationManager.tryDeleteRs (every minute): delete each listed destination whose
 * connections have drained (or whose protocol needs no draining). Entries whose virtual server is
 * gone stay listed, as upstream's GetRealServers error leaves them.
 */
export function sweepGracefulDeletes(current: IpvsNodeState): IpvsSyncPlan {
  const { vss, bound, graceful } = cloneState(current)
  const ops: IpvsOperation[] = []
  for (const unique of [...graceful].sort()) {
    const slash = unique.indexOf("/", unique.indexOf("/") + 1)
    const key = unique.slice(0, slash)
    const dest = unique.slice(slash + 1)
    const vs = vss.get(key)
    if (vs === undefined) continue
    const index = vs.realServers.findIndex((rs) => destKey(rs) === dest)
    if (index < 0) {
      // "can't find the real server": reported as deleted, dropped from the list.
      graceful.delete(unique)
      continue
    }
    const rs = vs.realServers[index]
    if (gracefulTerminationNeeded(vs.protocol) && rs.activeConns + rs.inactiveConns !== 0) continue
    vs.realServers.splice(index, 1)
    graceful.delete(unique)
    ops.push({ op: "deleteRealServer", key, dest })
  }
  return { state: freeze(vss, bound, graceful), operations: ops }
}

/** A state with the kernel's connection counts applied (from the kernel model), for the next plan. */
export function withConnectionCounts(
  state: IpvsNodeState,
  counts: (key: string, dest: string) => { activeConns: number; inactiveConns: number } | undefined,
): IpvsNodeState {
  const vss = new Map<string, ProgrammedVirtualServer>()
  for (const [key, vs] of state.virtualServers) {
    vss.set(key, {
      ...vs,
      realServers: vs.realServers.map((rs) => {
        const c = counts(key, destKey(rs))
        return c === undefined ? rs : { ...rs, activeConns: c.activeConns, inactiveConns: c.inactiveConns }
      }),
    })
  }
  return { virtualServers: vss, dummyAddresses: state.dummyAddresses, gracefulDeletes: state.gracefulDeletes }
}

/** One `ipset` command kube-proxy runs (pkg/proxy/ipvs/ipset/ipset.go execs the ipset binary). */
export interface IpsetOperation {
  readonly op: "create" | "list" | "add" | "del"
  readonly set: string
  /** The entry for add/del. */
  readonly entry?: string
}

export interface IpsetSyncPlan {
  /** Set name to entries after the sync. */
  readonly sets: ReadonlyMap<string, ReadonlySet<string>>
  readonly operations: readonly IpsetOperation[]
}

/**
 * The ipset commands of one sync: `ensureIPSet` (`ipset create <set> <type> ... -exist`) for every
 * set, then per set `syncIPSetEntries`: `ipset list <set>`, and when the applied entries differ,
 * `ipset del` for stale entries followed by `ipset add ... -exist` for new ones. Sets are visited
 * in `ipsetInfo` order (upstream: Go map order), entries sorted (upstream: Go set order).
 */
export function planIpsetSync(
  current: ReadonlyMap<string, ReadonlySet<string>>,
  desired: readonly { readonly info: { readonly name: string }; readonly entries: readonly string[] }[],
): IpsetSyncPlan {
  const operations: IpsetOperation[] = []
  for (const set of desired) operations.push({ op: "create", set: set.info.name })
  const sets = new Map<string, ReadonlySet<string>>()
  for (const set of desired) {
    const name = set.info.name
    operations.push({ op: "list", set: name })
    const applied = current.get(name) ?? new Set<string>()
    const active = new Set(set.entries)
    for (const entry of [...applied].sort()) if (!active.has(entry)) operations.push({ op: "del", set: name, entry })
    for (const entry of set.entries) if (!applied.has(entry)) operations.push({ op: "add", set: name, entry })
    sets.set(name, active)
  }
  return { sets, operations }
}
