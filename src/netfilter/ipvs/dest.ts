/**
 * IPVS real servers ("destinations", struct ip_vs_dest in include/net/ip_vs.h) as typed-array
 * columns indexed by integer dest ids, shared by the schedulers and the connection table.
 *
 * Memory (issue 10: a node's kernel holds every Service's dests, most of which never carry a
 * connection on that node):
 * - Definition columns (address, port, weight, flags, owning service) are the node's own.
 * - Connection counts and references are all zero until the node's IPVS creates its first
 *   connection: until then they are shared read-only zero arrays of the same capacity (`ownState`
 *   gives the node its own). Thresholds likewise until `ipvsadm -x/-y` sets one (`ownThresholds`;
 *   kube-proxy never does). Reads see the same zeros either way; every write comes after the
 *   owning call (connection creation binds a dest first; `allocate` writes only zeros to them).
 * - Statistics (ipvsadm --stats: conns, packets and bytes in and out) are sparse: a dest gets a
 *   slot of STAT_WORDS doubles on its first count (`statBase`), read back through `stat`.
 */
import { assert } from "../../sim/assert.ts"

/** IP_VS_DEST_F_AVAILABLE: set while the dest is linked to its service (__ip_vs_update_dest). */
export const DEST_F_AVAILABLE = 0x1
/** IP_VS_DEST_F_OVERLOAD: set by the upper connection threshold (u_threshold). */
export const DEST_F_OVERLOAD = 0x2

/** A dest's statistics words in `DestColumns.stats` (offsets from its `statBase`). */
export const STAT_CONNS = 0
export const STAT_IN_PKTS = 1
export const STAT_OUT_PKTS = 2
export const STAT_IN_BYTES = 3
export const STAT_OUT_BYTES = 4
const STAT_WORDS = 5

/** Shared zero columns by capacity (never written: see DestColumns). */
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

export class DestColumns {
  capacity: number
  addr: Uint32Array
  port: Uint16Array
  /** Current weight; 0 = quiesced (no new connections, existing ones continue). */
  weight: Int32Array
  /** dest->last_weight: the latest non-zero weight (ip_vs_ctl.c __ip_vs_update_dest), used by mh. */
  lastWeight: Int32Array
  flags: Uint8Array
  activeConns: Int32Array
  inactConns: Int32Array
  persistConns: Int32Array
  /** u_threshold / l_threshold (0 = none), as `ipvsadm -x/-y`. */
  upperThreshold: Int32Array
  lowerThreshold: Int32Array
  /** Owning service id, or -1 once freed. */
  service: Int32Array
  /** Connections (incl. templates) still pointing here; a deleted dest is freed when it reaches 0. */
  refs: Int32Array
  /**
   * ip_vs_stats counters, STAT_WORDS per slot (Float64 so they never wrap in a long run); a dest's
   * slot is `statSlot[id]` (-1: nothing counted yet, all zero).
   */
  stats: Float64Array = new Float64Array(0)
  statSlot: Int32Array
  /** Connection counts and references are this node's own (else the shared zero arrays). */
  stateOwned = false
  thresholdsOwned = false
  /**
   * addr, port, weight, lastWeight and service are another DestColumns' too (cloneDefinitions):
   * only the control plane writes them, and it takes its own copies first (ownDefinitions).
   */
  definitionsShared = false
  private statNext = 0
  private readonly statFree: number[] = []
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
    this.statSlot = new Int32Array(capacity).fill(-1)
    const zeros = zerosI32(capacity)
    this.activeConns = zeros
    this.inactConns = zeros
    this.persistConns = zeros
    this.refs = zeros
    this.upperThreshold = zeros
    this.lowerThreshold = zeros
  }

  /** The node's own connection-count and reference columns, before its first write to one. */
  ownState(): void {
    if (this.stateOwned) return
    this.stateOwned = true
    const n = this.capacity
    this.activeConns = new Int32Array(n)
    this.inactConns = new Int32Array(n)
    this.persistConns = new Int32Array(n)
    this.refs = new Int32Array(n)
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
   * a node that takes its own tables (Ipvs.ownTables): count and threshold columns start as the
   * shared zeros and statistics empty, as they are in the source, which nothing but the control
   * plane has written (asserted).
   */
  cloneDefinitions(): DestColumns {
    assert(!this.stateOwned && !this.thresholdsOwned && this.statNext === 0, "dest columns with traffic state shared")
    const c = new DestColumns(0)
    c.capacity = this.capacity
    c.addr = this.addr
    c.port = this.port
    c.weight = this.weight
    c.lastWeight = this.lastWeight
    c.service = this.service
    c.definitionsShared = true
    this.definitionsShared = true
    // flags (the data plane sets OVERLOAD) and statistics slots are written by traffic: copied.
    c.flags = this.flags.slice()
    c.statSlot = this.statSlot.slice()
    const zeros = zerosI32(this.capacity)
    c.activeConns = zeros
    c.inactConns = zeros
    c.persistConns = zeros
    c.refs = zeros
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

  /** Where dest `id`'s statistics start in `stats`, giving it a zeroed slot on its first count. */
  statBase(id: number): number {
    const slot = this.statSlot[id]
    if (slot >= 0) return slot * STAT_WORDS
    let s = this.statFree.pop()
    if (s === undefined) {
      s = this.statNext++
      if (s * STAT_WORDS >= this.stats.length) {
        const grown = new Float64Array(Math.max(16, (this.stats.length / STAT_WORDS) * 2) * STAT_WORDS)
        grown.set(this.stats)
        this.stats = grown
      }
    } else this.stats.fill(0, s * STAT_WORDS, (s + 1) * STAT_WORDS)
    this.statSlot[id] = s
    return s * STAT_WORDS
  }

  /** Statistic `word` (STAT_*) of dest `id` (0 before its first count). */
  stat(id: number, word: number): number {
    const slot = this.statSlot[id]
    return slot < 0 ? 0 : this.stats[slot * STAT_WORDS + word]
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
    if (this.stateOwned) {
      this.activeConns[id] = 0
      this.inactConns[id] = 0
      this.persistConns[id] = 0
      this.refs[id] = 0
    }
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
    const slot = this.statSlot[id]
    if (slot >= 0) {
      this.statFree.push(slot)
      this.statSlot[id] = -1
    }
    this.freeList.push(id)
  }

  /** ip_vs_dest_totalconns. */
  totalConns(id: number): number {
    return this.activeConns[id] + this.inactConns[id]
  }

  /**
   * ip_vs_dest_conn_overhead (include/net/ip_vs.h): `(activeconns << 8) + inactconns`. The comment in
   * ip_vs_lc.c still says `<< 5`; the code calls this helper, so 256 is what the kernel uses.
   */
  overhead(id: number): number {
    return this.activeConns[id] * 256 + this.inactConns[id]
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
    this.statSlot = gi(this.statSlot, -1)
    this.capacity = n
    const zeros = zerosI32(n)
    if (this.stateOwned) {
      this.activeConns = gi(this.activeConns)
      this.inactConns = gi(this.inactConns)
      this.persistConns = gi(this.persistConns)
      this.refs = gi(this.refs)
    } else {
      this.activeConns = zeros
      this.inactConns = zeros
      this.persistConns = zeros
      this.refs = zeros
    }
    if (this.thresholdsOwned) {
      this.upperThreshold = gi(this.upperThreshold)
      this.lowerThreshold = gi(this.lowerThreshold)
    } else {
      this.upperThreshold = zeros
      this.lowerThreshold = zeros
    }
  }
}
