/**
 * The extension registry: the match and target extensions the rule parser (rule.ts) knows, by
 * name, as iptables loads libxt_NAME.so for `-m NAME` / `-j NAME`. One file per extension.
 */
import type { MatchExtension, TargetExtension } from "../xt.ts"
import { addrtypeMatch } from "./xt_addrtype.ts"
import { commentMatch } from "./xt_comment.ts"
import { conntrackMatch, stateMatch } from "./xt_conntrack.ts"
import { icmpMatch } from "./ipt_icmp.ts"
import { markMatch, markTarget } from "./xt_mark.ts"
import { multiportMatch } from "./xt_multiport.ts"
import { physdevMatch } from "./xt_physdev.ts"
import { nfacctMatch } from "./xt_nfacct.ts"
import { recentMatch } from "./xt_recent.ts"
import { setMatch } from "./xt_set.ts"
import { ipvsMatch } from "./xt_ipvs.ts"
import { statisticMatch } from "./xt_statistic.ts"
import { tcpMatch, udpMatch } from "./xt_tcpudp.ts"
import { rejectTarget } from "./ipt_REJECT.ts"
import { ctTarget, notrackTarget } from "./xt_CT.ts"
import { logTarget } from "./xt_LOG.ts"
import { masqueradeTarget } from "./xt_MASQUERADE.ts"
import { dnatTarget, snatTarget } from "./xt_nat.ts"
import { redirectTarget } from "./xt_REDIRECT.ts"
import { acceptTarget, dropTarget, returnTarget } from "./xt_standard.ts"

function byName<T extends { readonly name: string }>(list: readonly T[]): ReadonlyMap<string, T> {
  const map = new Map<string, T>()
  for (const e of list) {
    if (map.has(e.name)) throw new Error(`netfilter: extension ${e.name} registered twice`)
    map.set(e.name, e)
  }
  return map
}

export const MATCH_EXTENSIONS: ReadonlyMap<string, MatchExtension> = byName([
  tcpMatch,
  udpMatch,
  multiportMatch,
  commentMatch,
  markMatch,
  addrtypeMatch,
  conntrackMatch,
  stateMatch,
  icmpMatch,
  statisticMatch,
  recentMatch,
  nfacctMatch,
  setMatch,
  physdevMatch,
  ipvsMatch,
])

export const TARGET_EXTENSIONS: ReadonlyMap<string, TargetExtension> = byName([
  acceptTarget,
  dropTarget,
  returnTarget,
  rejectTarget,
  markTarget,
  dnatTarget,
  snatTarget,
  masqueradeTarget,
  notrackTarget,
  ctTarget,
  logTarget,
  redirectTarget,
])
