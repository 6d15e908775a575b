/**
 * IPVS real servers ("destinations", struct ip_vs_dest in include/net/ip_vs.h) as typed-array
 * columns indexed by integer dest ids, shared by the schedulers and the connection table.
 *
 * Definition columns (address, port, weight, flags, owning service) are the node's own from the
 * start. The state columns (connection counts, references, thresholds, statistics) are all zero
 * until the node's IPVS creates its first connection or sets a threshold: until then they are
 * shared read-only zero arrays of the same capacity (`ownState` gives the node its own), so a node
 * whose IPVS never carried a connection holds no per-dest state. Reads see the same zeros either
 * way; every write to a state column comes after `ownState` (connection creation binds a dest
 * first, `setDestThresholds` owns them, `allocate` writes only zeros).
 */
import { assert } from "../../sim/assert.ts"

/** IP_VS_DEST_F_AVAILABLE: set while the dest is linked to its service (__ip_vs_update_dest). */
export const DEST_F_AVAILABLE = 0x1
/** IP_VS_DEST_F_OVERLOAD: set by the upper connection threshold (u_threshold). */
export const DEST_F_OVERLOAD = 0x2

/** Shared zero state columns by capacity (never written: see DestColumns). */
const zeroI32 = new Map<number, Int32Array>()
const zeroF64 = new Map<number, Float64Array>()

function zerosI32(capacity: number): Int32Array {
  let a = zeroI32.get(capacity)
  if (a === undefined) zeroI32.set(capacity, (a = new Int32Array(capacity)))
  return a
}

function zerosF64(capacity: number): Float64Array {
  let a = zeroF64.get(capacity)
  if (a === undefined) zeroF64.set(capacity, (a = new Float64Array(capacity)))
  return a
}

/** The shared zero state columns are still all zero (a test's guard against a write before ownState). */
export function sharedZeroStateIntact(): boolean {
  for (const a of zeroI32.values()) if (a.some((v) => v !== 0)) return false
  for (const a of zeroF64.values()) if (a.some((v) => v !== 0)) return false
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
  // ip_vs_stats counters (ipvsadm --stats): Float64 so they never wrap in a long run.
  conns: Float64Array
  inPkts: Float64Array
  outPkts: Float64Array
  inBytes: Float64Array
  outBytes: Float64Array
  private freeList: number[] = []
  private next = 0

  /** The state columns are this node's own (else the shared zero arrays). */
  stateOwned = false

  constructor(capacity = 64) {
    this.capacity = capacity
    this.addr = new Uint32Array(capacity)
    this.port = new Uint16Array(capacity)
    this.weight = new Int32Array(capacity)
    this.lastWeight = new Int32Array(capacity)
    this.flags = new Uint8Array(capacity)
    this.service = new Int32Array(capacity).fill(-1)
    const i32 = zerosI32(capacity)
    const f64 = zerosF64(capacity)
    this.activeConns = i32
    this.inactConns = i32
    this.persistConns = i32
    this.upperThreshold = i32
    this.lowerThreshold = i32
    this.refs = i32
    this.conns = f64
    this.inPkts = f64
    this.outPkts = f64
    this.inBytes = f64
    this.outBytes = f64
  }

  /** The node's own state columns, before its first write to one (copies of zeros). */
  ownState(): void {
    if (this.stateOwned) return
    this.stateOwned = true
    const n = this.capacity
    this.activeConns = new Int32Array(n)
    this.inactConns = new Int32Array(n)
    this.persistConns = new Int32Array(n)
    this.upperThreshold = new Int32Array(n)
    this.lowerThreshold = new Int32Array(n)
    this.refs = new Int32Array(n)
    this.conns = new Float64Array(n)
    this.inPkts = new Float64Array(n)
    this.outPkts = new Float64Array(n)
    this.inBytes = new Float64Array(n)
    this.outBytes = new Float64Array(n)
  }

  allocate(service: number, addr: number, port: number): number {
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
      this.upperThreshold[id] = 0
      this.lowerThreshold[id] = 0
      this.refs[id] = 0
      this.conns[id] = 0
      this.inPkts[id] = 0
      this.outPkts[id] = 0
      this.inBytes[id] = 0
      this.outBytes[id] = 0
    }
    return id
  }

  free(id: number): void {
    assert(this.service[id] >= 0, `dest ${id} freed twice`)
    this.service[id] = -1
    this.flags[id] = 0
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
    const g32 = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(n)
      b.set(a)
      return b
    }
    const gi = (a: Int32Array, fill = 0): Int32Array => {
      const b = new Int32Array(n).fill(fill)
      b.set(a)
      return b
    }
    const gf = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n)
      b.set(a)
      return b
    }
    this.addr = g32(this.addr)
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
    if (!this.stateOwned) {
      const i32 = zerosI32(n)
      const f64 = zerosF64(n)
      this.activeConns = i32
      this.inactConns = i32
      this.persistConns = i32
      this.upperThreshold = i32
      this.lowerThreshold = i32
      this.refs = i32
      this.conns = f64
      this.inPkts = f64
      this.outPkts = f64
      this.inBytes = f64
      this.outBytes = f64
      return
    }
    this.activeConns = gi(this.activeConns)
    this.inactConns = gi(this.inactConns)
    this.persistConns = gi(this.persistConns)
    this.upperThreshold = gi(this.upperThreshold)
    this.lowerThreshold = gi(this.lowerThreshold)
    this.refs = gi(this.refs)
    this.conns = gf(this.conns)
    this.inPkts = gf(this.inPkts)
    this.outPkts = gf(this.outPkts)
    this.inBytes = gf(this.inBytes)
    this.outBytes = gf(this.outBytes)
  }
}
