/**
 * PairMap: a map from (IPv4 address, port) pairs to values that iterates in insertion order, as
 * the Map<number, V> keyed by `address * 65536 + port` it replaces in the UDP proxy's client cache
 * (proxysocket.ts). That key is a 48-bit number: every get/set/delete boxed it and hashed a double
 * in V8's generic OrderedHashMap, once per proxied datagram. Here the pair is hashed as two int32s
 * into chained buckets over typed arrays, and entries are threaded on a doubly linked list in
 * insertion order, so `values()` yields exactly what Map.values() would: setting an existing key
 * keeps its place, deleting and re-adding moves it to the end.
 */
import { EMPTY_I32 } from "../../sim/empty.ts"

export class PairMap<V> {
  // Fields start with a value of their kind (sized by the constructor): see sim/empty.ts for why.
  private addrs: Int32Array = EMPTY_I32
  private ports: Int32Array = EMPTY_I32
  private values_: (V | undefined)[]
  /** Next entry in the same bucket, -1 at the end. */
  private chain: Int32Array = EMPTY_I32
  /** Insertion-order links, -1 at either end. */
  private before: Int32Array = EMPTY_I32
  private after: Int32Array = EMPTY_I32
  private heads: Int32Array = EMPTY_I32
  private mask = 0
  private first = -1
  private last = -1
  private freeHead = -1
  private highWater = 0
  private count = 0

  constructor(capacity = 16) {
    let size = 16
    while (size < capacity) size *= 2
    this.addrs = new Int32Array(size)
    this.ports = new Int32Array(size)
    this.values_ = new Array<V | undefined>(size).fill(undefined)
    this.chain = new Int32Array(size)
    this.before = new Int32Array(size)
    this.after = new Int32Array(size)
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
    let e = this.heads[this.bucketOf(a, port)]
    while (e >= 0) {
      if (this.addrs[e] === a && this.ports[e] === port) return e
      e = this.chain[e]
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
    if (e >= 0) this.freeHead = this.chain[e]
    else {
      if (this.highWater === this.addrs.length) this.grow()
      e = this.highWater++
    }
    const a = addr | 0
    this.addrs[e] = a
    this.ports[e] = port
    this.values_[e] = value
    const b = this.bucketOf(a, port)
    this.chain[e] = this.heads[b]
    this.heads[b] = e
    this.before[e] = this.last
    this.after[e] = -1
    if (this.last >= 0) this.after[this.last] = e
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
    const b = this.bucketOf(a, port)
    let prev = -1
    let e = this.heads[b]
    while (e >= 0 && !(this.addrs[e] === a && this.ports[e] === port)) {
      prev = e
      e = this.chain[e]
    }
    if (e < 0 || (value !== undefined && this.values_[e] !== value)) return false
    if (prev < 0) this.heads[b] = this.chain[e]
    else this.chain[prev] = this.chain[e]
    const p = this.before[e]
    const n = this.after[e]
    if (p >= 0) this.after[p] = n
    else this.first = n
    if (n >= 0) this.before[n] = p
    else this.last = p
    this.values_[e] = undefined
    this.chain[e] = this.freeHead
    this.freeHead = e
    this.count--
    return true
  }

  /** Live values in insertion order (a copy: callers may delete while walking it). */
  values(): V[] {
    const out: V[] = []
    for (let e = this.first; e >= 0; e = this.after[e]) out.push(this.values_[e] as V)
    return out
  }

  /** Doubles the entry columns and the buckets (entries keep their indices; chains are rebuilt). */
  private grow(): void {
    const size = this.addrs.length * 2
    const widen = (a: Int32Array): Int32Array => {
      const b = new Int32Array(size)
      b.set(a)
      return b
    }
    this.addrs = widen(this.addrs)
    this.ports = widen(this.ports)
    this.chain = widen(this.chain)
    this.before = widen(this.before)
    this.after = widen(this.after)
    this.values_.length = size
    this.values_.fill(undefined, this.highWater)
    this.mask = size - 1
    this.heads = new Int32Array(size).fill(-1)
    // grow runs only when no entry is free (highWater reached capacity): every entry is live.
    for (let e = 0; e < this.highWater; e++) {
      const b = this.bucketOf(this.addrs[e], this.ports[e])
      this.chain[e] = this.heads[b]
      this.heads[b] = e
    }
  }
}
