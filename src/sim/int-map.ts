/**
 * IntMap: a map from 32-bit integer keys (IPv4 addresses, ports) to values, for lookups on the
 * per-packet path (routes, local addresses, fabric neighbours, bridge ports).
 *
 * Why not Map<number, V>: V8's Map hashes every key through its generic OrderedHashMap (a hash
 * computation, a bucket load and a chain walk through a boxed entry table); this is open addressing
 * with linear probing over an Int32Array of keys, a multiplicative hash and a power-of-two table,
 * so a hit usually costs one key compare. Each slot's key and state sit side by side in one
 * Int32Array (key at 2i, state at 2i + 1), so a probe reads one cache line rather than one in a key
 * array and another in a state array (the per-packet lookups -- local addresses, sockets, bridge
 * ports, fabric neighbours -- mostly miss the cache). Deleted keys leave tombstones (rebuilt when
 * they fill a quarter of the table). Keys are compared as int32 (`key | 0`): a uint32 address and its signed
 * view are the same key. No iteration order is offered, so nothing can come to depend on one.
 */

import { EMPTY_I32 } from "./empty.ts"

const EMPTY = 0
const FULL = 1
const DELETED = 2

/**
 * memoState: no memo; the memo key is present with value memoValue; it is absent; it is present
 * but its value was not read (a `has`).
 */
const MEMO_NONE = 0
const MEMO_PRESENT = 1
const MEMO_ABSENT = 2
const MEMO_PRESENT_KEY = 3

/**
 * The slot a key's probe starts at. The product's high half is folded down before masking: the low
 * bits of a product depend only on the low bits of its factors, so keys that differ only above the
 * mask (the /24 networks a route table is keyed by, whose low byte is always 0) would otherwise all
 * start at one slot and turn lookups into walks along one long probe run.
 */
function homeSlot(k: number, mask: number): number {
  const h = Math.imul(k ^ (k >>> 16), 0x45d9f3b)
  return (h ^ (h >>> 16)) & mask
}

export class IntMap<V> {
  // Fields start with a value of their kind (sized by the constructor): see empty.ts for why.
  /** Per slot i: the key at 2i, its state (EMPTY, FULL, DELETED) at 2i + 1. */
  private slots: Int32Array = EMPTY_I32
  private values: (V | undefined)[]
  private mask = 0
  private used = 0
  private tombstones = 0
  /**
   * The last key `get`/`has` looked up and what it found, so that a repeated lookup reads neither
   * the slots nor the values: a pod's namespace sees the same destination address, socket port and
   * route network packet after packet, and those tables' memory is mostly out of cache by the time
   * the next packet comes. Every change to the map forgets it (`forget`).
   */
  private memoKey = 0
  private memoState = MEMO_NONE
  private memoValue: V | undefined = undefined

  constructor(capacity = 8) {
    let size = 8
    while (size < capacity * 2) size *= 2
    this.slots = new Int32Array(size * 2)
    this.values = new Array<V | undefined>(size).fill(undefined)
    this.mask = size - 1
  }

  get size(): number {
    return this.used
  }

  private slotOf(key: number): number {
    const k = key | 0
    const mask = this.mask
    let i = homeSlot(k, mask)
    const slots = this.slots
    for (;;) {
      const s = slots[2 * i + 1]
      if (s === EMPTY) return -1
      if (s === FULL && slots[2 * i] === k) return i
      i = (i + 1) & mask
    }
  }

  get(key: number): V | undefined {
    const k = key | 0
    if (k === this.memoKey && (this.memoState === MEMO_PRESENT || this.memoState === MEMO_ABSENT)) return this.memoValue
    const i = this.slotOf(k)
    const value = i < 0 ? undefined : this.values[i]
    this.memoKey = k
    this.memoState = i < 0 ? MEMO_ABSENT : MEMO_PRESENT
    this.memoValue = value
    return value
  }

  has(key: number): boolean {
    const k = key | 0
    if (k === this.memoKey && this.memoState !== MEMO_NONE) return this.memoState !== MEMO_ABSENT
    const i = this.slotOf(k)
    this.memoKey = k
    this.memoState = i < 0 ? MEMO_ABSENT : MEMO_PRESENT_KEY
    this.memoValue = undefined
    return i >= 0
  }

  private forget(): void {
    this.memoState = MEMO_NONE
    this.memoValue = undefined
  }

  set(key: number, value: V): this {
    this.forget()
    const existing = this.slotOf(key)
    if (existing >= 0) {
      this.values[existing] = value
      return this
    }
    if ((this.used + this.tombstones + 1) * 2 > this.mask + 1) this.rebuild(this.used + 1)
    const k = key | 0
    const slots = this.slots
    let i = homeSlot(k, this.mask)
    while (slots[2 * i + 1] === FULL) i = (i + 1) & this.mask
    if (slots[2 * i + 1] === DELETED) this.tombstones--
    slots[2 * i] = k
    slots[2 * i + 1] = FULL
    this.values[i] = value
    this.used++
    return this
  }

  delete(key: number): boolean {
    this.forget()
    const i = this.slotOf(key)
    if (i < 0) return false
    this.values[i] = undefined
    this.used--
    const slots = this.slots
    const mask = this.mask
    if (slots[2 * ((i + 1) & mask) + 1] === EMPTY) {
      // No probe passes through a slot followed by an empty one: free it, and the tombstones
      // just before it, without leaving a tombstone (a table whose keys come and go, such as a
      // pod's UDP sockets with a new socket per request, then never needs a rebuild).
      slots[2 * i + 1] = EMPTY
      let j = (i - 1) & mask
      while (slots[2 * j + 1] === DELETED) {
        slots[2 * j + 1] = EMPTY
        this.tombstones--
        j = (j - 1) & mask
      }
      return true
    }
    slots[2 * i + 1] = DELETED
    this.tombstones++
    if (this.tombstones * 4 > mask + 1) this.rebuild(this.used)
    return true
  }

  /**
   * The smallest key whose entry passes `test`, or undefined: a search whose answer does not
   * depend on the table's layout (keys compared as int32, as stored).
   */
  minKeyWhere(test: (value: V, key: number) => boolean): number | undefined {
    let best: number | undefined
    const slots = this.slots
    for (let j = 0; j <= this.mask; j++) {
      const key = slots[2 * j]
      if (slots[2 * j + 1] === FULL && (best === undefined || key < best) && test(this.values[j] as V, key)) best = key
    }
    return best
  }

  /** Every key, in table order (callers sort when order matters). */
  keyList(): number[] {
    const out: number[] = []
    for (let j = 0; j <= this.mask; j++) if (this.slots[2 * j + 1] === FULL) out.push(this.slots[2 * j])
    return out
  }

  /**
   * Room for `count` keys without a rebuild on the way there. Lookups are unchanged; the slot order
   * keyList and minKeyWhere walk depends on the capacity, so only for maps read by key.
   */
  reserve(count: number): void {
    if ((count + this.tombstones + 1) * 2 > this.mask + 1) this.rebuild(count)
  }

  private rebuild(count: number): void {
    const oldSlots = this.slots
    const oldValues = this.values
    const oldSize = this.mask + 1
    let size = 8
    while (size < count * 2 + 2) size *= 2
    this.slots = new Int32Array(size * 2)
    this.values = new Array<V | undefined>(size).fill(undefined)
    this.mask = size - 1
    this.used = 0
    this.tombstones = 0
    for (let j = 0; j < oldSize; j++) if (oldSlots[2 * j + 1] === FULL) this.set(oldSlots[2 * j], oldValues[j] as V)
  }
}
