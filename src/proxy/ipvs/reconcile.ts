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

/** The kernel's active / inactive connection counts of a real server (undefined: not in the kernel). */
export type IpvsConnectionCounts = (
  key: string,
  dest: string,
) => { readonly activeConns: number; readonly inactiveConns: number } | undefined

export interface IpvsSyncOptions {
  /** The proxier's first sync since start (`initialSync`): weights of kept destinations reset to 1. */
  readonly initialSync: boolean
  /** ipvs.excludeCIDRs: virtual servers there are left alone by cleanLegacyService. */
  readonly excludeCIDRs?: readonly string[]
  /**
   * The kernel's connection counts, read for the real servers a graceful deletion looks at (what
   * `GetRealServers` returns); absent: the counts the state holds (withConnectionCounts).
   */
  readonly counts?: IpvsConnectionCounts
}

export interface IpvsSyncPlan {
  readonly state: IpvsNodeState
  readonly operations: readonly IpvsOperation[]
  /**
   * The plan read connection counts (a graceful deletion of a TCP real server): it depends on the
   * node's connections, not only on the states and the desired servers.
   */
  readonly countsRead?: boolean
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

/**
 * The next state, copy on write: virtual servers the plan does not change stay the current state's
 * objects (never modified, so states of different nodes and syncs share them); a changed one is
 * copied once, on its first change.
 */
class Draft {
  readonly vss: Map<string, ProgrammedVirtualServer>
  readonly bound: Set<string>
  readonly graceful: Set<string>
  private readonly own = new Set<string>()
  countsRead = false

  constructor(state: IpvsNodeState) {
    this.vss = new Map(state.virtualServers)
    this.bound = new Set(state.dummyAddresses)
    this.graceful = new Set(state.gracefulDeletes)
  }

  /** The virtual server as this draft's own mutable copy. */
  edit(key: string): MutableVs | undefined {
    const vs = this.vss.get(key)
    if (vs === undefined) return undefined
    if (this.own.has(key)) return vs as MutableVs
    const copy: MutableVs = { ...vs, realServers: [...vs.realServers] }
    this.vss.set(key, copy)
    this.own.add(key)
    return copy
  }

  owns(key: string): boolean {
    return this.own.has(key)
  }

  delete(key: string): void {
    this.vss.delete(key)
    this.own.delete(key)
  }

