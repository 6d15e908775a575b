/**
 * IPVS schedulers, transcribed from net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sh,dh,mh}.c.
 *
 * A service's destination list (`svc->destinations`) is a plain array of dest ids in list order:
 * index 0 is the first entry after the list head. __ip_vs_update_dest adds a new dest with
 * `list_add_rcu` (head insertion), so the most recently added dest is at index 0. Positions the
 * kernel keeps as list pointers (rr's `sched_data`, wrr's `mark->cl`) are kept as dest ids, -1 for
 * the list head itself, exactly so that they survive insertions before them as the pointers do.
 *
 * One `SchedState` per service; no closures, a switch on the kind per packet.
 */
import { assert } from "../../sim/assert.ts"
import { DEST_F_AVAILABLE, DEST_F_OVERLOAD, type DestColumns, type DestCounts } from "./dest.ts"
import { hsiphashKey, hsiphashU32 } from "./siphash.ts"

export const Scheduler = { RR: 0, WRR: 1, LC: 2, WLC: 3, SH: 4, DH: 5, MH: 6 } as const
export type Scheduler = (typeof Scheduler)[keyof typeof Scheduler]
export const SCHEDULER_NAMES = ["rr", "wrr", "lc", "wlc", "sh", "dh", "mh"] as const
export type SchedulerName = (typeof SCHEDULER_NAMES)[number]

export function schedulerByName(name: string): Scheduler | undefined {
  const i = (SCHEDULER_NAMES as readonly string[]).indexOf(name)
  return i < 0 ? undefined : (i as Scheduler)
}

/** Service flags (include/uapi/linux/ip_vs.h): IP_VS_SVC_F_*. */
export const SvcFlag = {
  PERSISTENT: 0x1,
  HASHED: 0x2,
  ONEPACKET: 0x4,
  /** IP_VS_SVC_F_SCHED1: sh-fallback / mh-fallback. */
  SCHED1: 0x8,
  /** IP_VS_SVC_F_SCHED2: sh-port / mh-port (kube-proxy's FlagSourceHash for mh). */
  SCHED2: 0x10,
  SCHED3: 0x20,
} as const

/** IP_VS_SH_TAB_BITS / IP_VS_DH_TAB_BITS (CONFIG_IP_VS_{SH,DH}_TAB_BITS default 8). */
export const SH_TAB_BITS = 8
export const SH_TAB_SIZE = 1 << SH_TAB_BITS
export const DH_TAB_SIZE = 256

/** ip_vs_mh.c `primes[]`; the table size is primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]. */
export const MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const
/** Kconfig IP_VS_MH_TAB_INDEX: range 8..17, default 12 => table size 4093. */
export const MH_TAB_INDEX_DEFAULT = 12

// generate_hash_secret() in ip_vs_mh.c: fixed keys, so every kernel builds the same table.
const MH_HASH1 = hsiphashKey(2654435761n, 2654435761n)
const MH_HASH2 = hsiphashKey(2654446892n, 2654446892n)

/** GOLDEN_RATIO_32 in include/linux/hash.h (hash_32 since Linux 4.7). */
const GOLDEN_RATIO_32 = 0x61c88647

/** hash_32(val, bits) = (val * GOLDEN_RATIO_32) >> (32 - bits), all in u32 arithmetic. */
export function hash32(value: number, bits: number): number {
  return Math.imul(value >>> 0, GOLDEN_RATIO_32) >>> (32 - bits)
}

/** ip_vs_sh_hashkey (IPv4): (offset + hash_32(ntohs(port) + ntohl(addr), 8)) & 255. */
export function shHashKey(addr: number, port: number, offset: number): number {
  return (offset + hash32((port + addr) >>> 0, SH_TAB_BITS)) & (SH_TAB_SIZE - 1)
}

/** ip_vs_dh_hashkey (IPv4): (ntohl(addr) * 2654435761UL) & 255; only the low 8 bits matter. */
export function dhHashKey(addr: number): number {
  return Math.imul(addr >>> 0, 2654435761 | 0) & (DH_TAB_SIZE - 1)
}

/** ip_vs_mh_hashkey (IPv4): hsiphash(u32 offset + ntohs(port) + ntohl(addr), key). */
export function mhHashKey(addr: number, port: number, second: boolean, offset = 0): number {
  return hsiphashU32((offset + port + addr) >>> 0, second ? MH_HASH2 : MH_HASH1)
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b
    a = b
    b = t
  }
  return a
}

