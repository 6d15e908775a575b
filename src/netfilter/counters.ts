/**
 * A node's iptables packet and byte counters (what `iptables-save -c` prints), kept apart from the
 * rules: chains and rules are immutable and shared between nodes (table.ts, rule-cache.ts), the
 * counters are the node's own. Sparse: a chain gets its array on the first packet it counts on this
 * node (two entries per rule, then the policy's two), so a node that carries traffic through a few
 * Services holds counters for those chains only, whatever the table's size.
 *
 * The kernel's counters belong to rule entries of the node's table blob; iptables-restore
 * --noflush keeps those of the rules it leaves in place and zeroes (or, with --counters, sets) the
 * others. `carry` does the same after a restore from the restore's CounterCarry records.
 */
import type { Chain, CounterCarry, Table } from "./table.ts"

/**
 * Counts held back by a walk memo (walk-memo.ts): its hits count per memo slot and add the sums
 * into this node's arrays when the counters are read (`of`, `get`) or moved (`carry`), or the slot
 * is freed. The values read are the same as if every hit had counted at once (integer sums, exact
 * in float64 below 2^53).
 */
export interface PendingCounts {
  flushCounts(): void
}

/** Slots of RuleCounters' direct-mapped memo (a power of two). */
const MEMO_SLOTS = 16

export class RuleCounters {
  private readonly byChain = new Map<Chain, Float64Array>()
  /**
   * The last counter arrays used, by `chain.uid % MEMO_SLOTS`: a packet's walk counts in a handful
   * of chains, so most counts find their array here without hashing the chain into `byChain`.
   * Cleared whenever `byChain` changes other than by adding a chain's first array.
   */
  private readonly memoChains: (Chain | null)[] = new Array<Chain | null>(MEMO_SLOTS).fill(null)
  private readonly memoCounters: (Float64Array | null)[] = new Array<Float64Array | null>(MEMO_SLOTS).fill(null)

  /** Holders of counts not yet added into the arrays (walk memos counting into this object). */
  private readonly pending: PendingCounts[] = []

  /** `holder` may hold counts back for this object: they are added in before any read. */
  holdsCounts(holder: PendingCounts): void {
    if (!this.pending.includes(holder)) this.pending.push(holder)
  }

  /** Adds every held-back count into the arrays. */
  private settle(): void {
    for (const holder of this.pending) holder.flushCounts()
  }

  /** The chain's counters on this node (two per rule, then the policy's), or undefined when all are zero. */
  of(chain: Chain): Float64Array | undefined {
    this.settle()
    return this.byChain.get(chain)
  }

  /** Chains holding counters on this node. */
  get chains(): number {
    return this.byChain.size
  }

  /**
   * Changes whenever a chain's counter array may be replaced or dropped (carry): a holder of
   * arrays from `arrayOf` (walk-memo.ts) may count into them while it is unchanged. Adding a
   * chain's first array does not change it.
   */
  layout = 0

  /** The chain's counter array on this node (created zeroed on first use): see `layout`. */
  arrayOf(chain: Chain): Float64Array {
    return this.counters(chain)
  }

  private counters(chain: Chain): Float64Array {
    const slot = chain.uid & (MEMO_SLOTS - 1)
    if (this.memoChains[slot] === chain) return this.memoCounters[slot] as Float64Array
    let k = this.byChain.get(chain)
    if (k === undefined) {
      k = new Float64Array(2 * chain.rules.length + 2)
      this.byChain.set(chain, k)
    }
    this.memoChains[slot] = chain
    this.memoCounters[slot] = k
    return k
  }

  /** Rule `i` of `chain` matched a packet of `bytes`. */
  rule(chain: Chain, i: number, bytes: number): void {
    const k = this.counters(chain)
    k[2 * i]++
    k[2 * i + 1] += bytes
  }

  /** The built-in chain's policy applied to a packet of `bytes`. */
  policy(chain: Chain, bytes: number): void {
    const k = this.counters(chain)
    const n = 2 * chain.rules.length
    k[n]++
    k[n + 1] += bytes
  }

  /** Packets and bytes of rule `i` (`-1`: the policy) of `chain`. */
  get(chain: Chain, i: number): { packets: number; bytes: number } {
    this.settle()
    const k = this.byChain.get(chain)
    const at = i < 0 ? 2 * chain.rules.length : 2 * i
    return k === undefined ? { packets: 0, bytes: 0 } : { packets: k[at], bytes: k[at + 1] }
  }

  /** After a restore: counters move into the committed chains; those of chains gone are dropped. */
  carry(carries: readonly CounterCarry[], tables: readonly Table[]): void {
    this.settle()
    this.layout++
    this.memoChains.fill(null)
    this.memoCounters.fill(null)
    const moved: [Chain, Float64Array][] = []
    for (const c of carries) {
      const old = c.source === null ? undefined : this.byChain.get(c.source)
      if (old === undefined && c.initial === null) continue
      const n = c.chain.rules.length
      const k = c.initial === null ? new Float64Array(2 * n + 2) : c.initial.slice()
      if (old !== undefined) {
        const origin = c.origin
        for (let i = 0; i < n; i++) {
          const o = origin === null ? i : origin[i]
          if (o < 0) continue
          k[2 * i] = old[2 * o]
          k[2 * i + 1] = old[2 * o + 1]
        }
        if (!c.policyFromInput) {
          const m = old.length - 2
          k[2 * n] = old[m]
          k[2 * n + 1] = old[m + 1]
        }
      }
      moved.push([c.chain, k])
    }
    for (const chain of this.byChain.keys()) {
      let live = false
      for (const t of tables) if (t.byName.get(chain.name) === chain) live = true
      if (!live) this.byChain.delete(chain)
    }
    for (const [chain, k] of moved) {
      let zero = true
      for (let i = 0; i < k.length && zero; i++) zero = k[i] === 0
      if (!zero) this.byChain.set(chain, k)
    }
  }
}