  freeze(ops: readonly IpvsOperation[]): IpvsSyncPlan {
    return {
      state: { virtualServers: this.vss, dummyAddresses: this.bound, gracefulDeletes: this.graceful },
      operations: ops,
      countsRead: this.countsRead,
    }
  }
}

/** The connections of a real server: the kernel's (when given) or the state's. */
function connectionsOf(
  draft: Draft,
  counts: IpvsConnectionCounts | undefined,
  key: string,
  rs: ProgrammedRealServer,
): number {
  draft.countsRead = true
  const c = counts?.(key, destKey(rs)) ?? rs
  return c.activeConns + c.inactiveConns
}

/**
 * GracefulDeleteRS / deleteRsFunc: delete now when the protocol needs no graceful termination or the
 * destination has no connections; otherwise set weight 0 (new connections skip it) and keep it on
 * the list for the periodic sweep.
 */
function gracefulDelete(
  draft: Draft,
  key: string,
  dest: string,
  ops: IpvsOperation[],
  counts: IpvsConnectionCounts | undefined,
): void {
  const vs = draft.edit(key) as MutableVs
  const index = vs.realServers.findIndex((rs) => destKey(rs) === dest)
  if (index < 0) return
  const rs = vs.realServers[index]
  if (!gracefulTerminationNeeded(vs.protocol) || connectionsOf(draft, counts, key, rs) === 0) {
    vs.realServers.splice(index, 1)
    ops.push({ op: "deleteRealServer", key: vs.key, dest })
    return
  }
  vs.realServers[index] = { ...rs, weight: 0 }
  ops.push({ op: "updateRealServer", key: vs.key, dest, weight: 0 })
  draft.graceful.add(`${vs.key}/${dest}`)
}

function inExcludedCidr(address: string, excludeCIDRs: readonly string[]): boolean {
  const ip = parseIpv4(address)
  if (ip === undefined) return false
  return excludeCIDRs.some((text) => {
    const prefix = parseCidr(text.trim(), false)
    return prefix !== undefined && cidrContains(prefix, ip)
  })
}

/** A new virtual server after its real servers were added in `want`'s order (list_add_rcu: reversed). */
const freshMemo = new WeakMap<IpvsCompileResult["virtualServers"][number], ProgrammedVirtualServer>()

function freshVirtualServer(want: IpvsCompileResult["virtualServers"][number]): ProgrammedVirtualServer {
  let vs = freshMemo.get(want)
  if (vs === undefined) {
    const realServers: ProgrammedRealServer[] = []
    for (const rs of want.realServers)
      realServers.unshift({ address: rs.address, port: rs.port, weight: rs.weight, activeConns: 0, inactiveConns: 0 })
    vs = {
      key: want.key,
      address: want.address,
      port: want.port,
      protocol: want.protocol,
      scheduler: want.scheduler,
      flags: want.flags,
      timeoutSeconds: want.timeoutSeconds,
      realServers,
    }
    freshMemo.set(want, vs)
  }
  return vs
}

/** The operations and resulting state of applying `desired` on a node holding `current`. */
export function planIpvsSync(
  current: IpvsNodeState,
  desired: Pick<IpvsCompileResult, "virtualServers" | "dummyAddresses">,
  options: IpvsSyncOptions,
): IpvsSyncPlan {
  const draft = new Draft(current)
  const { vss, bound, graceful } = draft
  const counts = options.counts
  const alreadyBound = current.dummyAddresses
  const ops: IpvsOperation[] = []
  const active = new Set<string>()

  for (const want of desired.virtualServers) {
    // syncService: add, or update when any field differs (VirtualService.Equal).
    const key = want.key
    let vs: ProgrammedVirtualServer | undefined = vss.get(key)
    if (vs === undefined) {
      // A new virtual server: every real server is added (each at the list head). The result is a
      // function of `want` alone, so nodes programming the same desired server share it.
      vss.set(key, freshVirtualServer(want))
      ops.push({ op: "addVirtualServer", key })
      if (want.bound && !alreadyBound.has(want.address)) {
        bound.add(want.address)
        ops.push({ op: "bindAddress", address: want.address })
      }
      active.add(key)
      for (const rs of want.realServers) ops.push({ op: "addRealServer", key, dest: destKey(rs), weight: rs.weight })
      continue
    } else if (
      vs.scheduler !== want.scheduler ||
      vs.flags !== want.flags ||
      vs.timeoutSeconds !== want.timeoutSeconds
    ) {
      const m = draft.edit(key) as MutableVs
      m.scheduler = want.scheduler
      m.flags = want.flags
      m.timeoutSeconds = want.timeoutSeconds
      vs = m
      ops.push({ op: "updateVirtualServer", key })
    }
    // EnsureAddressBind for every bound virtual server whose address was not on kube-ipvs0 when the
    // sync started (alreadyBoundAddrs is not updated during the sync: a second port binds again).
    if (want.bound && !alreadyBound.has(want.address)) {
      bound.add(want.address)
      ops.push({ op: "bindAddress", address: want.address })
    }
    active.add(key)

    // syncEndpoint.
    // The destinations when the endpoint sync starts (a copy only if this draft may change them).
    const curDests = draft.owns(key) ? [...vs.realServers] : vs.realServers
    const cur = new Set(curDests.map(destKey))
    const next = new Set(want.realServers.map(destKey))
    for (const rs of want.realServers) {
      const dest = destKey(rs)
      if (cur.has(dest)) {
        if (options.initialSync) {
          // Upstream updates the endpoint being synced once per destination whose weight differs.
          for (const other of curDests) {
            if (other.weight === rs.weight) continue
            const m = draft.edit(key) as MutableVs
            const index = m.realServers.findIndex((r) => destKey(r) === dest)
            if (index >= 0) m.realServers[index] = { ...m.realServers[index], weight: rs.weight }
            ops.push({ op: "updateRealServer", key, dest, weight: rs.weight })
          }
        }
        const unique = `${key}/${dest}`
        if (!graceful.has(unique)) continue
        // MoveRSOutofGracefulDeleteList deletes it; it is then added again with weight 1.
        graceful.delete(unique)
        // (The kernel parks a deleted destination that still has connections on its trash list and
        // revives it on re-add, ip_vs_ctl.c `ip_vs_trash_get_dest`; counts here restart at 0.)
        const m = draft.edit(key) as MutableVs
        const index = m.realServers.findIndex((r) => destKey(r) === dest)
        if (index >= 0) m.realServers.splice(index, 1)
        ops.push({ op: "deleteRealServer", key, dest })
      }
      const m = draft.edit(key) as MutableVs
      m.realServers.unshift({
        address: rs.address,
        port: rs.port,
        weight: rs.weight,
        activeConns: 0,
        inactiveConns: 0,
      })
      ops.push({ op: "addRealServer", key, dest, weight: rs.weight })
    }
    for (const dest of cur) {
      if (next.has(dest) || graceful.has(`${key}/${dest}`)) continue
      gracefulDelete(draft, key, dest, ops, counts)
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
    draft.delete(key)
    ops.push({ op: "deleteVirtualServer", key })
  }
  return draft.freeze(ops)
}

/**
 * Plans shared between the nodes of a cluster: a plan depends on the current state, the desired
 * virtual servers and kube-ipvs0 addresses, `initialSync` and excludeCIDRs, and on the kernel's
 * connection counts only when it reads them (`countsRead`). Nodes in the same state syncing the
 * same desired servers (the shared compile gives them the same arrays) get the same plan and so the
 * same next state object; a plan that read counts is the node's own. Wall time and memory only.
 */
export class IpvsPlanMemo {
  private readonly byState = new WeakMap<
    IpvsNodeState,
    Map<readonly unknown[], { dummy: readonly string[]; initialSync: boolean; plan: IpvsSyncPlan }[]>
  >()
  private readonly excludeCIDRs: readonly string[] | undefined
  /** Plans computed, and plans taken from another node's identical sync. */
  plansMade = 0
  plansShared = 0

  constructor(excludeCIDRs: readonly string[] | undefined) {
    this.excludeCIDRs = excludeCIDRs
  }

  plan(
    current: IpvsNodeState,
    desired: Pick<IpvsCompileResult, "virtualServers" | "dummyAddresses">,
    options: IpvsSyncOptions,
  ): IpvsSyncPlan {
    if (options.excludeCIDRs !== this.excludeCIDRs) return planIpvsSync(current, desired, options)
    let byDesired = this.byState.get(current)
    const entries = byDesired?.get(desired.virtualServers)
    if (entries !== undefined)
      for (const e of entries)
        if (e.dummy === desired.dummyAddresses && e.initialSync === options.initialSync) {
          this.plansShared++
          return e.plan
        }
    this.plansMade++
    const plan = planIpvsSync(current, desired, options)
    if (plan.countsRead === true) return plan
    if (byDesired === undefined) {
      byDesired = new Map()
      this.byState.set(current, byDesired)
    }
    let list = byDesired.get(desired.virtualServers)
    if (list === undefined) {
      list = []
      byDesired.set(desired.virtualServers, list)
    }
    list.push({ dummy: desired.dummyAddresses, initialSync: options.initialSync, plan })
    return plan
  }
}

/**
 * GracefulTerminationManager.tryDeleteRs (every minute): delete each listed destination whose
 * connections have drained (or whose protocol needs no draining). Entries whose virtual server is
 * gone stay listed, as upstream's GetRealServers error leaves them.
 */
export function sweepGracefulDeletes(current: IpvsNodeState, counts?: IpvsConnectionCounts): IpvsSyncPlan {
  const draft = new Draft(current)
  const { vss, graceful } = draft
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
    if (gracefulTerminationNeeded(vs.protocol) && connectionsOf(draft, counts, key, rs) !== 0) continue
    const m = draft.edit(key) as MutableVs
    m.realServers.splice(index, 1)
    graceful.delete(unique)
    ops.push({ op: "deleteRealServer", key, dest })
  }
  return draft.freeze(ops)
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

/**
 * planIpsetSync from the set contents the previous sync applied (`current`, compile.ts
 * IpsetContents in any order) instead of per-node copies of every entry: a set whose contents
 * are the same object as before (nodes share them, proxy/ipvs/shared.ts) needs no entry
 * operation; the others are compared entry by entry as planIpsetSync does. Same operations.
 */
export function planIpsetSyncFrom(
  current: readonly { readonly info: { readonly name: string }; readonly entries: readonly string[] }[],
  desired: readonly { readonly info: { readonly name: string }; readonly entries: readonly string[] }[],
): readonly IpsetOperation[] {
  const operations: IpsetOperation[] = []
  for (const set of desired) operations.push({ op: "create", set: set.info.name })
  const before = new Map<string, readonly string[]>()
  for (const set of current) before.set(set.info.name, set.entries)
  for (const set of desired) {
    const name = set.info.name
    operations.push({ op: "list", set: name })
    const appliedEntries = before.get(name) ?? NO_ENTRIES
    if (appliedEntries === set.entries) continue
    for (const op of entryOperations(name, appliedEntries, set.entries)) operations.push(op)
  }
  return operations
}

const NO_ENTRIES: readonly string[] = []

/**
 * The del/add operations taking a set from `applied` to `wanted` (planIpsetSync's order), once per
 * pair of entry arrays: nodes moving between the same shared contents share the list.
 */
const entryOperationsMemo = new WeakMap<
  readonly string[],
  WeakMap<readonly string[], { readonly name: string; readonly ops: readonly IpsetOperation[] }>
>()

function entryOperations(
  name: string,
  appliedEntries: readonly string[],
  wanted: readonly string[],
): readonly IpsetOperation[] {
  let byWanted = entryOperationsMemo.get(appliedEntries)
  const memo = byWanted?.get(wanted)
  if (memo !== undefined && memo.name === name) return memo.ops
  const ops: IpsetOperation[] = []
  const applied = new Set(appliedEntries)
  const active = new Set(wanted)
  for (const entry of [...applied].sort()) if (!active.has(entry)) ops.push({ op: "del", set: name, entry })
  for (const entry of wanted) if (!applied.has(entry)) ops.push({ op: "add", set: name, entry })
  if (byWanted === undefined) {
    byWanted = new WeakMap()
    entryOperationsMemo.set(appliedEntries, byWanted)
  }
  byWanted.set(wanted, { name, ops })
  return ops
}
