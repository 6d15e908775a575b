/**
 * Parsed iptables rules shared between the netfilter stacks of a simulated cluster.
 *
 * Every node's kube-proxy restores largely the same rule lines (KUBE-SERVICES, the per-Service
 * chains); parsing each line once per cluster instead of once per node and sync saves most of a
 * restore's wall time. A node's table still holds its own Rule (`Rule.copy`: own packet and byte
 * counters), sharing the parsed matches, target and tokens. Only rules whose matches hold no state
 * are shared: `recent` (a node's lists), `nfacct` (a node's counters), `set` (a node's ipsets) and
 * `statistic --mode nth` (a per-rule packet count) are parsed per node, as before. Same tables,
 * same results either way; only wall time and memory differ.
 */
import type { Rule } from "./rule.ts"
import { NfacctMatch } from "./ext/xt_nfacct.ts"
import { RecentMatch } from "./ext/xt_recent.ts"
import { SetMatch } from "./ext/xt_set.ts"
import { StatisticMatch, StatisticMode } from "./ext/xt_statistic.ts"

export interface CachedRule {
  readonly chain: string
  readonly rule: Rule
}

export class RuleParseCache {
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

/** No match of the rule keeps state of its own or of its stack (see the file comment). */
export function stateless(rule: Rule): boolean {
  for (const m of rule.matches) {
    if (m instanceof RecentMatch || m instanceof NfacctMatch || m instanceof SetMatch) return false
    if (m instanceof StatisticMatch && m.mode !== StatisticMode.RANDOM) return false
  }
  return true
}
