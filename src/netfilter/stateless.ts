/**
 * Which parsed rules hold no state of their own or of their stack, so that one parsed object can
 * serve every node (rule-cache.ts) and a restored table block holding only such rules can be
 * shared between nodes (table.ts). `recent` (the node's lists), `nfacct` (the node's counters),
 * `set` (the node's ipsets) and `statistic --mode nth` (a per-rule packet count) hold state.
 */
import type { Rule } from "./rule.ts"
import { NfacctMatch } from "./ext/xt_nfacct.ts"
import { RecentMatch } from "./ext/xt_recent.ts"
import { SetMatch } from "./ext/xt_set.ts"
import { StatisticMatch, StatisticMode } from "./ext/xt_statistic.ts"

/** No match of the rule keeps state of its own or of its stack (see the file comment). */
export function stateless(rule: Rule): boolean {
  for (const m of rule.matches) {
    if (m instanceof RecentMatch || m instanceof NfacctMatch || m instanceof SetMatch) return false
    if (m instanceof StatisticMatch && m.mode !== StatisticMode.RANDOM) return false
  }
  return true
}