/** fls(): position of the most significant set bit, 1-based; fls(0) = 0. */
function fls(x: number): number {
  return x === 0 ? 0 : 32 - Math.clz32(x)
}

/** The table of schedulers that have none (never written: sh/dh/mh have a table of their own). */
const NO_TABLE = new Int32Array(0)

export class SchedState {
  // Read per scheduling: `declare`d and assigned in the constructor rather than declared without a
  // value, which defines them as undefined first, so V8 tracks them as any value (see
  // sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare readonly kind: Scheduler
  /**
   * One object shared by every service (on every node) whose state is still the initial one of a
   * scheduler that no dest change writes (rr, lc, wlc: see initialSchedState). A caller about to
   * schedule with it takes its own first.
   */
  shared = false
  /** rr: `svc->sched_data` (dest id of the last pick, -1 = list head). */
  rrLast = -1
  /** wrr: `struct ip_vs_wrr_mark`. */
  wrrCl = -1
  wrrCw = 0
  wrrMw = 0
  wrrDi = 1
  /** sh/dh bucket table or mh lookup table: dest ids, -1 = NULL. */
  declare table: Int32Array
  declare readonly mhSize: number
  mhGcd = 0
  mhRshift = 0

  declare readonly mhTabIndex: number

  constructor(kind: Scheduler, mhTabIndex = MH_TAB_INDEX_DEFAULT, table?: Int32Array) {
    assert(mhTabIndex >= 8 && mhTabIndex <= 17, `mh table index ${mhTabIndex} outside Kconfig range 8..17`)
    this.kind = kind
    this.mhTabIndex = mhTabIndex
    this.mhSize = MH_PRIMES[mhTabIndex - 8]
    // Schedulers without a table (rr, wrr, lc, ...) share one empty array: a service costs no
    // buffer of its own on every node that programs it.
    const size = tableSize(kind, this.mhSize)
    this.table = table ?? (size === 0 ? NO_TABLE : internTable(`none/${size}`, size, (t) => t.fill(-1)))
    this.mhTabBits = mhTabIndex >> 1
  }
  /** IP_VS_MH_TAB_BITS = CONFIG_IP_VS_MH_TAB_INDEX / 2. */
  declare readonly mhTabBits: number

  /**
   * This state for a node that takes its own copy of shared kernel tables (Ipvs.ownTables): a
   * shared initial state stays shared (its users take their own before writing it); otherwise the
   * fields are copied and the sh/dh/mh table (immutable: a reassignment replaces it) is shared.
   */
  clone(): SchedState {
    if (this.shared) return this
    return this.copy()
  }

  /** A copy of this state that is the caller's own (not `shared`), its table shared. */
  copy(): SchedState {
    const c = new SchedState(this.kind, this.mhTabIndex, this.table)
    c.rrLast = this.rrLast
    c.wrrCl = this.wrrCl
    c.wrrCw = this.wrrCw
    c.wrrMw = this.wrrMw
    c.wrrDi = this.wrrDi
    c.mhGcd = this.mhGcd
    c.mhRshift = this.mhRshift
    return c
  }
}

/**
 * sh, dh and mh tables by what they are computed from (issue 10): the dest ids in list order with
 * the fields the reassignment reads (weights; mh: address, port, last weight, gcd and shift).
 * Services whose lists and weights are equal (on one node or on many: equal histories give equal
 * dest ids) hold one immutable table, built once. Weak: an unused table is collected and its key
 * dropped.
 */
const tables = new Map<string, WeakRef<Int32Array>>()
const tableKeys = new FinalizationRegistry<string>((key) => {
  if (tables.get(key)?.deref() === undefined) tables.delete(key)
})
/** Tables built and found (a test's and benchmark's view of the sharing). */
export const schedTableSharing = { built: 0, reused: 0 }

function internTable(key: string, size: number, build: (table: Int32Array) => void): Int32Array {
  const known = tables.get(key)?.deref()
  if (known !== undefined) {
    schedTableSharing.reused++
    return known
  }
  const table = new Int32Array(size)
  build(table)
  tables.set(key, new WeakRef(table))
  tableKeys.register(table, key)
  schedTableSharing.built++
  return table
}

