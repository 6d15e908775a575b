/**
 * IPVS real servers ("destinations", struct ip_vs_dest in include/net/ip_vs.h): the definitions as
 * typed-array columns indexed by integer dest ids (`DestColumns`), and a node's traffic state of
 * them (`DestCounts`).
 *
 * Memory (issue 10: a node's kernel holds every Service's dests, most of which never carry a
 * connection on that node):
 * - Definition columns (address, port, weight, flags, owning service, thresholds) belong to the
 *   kernel tables, which nodes in the same control-plane state share (Ipvs.ownTables copies them
 *   before a control-plane write). Packets never write them, except the OVERLOAD flag, which only
 *   a threshold (`ipvsadm -x/-y`, a control-plane write: the node's own tables) can set.
 * - Connection counts, references and statistics (ActiveConn, InActConn, persistent, refcnt,
 *   ipvsadm --stats) are the node's own and sparse (`DestCounts`): a dest gets a slot on the first
 *   connection the node binds to it, keyed by its id; a dest without a slot reads all zeros.
 */
import { assert } from "../../sim/assert.ts"

/** IP_VS_DEST_F_AVAILABLE: set while the dest is linked to its service (__ip_vs_update_dest). */
export const DEST_F_AVAILABLE = 0x1
/** IP_VS_DEST_F_OVERLOAD: set by the upper connection threshold (u_threshold). */
export const DEST_F_OVERLOAD = 0x2

/** A dest's statistics words in `DestCounts.stats` (offsets from its slot's base). */
export const STAT_CONNS = 0
export const STAT_IN_PKTS = 1
export const STAT_OUT_PKTS = 2
export const STAT_IN_BYTES = 3
export const STAT_OUT_BYTES = 4
export const STAT_WORDS = 5

/** Shared zero threshold columns by capacity (never written: see DestColumns.ownThresholds). */
const zeroI32 = new Map<number, Int32Array>()

function zerosI32(capacity: number): Int32Array {
  let a = zeroI32.get(capacity)
  if (a === undefined) zeroI32.set(capacity, (a = new Int32Array(capacity)))
  return a
}

/** The shared zero columns are still all zero (a test's guard against a write before owning). */
export function sharedZeroStateIntact(): boolean {
  for (const a of zeroI32.values()) if (a.some((v) => v !== 0)) return false
  return true
}

/**
 * A virtual service's ip_vs_stats on one node (and, for rr and wrr, the node's scheduler position:
 * Ipvs.schedFor), created when the node binds its first connection to one of the service's dests.
 */
export class ServiceCounts {
  conns = 0
  inPkts = 0
  outPkts = 0
  inBytes = 0
  outBytes = 0
}

/**
 * One node's connection counts, references and statistics of dests, sparse: a slot per dest that
 * a connection of the node has bound (ip_vs_bind_dest), found by dest id (`slotOf`, once per new
 * connection: the connection keeps its slot) and kept while the dest exists (its statistics are
 * printed after its connections are gone, and a dest revived from the trash keeps them, as
 * ip_vs_trash_get_dest does). `release` frees the slot with the dest. Columns are indexed by slot.
 */
export class DestCounts {
  private readonly slots = new Map<number, number>()
  private readonly freeSlots: number[] = []
  private next = 0
  private capacity = 0
  /** The dest id of each slot (-1: free). */
  destOf: Int32Array = new Int32Array(0)
  activeConns: Int32Array = new Int32Array(0)
  inactConns: Int32Array = new Int32Array(0)
  persistConns: Int32Array = new Int32Array(0)
  /** Connections (incl. templates) still pointing at the dest. */
  refs: Int32Array = new Int32Array(0)
  /** ip_vs_stats counters, STAT_WORDS per slot (Float64 so they never wrap in a long run). */
  stats: Float64Array = new Float64Array(0)
  /** The owning virtual service's counters on this node, by slot. */
  service: (ServiceCounts | null)[] = []

  /** Slots in use (a test's and benchmark's view of what the node holds). */
  get size(): number {
    return this.slots.size
  }

