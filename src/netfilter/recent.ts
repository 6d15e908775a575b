/**
 * `-m recent` lists (net/netfilter/xt_recent.c), one per `--name` per stack (the kernel keeps them
 * per network namespace).
 *
 * Kernel behaviour reproduced:
 * - ip_list_tot (default 100) entries per list; inserting into a full list evicts the head of the
 *   LRU list (the entry least recently set/updated), recent_entry_init.
 * - ip_pkt_list_tot (default 20) timestamps per entry, a ring (recent_entry_update).
 * - --rcheck/--update with --seconds S count timestamps >= now - S; --hitcount N needs N of them.
 * - --reap removes at most one entry per evaluation: the LRU head, if its newest stamp is older than
 *   now - S and it is not the entry being updated (recent_entry_reap).
 * - --update refreshes the entry when the match result (after `!`) is true; --set always refreshes.
 * Time is simulated nanoseconds rather than jiffies (HZ granularity is not modelled).
 * The LRU list is a Map in insertion order (delete + set moves an entry to the tail).
 */
import { RecentCommand } from "./constants.ts"

/** The options of one `-m recent` match that the list needs (RecentMatch in rule.ts has them). */
export interface RecentQuery {
  readonly command: number
  readonly invert: boolean
  readonly secondsNs: number
  readonly hitCount: number
  readonly reap: boolean
}

export class RecentEntry {
  /** Ring of timestamps (ns). */
  readonly stamps: number[] = []
  /** Next write position in the ring (e->index in the kernel). */
  index = 0
  constructor(readonly address: number) {}
  newestNs(): number {
    return this.stamps[(this.index + this.stamps.length - 1) % this.stamps.length]
  }
}

export class RecentTable {
  /** Address -> entry, in LRU order (head = oldest). */
  readonly entries = new Map<number, RecentEntry>()
  evictions = 0

  constructor(
    readonly name: string,
    /** xt_recent module parameter ip_list_tot (default 100). */
    readonly listTotal = 100,
    /** xt_recent module parameter ip_pkt_list_tot (default 20). */
    readonly packetListTotal = 20,
  ) {}

  get size(): number {
    return this.entries.size
  }

  /** recent_mt for one packet; `address` is already masked. */
  evaluate(m: RecentQuery, address: number, nowNs: number): boolean {
    let ret = m.invert
    const e = this.entries.get(address)
    if (e === undefined) {
      if (m.command !== RecentCommand.SET) return ret
      this.insert(address, nowNs)
      return !ret
    }
    if (m.command === RecentCommand.SET) {
      ret = !ret
    } else if (m.command === RecentCommand.REMOVE) {
      this.entries.delete(address)
      return !ret
    } else {
      const oldestNs = nowNs - m.secondsNs
      let hits = 0
      for (let i = 0; i < e.stamps.length; i++) {
        if (m.secondsNs !== 0 && oldestNs > e.stamps[i]) continue
        if (m.hitCount === 0 || ++hits >= m.hitCount) {
          ret = !ret
          break
        }
      }
      if (m.reap) this.reap(oldestNs, e, m.command === RecentCommand.UPDATE && ret)
    }
    if (m.command === RecentCommand.SET || (m.command === RecentCommand.UPDATE && ret)) this.update(e, nowNs)
    return ret
  }

  private insert(address: number, nowNs: number): void {
    if (this.entries.size >= this.listTotal) {
      const head = this.entries.keys().next()
      if (!head.done) {
        this.entries.delete(head.value)
        this.evictions++
      }
    }
    const e = new RecentEntry(address)
    e.stamps.push(nowNs)
    e.index = 1 % this.packetListTotal
    this.entries.set(address, e)
  }

  private update(e: RecentEntry, nowNs: number): void {
    if (e.index >= e.stamps.length) e.stamps.push(nowNs)
    else e.stamps[e.index] = nowNs
    e.index = (e.index + 1) % this.packetListTotal
    this.entries.delete(e.address)
    this.entries.set(e.address, e)
  }

  private reap(oldestNs: number, working: RecentEntry, updating: boolean): void {
    const head = this.entries.values().next()
    if (head.done) return
    const e = head.value
    if (e === working && updating) return
    if (oldestNs > e.newestNs()) this.entries.delete(e.address)
  }

  /** Addresses in LRU order (oldest first), for /proc/net/xt_recent-like listings. */
  list(): { address: number; lastSeenNs: number; hits: number }[] {
    return [...this.entries.values()].map((e) => ({
      address: e.address,
      lastSeenNs: e.newestNs(),
      hits: e.stamps.length,
    }))
  }

  flush(): void {
    this.entries.clear()
  }
}