function tableSize(kind: Scheduler, mhSize: number): number {
  return kind === Scheduler.SH ? SH_TAB_SIZE : kind === Scheduler.DH ? DH_TAB_SIZE : kind === Scheduler.MH ? mhSize : 0
}

/**
 * The scheduler writes its state when it schedules (rr's position, wrr's mark): a node keeps its
 * own copy per service (Ipvs.schedFor). The others only read at schedule time (lc and wlc have no
 * state; sh, dh and mh read their lookup table), so nodes use the tables' state itself.
 */
export function schedulesInPlace(kind: Scheduler): boolean {
  return kind === Scheduler.RR || kind === Scheduler.WRR
}

/** The shared initial states, by scheduler and table index. */
const initialStates = new Map<string, SchedState>()

/**
 * A new service's scheduler state. rr, lc and wlc keep nothing that init_service, add_dest,
 * upd_dest or del_dest write while the state is the initial one (rr's del_dest moves its position
 * only when it is the removed dest; the initial position is the list head): their services share
 * one initial object until their first schedule (Ipvs takes its own then), so a node holds no
 * scheduler state for a service it never scheduled a connection of. wrr, sh, dh and mh compute
 * from the dest list at every change: their own object at once.
 */
export function initialSchedState(kind: Scheduler, mhTabIndex = MH_TAB_INDEX_DEFAULT): SchedState {
  if (kind !== Scheduler.RR && kind !== Scheduler.LC && kind !== Scheduler.WLC) return new SchedState(kind, mhTabIndex)
  const key = `${kind}/${mhTabIndex}`
  let state = initialStates.get(key)
  if (state === undefined) {
    state = new SchedState(kind, mhTabIndex)
    state.shared = true
    initialStates.set(key, state)
  }
  return state
}

/** The shared initial states are as created (rr's position at the list head): a test's guard. */
export function initialSchedStatesIntact(): boolean {
  for (const state of initialStates.values()) if (state.rrLast !== -1) return false
  return true
}

function isUnavailable(d: DestColumns, id: number): boolean {
  return d.weight[id] <= 0 || (d.flags[id] & DEST_F_OVERLOAD) !== 0
}

// ---- init / dest-change callbacks (ip_vs_scheduler hooks) ----

/** init_service. */
export function schedInit(s: SchedState, list: readonly number[], d: DestColumns): void {
  switch (s.kind) {
    case Scheduler.RR:
      s.rrLast = -1 // ip_vs_rr_init_svc: sched_data = &svc->destinations
      return
    case Scheduler.WRR:
      s.wrrCl = -1
      s.wrrDi = wrrGcdWeight(list, d)
      s.wrrMw = wrrMaxWeight(list, d) - (s.wrrDi - 1)
      s.wrrCw = s.wrrMw
      return
    case Scheduler.SH:
      shReassign(s, list, d)
      return
    case Scheduler.DH:
      dhReassign(s, list)
      return
    case Scheduler.MH:
      mhDestChanged(s, list, d)
      return
    default:
      return
  }
}

/** add_dest (the dest is already at list index 0). */
export function schedAddDest(s: SchedState, list: readonly number[], d: DestColumns): void {
  switch (s.kind) {
    case Scheduler.WRR:
      wrrDestChanged(s, list, d)
      return
    case Scheduler.SH:
      shReassign(s, list, d)
      return
    case Scheduler.DH:
      dhReassign(s, list)
      return
    case Scheduler.MH:
      mhDestChanged(s, list, d)
      return
    default:
      return // rr: .add_dest = NULL; lc/wlc have no state
  }
}

/**
 * del_dest, called after list_del_rcu. `prevId` is the dest that preceded the removed one in the
 * list (-1 = head): ip_vs_rr_del_dest moves `sched_data` there via `p->next->prev`.
 */
export function schedDelDest(
  s: SchedState,
  list: readonly number[],
  d: DestColumns,
  removed: number,
  prevId: number,
): void {
  switch (s.kind) {
    case Scheduler.RR:
      if (s.rrLast === removed) s.rrLast = prevId
      return
    case Scheduler.WRR:
      wrrDestChanged(s, list, d)
      return
    case Scheduler.SH:
      shReassign(s, list, d)
      return
    case Scheduler.DH:
      dhReassign(s, list)
      return
    case Scheduler.MH:
      mhDestChanged(s, list, d)
      return
    default:
      return
  }
}