  /** Dest `id`'s slot, or -1 (no connection of this node ever bound it: all zero). */
  slotOf(id: number): number {
    return this.slots.get(id) ?? -1
  }

  /** Dest `id`'s slot, a zeroed one on its first use; `service` is its virtual service's counters. */
  slotFor(id: number, service: ServiceCounts): number {
    const known = this.slots.get(id)
    if (known !== undefined) return known
    let s = this.freeSlots.pop()
    if (s === undefined) {
      if (this.next === this.capacity) this.grow()
      s = this.next++
    }
    this.destOf[s] = id
    this.activeConns[s] = 0
    this.inactConns[s] = 0
    this.persistConns[s] = 0
    this.refs[s] = 0
    this.stats.fill(0, s * STAT_WORDS, (s + 1) * STAT_WORDS)
    this.service[s] = service
    this.slots.set(id, s)
    return s
  }

  /** The dest was freed: its slot (if any) with it. */
  release(id: number): void {
    const s = this.slots.get(id)
    if (s === undefined) return
    assert(this.refs[s] === 0, `dest ${id} released with references`)
    this.slots.delete(id)
    this.destOf[s] = -1
    this.service[s] = null
    this.freeSlots.push(s)
  }

  active(id: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.activeConns[s]
  }
  inactive(id: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.inactConns[s]
  }
  persistent(id: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.persistConns[s]
  }
  references(id: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.refs[s]
  }

  /** Statistic `word` (STAT_*) of dest `id` (0 before its first count). */
  stat(id: number, word: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.stats[s * STAT_WORDS + word]
  }

  /**
   * ip_vs_dest_conn_overhead (include/net/ip_vs.h): `(activeconns << 8) + inactconns`. The comment in
   * ip_vs_lc.c still says `<< 5`; the code calls this helper, so 256 is what the kernel uses.
   */
  overhead(id: number): number {
    const s = this.slotOf(id)
    return s < 0 ? 0 : this.activeConns[s] * 256 + this.inactConns[s]
  }

  /** Test helper: set dest `id`'s active and inactive counts (a slot without a service). */
  setCounts(id: number, active: number, inactive: number): void {
    const s = this.slotFor(id, new ServiceCounts())
    this.activeConns[s] = active
    this.inactConns[s] = inactive
  }

  private grow(): void {
    const n = Math.max(8, this.capacity * 2)
    const gi = (a: Int32Array, fill = 0): Int32Array => {
      const b = new Int32Array(n).fill(fill)
      b.set(a)
      return b
    }
    this.destOf = gi(this.destOf, -1)
    this.activeConns = gi(this.activeConns)
    this.inactConns = gi(this.inactConns)
    this.persistConns = gi(this.persistConns)
    this.refs = gi(this.refs)
    const stats = new Float64Array(n * STAT_WORDS)
    stats.set(this.stats)
    this.stats = stats
    this.capacity = n
  }
}

/**
 * The dest definitions of one kernel table state, by dest id. Shared by the nodes holding the same
 * tables (Ipvs.ownTables / cloneDefinitions copy before a control-plane write).
 */
export class DestColumns {
  // Read per packet: `declare`d and assigned in the constructor rather than declared without a
  // value, which defines them as undefined first, so V8 tracks them as any value (see
  // sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare capacity: number
  declare addr: Uint32Array
  declare port: Uint16Array
  /** Current weight; 0 = quiesced (no new connections, existing ones continue). */
  declare weight: Int32Array
  /** dest->last_weight: the latest non-zero weight (ip_vs_ctl.c __ip_vs_update_dest), used by mh. */
  declare lastWeight: Int32Array
  declare flags: Uint8Array
  /** u_threshold / l_threshold (0 = none), as `ipvsadm -x/-y`. */
  declare upperThreshold: Int32Array
  declare lowerThreshold: Int32Array
  /** Owning service id, or -1 once freed. */
  declare service: Int32Array
  thresholdsOwned = false
  /**
   * addr, port, weight, lastWeight and service are another DestColumns' too (cloneDefinitions):
   * only the control plane writes them, and it takes its own copies first (ownDefinitions).
   */
  definitionsShared = false
  private freeList: number[] = []
  private next = 0

