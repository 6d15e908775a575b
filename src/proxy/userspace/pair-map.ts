/**
 * PairMap: a map from (IPv4 address, port) pairs to values that iterates in insertion order, as
 * the Map<number, V> keyed by `address * 65536 + port` it replaces in the UDP proxy's client cache
 * (proxysocket.ts). That key is a 48-bit number: every get/set/delete boxed it and hashed a double
 * in V8's generic OrderedHashMap, once per proxied datagram. Here the pair is hashed as two int32s
 * into chained buckets over typed arrays, and entries are threaded on a doubly linked list in
 * insertion order, so `values()` yields exactly what Map.values() would: setting an existing key
 * keeps its place, deleting and re-adding moves it to the end.
 *
 * An entry's fields (address, port, bucket chain, insertion-order links) sit side by side in one
 * Int32Array row of ROW words: under a new flow per request the cache holds thousands of clients
 * and each lookup, insert and delete lands on a cold entry, so one row is one cache line to load
 * rather than one per column.
 */
const ROW = 8
const ADDR = 0
const PORT = 1
/** Next entry in the same bucket, -1 at the end. */
const CHAIN = 2
/** Insertion-order links, -1 at either end. */
const BEFORE = 3
const AFTER = 4

export class PairMap<V> {
  /** Entry e's fields at e * ROW + ADDR, PORT, CHAIN, BEFORE, AFTER. */
  private rows: Int32Array
  private values_: (V | undefined)[]
  private heads: Int32Array
  private mask: number
  private first = -1
  private last = -1
  private freeHead = -1
  private highWater = 0
  private count = 0

  constructor(capacity = 16) {
    let size = 16
    while (size < capacity) size *= 2
    this.rows = new Int32Array(size * ROW)
    this.values_ = new Array<V | undefined>(size).fill(undefined)
    this.heads = new Int32Array(size).fill(-1)
    this.mask = size - 1
  }

  get size(): number {
    return this.count
  }

  private bucketOf(addr: number, port: number): number {
    let h = Math.imul(addr ^ (addr >>> 16), 0x45d9f3b)
    h = Math.imul(h ^ port ^ (h >>> 15), 0x2c1b3c6d)
    return (h ^ (h >>> 16)) & this.mask
  }

  private find(addr: number, port: number): number {
    const a = addr | 0
    const rows = this.rows
    let e = this.heads[this.bucketOf(a, port)]
    while (e >= 0) {
      const r = e * ROW
      if (rows[r + ADDR] === a && rows[r + PORT] === port) return e
      e = rows[r + CHAIN]
    }
    return -1
  }

  get(addr: number, port: number): V | undefined {
    const e = this.find(addr, port)
    return e < 0 ? undefined : this.values_[e]
  }

  set(addr: number, port: number, value: V): void {
    const found = this.find(addr, port)
    if (found >= 0) {
      this.values_[found] = value
      return
    }
    this.add(addr, port, value)
  }

  /**
   * `set` of a pair the caller knows is absent (it just missed with `get` and changed nothing
   * since): the same entry at the end of the insertion order, without probing the bucket again.
   */
  add(addr: number, port: number, value: V): void {
    let e = this.freeHead
    if (e >= 0) this.freeHead = this.rows[e * ROW + CHAIN]
    else {
      if (this.highWater === this.values_.length) this.grow()
      e = this.highWater++
    }
    const a = addr | 0
    const rows = this.rows
    const r = e * ROW
    rows[r + ADDR] = a
    rows[r + PORT] = port
    this.values_[e] = value
    const b = this.bucketOf(a, port)
    rows[r + CHAIN] = this.heads[b]
    this.heads[b] = e
    rows[r + BEFORE] = this.last
    rows[r + AFTER] = -1
    if (this.last >= 0) rows[this.last * ROW + AFTER] = e
    else this.first = e
    this.last = e
    this.count++
  }

  delete(addr: number, port: number): boolean {
    return this.deleteIf(addr, port, undefined)
  }

  /**
   * Deletes the entry of (addr, port) when its value is `value` (any value when `value` is
   * undefined), in one walk of the bucket; returns whether it deleted.
   */
  deleteIf(addr: number, port: number, value: V | undefined): boolean {
    const a = addr | 0
    const rows = this.rows
    const b = this.bucketOf(a, port)
    let prev = -1
    let e = this.heads[b]
    while (e >= 0 && !(rows[e * ROW + ADDR] === a && rows[e * ROW + PORT] === port)) {
      prev = e
      e = rows[e * ROW + CHAIN]
    }
    if (e < 0 || (value !== undefined && this.values_[e] !== value)) return false
    const r = e * ROW
    if (prev < 0) this.heads[b] = rows[r + CHAIN]
    else rows[prev * ROW + CHAIN] = rows[r + CHAIN]
    const p = rows[r + BEFORE]
    const n = rows[r + AFTER]
    if (p >= 0) rows[p * ROW + AFTER] = n
    else this.first = n
    if (n >= 0) rows[n * ROW + BEFORE] = p
    else this.last = p
    this.values_[e] = undefined
    rows[r + CHAIN] = this.freeHead
    this.freeHead = e
    this.count--
    return true
  }

  /** Live values in insertion order (a copy: callers may delete while walking it). */
  values(): V[] {
    const out: V[] = []
    for (let e = this.first; e >= 0; e = this.rows[e * ROW + AFTER]) out.push(this.values_[e] as V)
    return out
  }

  /** Doubles the entries and the buckets (entries keep their indices; chains are rebuilt). */
  private grow(): void {
    const size = this.values_.length * 2
    const rows = new Int32Array(size * ROW)
    rows.set(this.rows)
    this.rows = rows
    this.values_.length = size
    this.values_.fill(undefined, this.highWater)
    this.mask = size - 1
    this.heads = new Int32Array(size).fill(-1)
    // grow runs only when no entry is free (highWater reached capacity): every entry is live.
    for (let e = 0; e < this.highWater; e++) {
      const r = e * ROW
      const b = this.bucketOf(rows[r + ADDR], rows[r + PORT])
      rows[r + CHAIN] = this.heads[b]
      this.heads[b] = e
    }
  }
}