/** upd_dest (weight edit). dh has no upd_dest: its table ignores weights. */
export function schedUpdDest(s: SchedState, list: readonly number[], d: DestColumns): void {
  switch (s.kind) {
    case Scheduler.WRR:
      wrrDestChanged(s, list, d)
      return
    case Scheduler.SH:
      shReassign(s, list, d)
      return
    case Scheduler.MH:
      mhDestChanged(s, list, d)
      return
    default:
      return
  }
}

// ---- schedule ----

/**
 * sched->schedule(): the dest for a new connection, or -1 ("no destination available").
 * saddr/sport: the client's address/port; daddr: the packet's destination (the VIP).
 */
export function schedule(
  s: SchedState,
  list: readonly number[],
  d: DestColumns,
  counts: DestCounts,
  svcFlags: number,
  saddr: number,
  sport: number,
  daddr: number,
): number {
  switch (s.kind) {
    case Scheduler.RR:
      return rrSchedule(s, list, d)
    case Scheduler.WRR:
      return wrrSchedule(s, list, d)
    case Scheduler.LC:
      return lcSchedule(list, d, counts)
    case Scheduler.WLC:
      return wlcSchedule(list, d, counts)
    case Scheduler.SH:
      return shSchedule(s, d, svcFlags, saddr, sport)
    case Scheduler.DH:
      return dhSchedule(s, d, daddr)
    case Scheduler.MH:
      return mhSchedule(s, d, svcFlags, saddr, sport)
    default:
      return -1
  }
}

/**
 * ip_vs_rr_schedule: continue after the last pick, circularly, to the first dest that has weight > 0
 * and is not overloaded; the scan covers every dest once (ending with the last pick itself).
 */
function rrSchedule(s: SchedState, list: readonly number[], d: DestColumns): number {
  const n = list.length
  if (n === 0) return -1
  const lastIdx = s.rrLast < 0 ? -1 : list.indexOf(s.rrLast)
  for (let k = 0; k < n; k++) {
    const id = list[(lastIdx + 1 + k) % n]
    if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] > 0) {
      s.rrLast = id
      return id
    }
  }
  return -1
}

function wrrGcdWeight(list: readonly number[], d: DestColumns): number {
  let g = 0
  for (const id of list) {
    const w = d.weight[id]
    if (w > 0) g = g > 0 ? gcd(w, g) : w
  }
  return g > 0 ? g : 1
}

function wrrMaxWeight(list: readonly number[], d: DestColumns): number {
  let m = 0
  for (const id of list) if (d.weight[id] > m) m = d.weight[id]
  return m
}

/** ip_vs_wrr_dest_changed. */
function wrrDestChanged(s: SchedState, list: readonly number[], d: DestColumns): void {
  s.wrrCl = -1
  s.wrrDi = wrrGcdWeight(list, d)
  s.wrrMw = wrrMaxWeight(list, d) - (s.wrrDi - 1)
  if (s.wrrCw > s.wrrMw || s.wrrCw === 0) s.wrrCw = s.wrrMw
  else if (s.wrrDi > 1) s.wrrCw = Math.trunc(s.wrrCw / s.wrrDi) * s.wrrDi + 1
}

/**
 * ip_vs_wrr_schedule: passes over the list with a decreasing required weight `cw` (step `di`, the
 * gcd), restarting at `mw` (max weight - (di - 1)); the first dest with weight >= cw wins.
 */
function wrrSchedule(s: SchedState, list: readonly number[], d: DestColumns): number {
  const n = list.length
  let pos = s.wrrCl < 0 ? -1 : list.indexOf(s.wrrCl)
  if (s.wrrMw === 0) return -1 // err_noavail: cl unchanged
  const lastPos = pos
  let stopPos = -2 // none
  let lastPass = false
  let restarted = false
  for (;;) {
    // list_for_each_entry_continue_rcu from pos to the end of the list
    for (pos = pos + 1; pos < n; pos++) {
      const id = list[pos]
      if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] >= s.wrrCw) {
        s.wrrCl = id
        return id
      }
      if (pos === stopPos) {
        s.wrrCl = id
        return -1 // err_over
      }
    }
    pos = -1 // at the list head
    s.wrrCw -= s.wrrDi
    if (s.wrrCw <= 0) {
      s.wrrCw = s.wrrMw
      if (lastPass || lastPos === -1) {
        s.wrrCl = -1
        return -1 // err_over
      }
      restarted = true
    }
    lastPass = s.wrrCw <= s.wrrDi
    if (lastPass && restarted && lastPos !== -1) stopPos = lastPos
  }
}