  constructor(capacity = 64) {
    this.capacity = capacity
    this.addr = new Uint32Array(capacity)
    this.port = new Uint16Array(capacity)
    this.weight = new Int32Array(capacity)
    this.lastWeight = new Int32Array(capacity)
    this.flags = new Uint8Array(capacity)
    this.service = new Int32Array(capacity).fill(-1)
    const zeros = zerosI32(capacity)
    this.upperThreshold = zeros
    this.lowerThreshold = zeros
  }

  /** The node's own threshold columns, before its first write to one. */
  ownThresholds(): void {
    if (this.thresholdsOwned) return
    this.thresholdsOwned = true
    this.upperThreshold = new Int32Array(this.capacity)
    this.lowerThreshold = new Int32Array(this.capacity)
  }

  /**
   * A copy of the definition columns (address, port, weights, flags, owning service, free ids) for
   * a node that takes its own tables (Ipvs.ownTables): the columns only the control plane writes
   * are shared until it writes one (ownDefinitions); flags are copied. Thresholds are shared zeros
   * as in the source, which never set one (asserted: a node with thresholds never shares tables).
   */
  cloneDefinitions(): DestColumns {
    assert(!this.thresholdsOwned, "dest columns with thresholds shared")
    const c = new DestColumns(0)
    c.capacity = this.capacity
    c.addr = this.addr
    c.port = this.port
    c.weight = this.weight
    c.lastWeight = this.lastWeight
    c.service = this.service
    c.definitionsShared = true
    this.definitionsShared = true
    c.flags = this.flags.slice()
    const zeros = zerosI32(this.capacity)
    c.upperThreshold = zeros
    c.lowerThreshold = zeros
    c.freeList = this.freeList.slice()
    c.next = this.next
    return c
  }

  /** Own copies of the shared definition columns, before a control-plane write to one. */
  ownDefinitions(): void {
    if (!this.definitionsShared) return
    this.definitionsShared = false
    this.addr = this.addr.slice()
    this.port = this.port.slice()
    this.weight = this.weight.slice()
    this.lastWeight = this.lastWeight.slice()
    this.service = this.service.slice()
  }

  allocate(service: number, addr: number, port: number): number {
    this.ownDefinitions()
    let id = this.freeList.pop()
    if (id === undefined) {
      if (this.next === this.capacity) this.grow()
      id = this.next++
    }
    this.addr[id] = addr >>> 0
    this.port[id] = port
    this.weight[id] = 0
    this.lastWeight[id] = 0
    this.flags[id] = 0
    this.service[id] = service
    if (this.thresholdsOwned) {
      this.upperThreshold[id] = 0
      this.lowerThreshold[id] = 0
    }
    return id
  }

  free(id: number): void {
    assert(this.service[id] >= 0, `dest ${id} freed twice`)
    this.ownDefinitions()
    this.service[id] = -1
    this.flags[id] = 0
    this.freeList.push(id)
  }

  private grow(): void {
    const n = this.capacity * 2
    const gi = (a: Int32Array, fill = 0): Int32Array => {
      const b = new Int32Array(n).fill(fill)
      b.set(a)
      return b
    }
    const addr = new Uint32Array(n)
    addr.set(this.addr)
    this.addr = addr
    const port = new Uint16Array(n)
    port.set(this.port)
    this.port = port
    const flags = new Uint8Array(n)
    flags.set(this.flags)
    this.flags = flags
    this.weight = gi(this.weight)
    this.lastWeight = gi(this.lastWeight)
    this.service = gi(this.service, -1)
    this.capacity = n
    if (this.thresholdsOwned) {
      this.upperThreshold = gi(this.upperThreshold)
      this.lowerThreshold = gi(this.lowerThreshold)
    } else {
      const zeros = zerosI32(n)
      this.upperThreshold = zeros
      this.lowerThreshold = zeros
    }
  }
}
