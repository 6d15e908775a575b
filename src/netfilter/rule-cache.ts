/**
 * Parsed iptables rules shared between the netfilter stacks of a simulated cluster.
 *
 * Every node's kube-proxy restores largely the same rule lines (KUBE-SERVICES, the per-Service
 * chains); parsing each line once per cluster instead of once per node and sync saves most of a
 * restore's wall time. Rules are immutable (a node's counters are its own: counters.ts), so every
 * node's chains hold the same Rule object. Only rules whose matches hold no state are shared: `recent` (a node's lists), `nfacct` (a node's counters), `set` (a node's ipsets) and
 * `statistic --mode nth` (a per-rule packet count) are parsed per node, as before. Same tables,
 * same results either way; only wall time and memory differ.
 */
import type { Rule } from "./rule.ts"
import type { RestoreCache, RestoredBlock, Table } from "./table.ts"
import { stateless } from "./stateless.ts"

export interface CachedRule {
  readonly chain: string
  readonly rule: Rule
}

/**
 * Restored blocks kept (most recently used last). Nodes restore the same blocks at about the same
 * time (each sync's input goes to every node with the same view), so a few suffice; a miss only
 * costs the restore itself. Each kept block holds its table alive, hence the small bound.
 */
const RESTORED_BLOCKS_KEPT = 16

export class RuleParseCache implements RestoreCache {
  private restoredBlocks: RestoredBlock[] = []
  /** Blocks served from `restoredBlocks` (a node took another node's table). */
  blocksShared = 0
  /** Blocks restored and kept for the other nodes. */
  blocksRestored = 0

  /**
   * The block another stack restored onto `before` from the same lines as the block starting at
   * lines[start] (a `*table` line), if kept; the caller continues after its `COMMIT` (start +
   * block.end - block.start).
   */
  restored(
    before: Table,
    lines: readonly string[],
    start: number,
    options: { readonly noflush?: boolean; readonly counters?: boolean },
    indexThreshold: number,
  ): RestoredBlock | undefined {
    const blocks = this.restoredBlocks
    let end = -2
    for (let b = blocks.length - 1; b >= 0; b--) {
      const block = blocks[b]
      if (
        block.before !== before ||
        block.noflush !== (options.noflush === true) ||
        block.counters !== (options.counters === true) ||
        block.indexThreshold !== indexThreshold
      )
        continue
      // The same input array (nodes that assembled alike share it: iptables/compile.ts), or equal lines.
      if (block.source !== lines || block.start !== start) {
        if (end === -2) end = blockEnd(lines, start)
        if (end < 0 || block.end - block.start !== end - start) continue
        const kept = block.source
        let same = true
        for (let i = 0; i <= end - start && same; i++) same = kept[block.start + i] === lines[start + i]
        if (!same) continue
      }
      this.blocksShared++
      if (b !== blocks.length - 1) {
        blocks.splice(b, 1)
        blocks.push(block)
      }
      return block
    }
    return undefined
  }

  /** Keeps a restored block for the other stacks. */
  remember(block: RestoredBlock): void {
    this.blocksRestored++
    this.restoredBlocks.push(block)
    if (this.restoredBlocks.length > RESTORED_BLOCKS_KEPT) this.restoredBlocks.shift()
  }

  /** Chain name and parsed rule by the `-A CHAIN ...` line (as the restore input spells it). */
  private readonly rules = new Map<string, CachedRule>()
  /** Lines parsed (cache misses, shared or not). */
  parsed = 0
  /** Lines served from the cache. */
  hits = 0

  /** The shared parsed rule of `line`, if one was stored. */
  lookup(line: string): CachedRule | undefined {
    const rule = this.rules.get(line)
    if (rule !== undefined) this.hits++
    return rule
  }

  /** Keeps `rule`, parsed from `line`, for the other stacks when its matches hold no state. */
  store(line: string, chain: string, rule: Rule): void {
    this.parsed++
    if (stateless(rule)) this.rules.set(line, { chain, rule })
  }

  /** Distinct rule lines held. */
  get size(): number {
    return this.rules.size
  }
}

/** Position of the `COMMIT` line ending the block that starts at `start`, or -1. */
function blockEnd(lines: readonly string[], start: number): number {
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]
    if (l.length <= 16 && l.trim() === "COMMIT") return i
  }
  return -1
}