/** ip_vs_lc_schedule: least overhead among weight > 0, not overloaded; the first wins ties. */
function lcSchedule(list: readonly number[], d: DestColumns, counts: DestCounts): number {
  let least = -1
  let loh = 0
  for (const id of list) {
    if ((d.flags[id] & DEST_F_OVERLOAD) !== 0 || d.weight[id] === 0) continue
    const doh = counts.overhead(id)
    if (least < 0 || doh < loh) {
      least = id
      loh = doh
    }
  }
  return least
}

/**
 * ip_vs_wlc_schedule: the first available dest (weight > 0, not overloaded) seeds `least`; each
 * later non-overloaded dest replaces it when loh * w(dest) > doh * w(least) (no division in the
 * kernel). The second stage skips only overloaded dests, as the kernel does; a weight-0 dest then
 * never wins because loh * 0 > doh * w is false for non-negative overheads.
 */
function wlcSchedule(list: readonly number[], d: DestColumns, counts: DestCounts): number {
  let i = 0
  let least = -1
  let loh = 0
  for (; i < list.length; i++) {
    const id = list[i]
    if ((d.flags[id] & DEST_F_OVERLOAD) === 0 && d.weight[id] > 0) {
      least = id
      loh = counts.overhead(id)
      break
    }
  }
  if (least < 0) return -1
  for (i = i + 1; i < list.length; i++) {
    const id = list[i]
    if ((d.flags[id] & DEST_F_OVERLOAD) !== 0) continue
    const doh = counts.overhead(id)
    if (loh * d.weight[id] > doh * d.weight[least]) {
      least = id
      loh = doh
    }
  }
  return least
}

/**
 * ip_vs_sh_reassign: walk the list circularly, giving each dest `weight` consecutive buckets (a
 * weight-0 dest still gets one: `++d_count >= weight` holds at once).
 */
function shReassign(s: SchedState, list: readonly number[], d: DestColumns): void {
  let key = "sh"
  for (const id of list) key += `/${id}:${d.weight[id]}`
  s.table = internTable(key, SH_TAB_SIZE, (table) => shFill(table, list, d))
}

function shFill(table: Int32Array, list: readonly number[], d: DestColumns): void {
  const n = list.length
  let p = 0
  let count = 0
  for (let i = 0; i < SH_TAB_SIZE; i++) {
    if (n === 0) {
      table[i] = -1
      continue
    }
    const id = list[p]
    table[i] = id
    if (++count >= d.weight[id]) {
      p = (p + 1) % n
      count = 0
    }
  }
}

/** ip_vs_sh_schedule (+ ip_vs_sh_get / ip_vs_sh_get_fallback). */
function shSchedule(s: SchedState, d: DestColumns, svcFlags: number, saddr: number, sport: number): number {
  const port = (svcFlags & SvcFlag.SCHED2) !== 0 ? sport : 0
  const ihash = shHashKey(saddr, port, 0)
  let id = s.table[ihash]
  if ((svcFlags & SvcFlag.SCHED1) === 0) {
    return id < 0 || isUnavailable(d, id) ? -1 : id
  }
  if (id < 0) return -1
  if (!isUnavailable(d, id)) return id
  for (let offset = 0; offset < SH_TAB_SIZE; offset++) {
    const roffset = (offset + ihash) % SH_TAB_SIZE
    id = s.table[shHashKey(saddr, port, roffset)]
    if (id < 0) break
    if (!isUnavailable(d, id)) return id
  }
  return -1
}

/** ip_vs_dh_reassign: one bucket per dest in list order, cycling. */
function dhReassign(s: SchedState, list: readonly number[]): void {
  const n = list.length
  s.table = internTable(`dh/${list.join("/")}`, DH_TAB_SIZE, (table) => {
    for (let i = 0; i < DH_TAB_SIZE; i++) table[i] = n === 0 ? -1 : list[i % n]
  })
}

/** ip_vs_dh_schedule: bucket of the destination address; NULL unless available with weight > 0. */
function dhSchedule(s: SchedState, d: DestColumns, daddr: number): number {
  const id = s.table[dhHashKey(daddr)]
  if (id < 0 || (d.flags[id] & DEST_F_AVAILABLE) === 0 || d.weight[id] <= 0 || (d.flags[id] & DEST_F_OVERLOAD) !== 0) {
    return -1
  }
  return id
}

/** ip_vs_mh_dest_changed: gcd and shift of last_weight, then permutate + populate. */
function mhDestChanged(s: SchedState, list: readonly number[], d: DestColumns): void {
  let g = 0
  let maxW = 0
  for (const id of list) {
    const w = d.lastWeight[id]
    if (w > 0) g = g > 0 ? gcd(w, g) : w
    if (w > maxW) maxW = w
  }
  s.mhGcd = g
  // ip_vs_mh_shift_weight: shift = fls(max/gcd) - IP_VS_MH_TAB_BITS, at least 0
  s.mhRshift = g < 1 ? 0 : Math.max(0, fls(Math.trunc(maxW / g)) - s.mhTabBits)
  mhReassign(s, list, d)
}

/** ip_vs_mh_permutate + ip_vs_mh_populate. */
function mhReassign(s: SchedState, list: readonly number[], d: DestColumns): void {
  const M = s.mhSize
  if (s.mhGcd < 1) {
    s.table = internTable(`none/${M}`, M, (t) => t.fill(-1)) // ip_vs_mh_reset
    return
  }
  let key = `mh${M}/${s.mhGcd}/${s.mhRshift}`
  for (const id of list) key += `/${id}:${d.addr[id]}:${d.port[id]}:${d.lastWeight[id]}`
  s.table = internTable(key, M, (table) => mhPopulate(s, table, list, d))
}

/** ip_vs_mh_permutate + ip_vs_mh_populate into `table`. */
function mhPopulate(s: SchedState, table: Int32Array, list: readonly number[], d: DestColumns): void {
  const M = s.mhSize
  const n = list.length
  const offset = new Int32Array(n)
  const skip = new Int32Array(n)
  const perm = new Int32Array(n)
  const turns = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const id = list[i]
    offset[i] = mhHashKey(d.addr[id], d.port[id], false) % M
    skip[i] = (mhHashKey(d.addr[id], d.port[id], true) % (M - 1)) + 1
    perm[i] = offset[i]
    const lw = d.lastWeight[id]
    const t = Math.trunc(lw / s.mhGcd) >> s.mhRshift
    turns[i] = t !== 0 ? t : lw !== 0 ? 1 : 0
  }
  const taken = new Uint8Array(M)
  let filled = 0
  let dtCount = 0
  while (filled < M) {
    let i = 0
    while (i < n) {
      if (turns[i] < 1) {
        i++ // "Ignore added server with zero weight"
        continue
      }
      let c = perm[i]
      while (taken[c] !== 0) {
        perm[i] += skip[i]
        if (perm[i] >= M) perm[i] -= M
        c = perm[i]
      }
      taken[c] = 1
      table[c] = list[i]
      if (++filled === M) return
      if (++dtCount >= turns[i]) {
        dtCount = 0
        i++
      }
    }
  }
}

/** ip_vs_mh_schedule (+ ip_vs_mh_get / ip_vs_mh_get_fallback). */
function mhSchedule(s: SchedState, d: DestColumns, svcFlags: number, saddr: number, sport: number): number {
  const M = s.mhSize
  const port = (svcFlags & SvcFlag.SCHED2) !== 0 ? sport : 0
  const ihash = mhHashKey(saddr, port, false) % M
  let id = s.table[ihash]
  if ((svcFlags & SvcFlag.SCHED1) === 0) {
    return id < 0 || isUnavailable(d, id) ? -1 : id
  }
  if (id < 0) return -1
  if (!isUnavailable(d, id)) return id
  for (let offset = 0; offset < M; offset++) {
    const roffset = (offset + ihash) % M
    id = s.table[mhHashKey(saddr, port, false, roffset) % M]
    if (id < 0) break
    if (!isUnavailable(d, id)) return id
  }
  return -1
}
