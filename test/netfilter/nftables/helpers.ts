/**
 * Helpers for the nftables engine tests: fixtures (era-A dumps transcribed verbatim from
 * ../shared/reference/proxy-modes.md §2.2–§2.5), upstream's sortNFTablesTransaction, the
 * dump-to-transaction reordering, and a tracer that replays upstream's packet-flow tests.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Rng } from "../../../src/sim/rng.ts"
import { ipv4, formatIpv4 } from "../../../src/wire/ipv4.ts"
import { Packet } from "../../../src/wire/packet.ts"
import { CtState } from "../../../src/netfilter/constants.ts"
import { NftInterpreter, NftResult, NftVerdict } from "../../../src/netfilter/nftables/eval.ts"
import type { NftHost } from "../../../src/netfilter/nftables/eval.ts"
import { parseTransaction } from "../../../src/netfilter/nftables/parse.ts"
import { NftRuleset } from "../../../src/netfilter/nftables/ruleset.ts"

export const FIXTURES = join(import.meta.dirname, "fixtures")

/** Per-service fixtures loaded on top of base.nft (era-A dumps and the DERIVED packet-flow rulesets). */
export const DUMPS: readonly string[] = [
  "a2-s1",
  "a2-s2",
  "a2-s3",
  "a2-s4",
  "a2-s5",
  "a2-s6",
  "a2-s7",
  "a2-s8",
  "a2-s9",
  "a3-loaded",
  "a3-expected",
  "a4",
  "affinity-local",
  "clusterip-general",
  "etp-local",
  "no-endpoints",
  "load-balancer",
]

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), "utf8")
}

/**
 * sortNFTablesTransaction from upstream helpers_test.go (§2.0): drop empty and `#` lines, stable
 * sort by object type (table, chain, rule, set, map, element), then object name, rules keep their
 * order, everything else by whole line.
 */
export function sortTransaction(tx: string): string {
  const order: Record<string, number> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 }
  const lines = tx.split("\n").filter((l) => l !== "" && l[0] !== "#")
  const less = (li: string, lj: string): boolean => {
    const wi = li.split(" ")
    const wj = lj.split(" ")
    if (wi.length < 5 || wj.length < 5) return false
    if (wi[1] !== wj[1]) return (order[wi[1]] ?? 0) >= (order[wj[1]] ?? 0)
    if (wi[4] !== wj[4]) return wi[4] < wj[4]
    if (wi[1] === "rule") return false
    return li < lj
  }
  // Stable insertion sort with Go's `less` (sort.SliceStable semantics for a consistent order).
  const out: string[] = []
  for (const line of lines) {
    let i = out.length
    while (i > 0 && less(line, out[i - 1])) i--
    out.splice(i, 0, line)
  }
  return out.join("\n")
}

/**
 * A knftables dump lists rules before the chains they jump to were necessarily created and
 * elements after rules; `nft -f` needs every object before its first reference. Reorder by object
 * type (table, chains, sets, maps, rules, elements), keeping each type's relative order.
 */
export function dumpToTransaction(dump: string): string {
  const rank: Record<string, number> = { table: 0, chain: 1, set: 2, map: 3, rule: 4, element: 5 }
  const lines = dump.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"))
  return lines
    .map((l, i) => ({ l, i, r: rank[l.split(" ")[1]] ?? 6 }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.l)
    .join("\n")
}

export function loadDump(dump: string, file = "dump.nft"): NftRuleset {
  const rs = new NftRuleset()
  rs.apply(parseTransaction(dumpToTransaction(dump), file))
  return rs
}

/** Node IPs of upstream's tracer (§1.8), IPv4 ones. */
export const TEST_NODE_IPS = ["192.168.0.2", "192.168.1.2", "192.168.99.11"].map(ipv4)

export class TestHost implements NftHost {
  readonly local = new Set<number>(TEST_NODE_IPS)
  addressType(address: number): number {
    // RTN_LOCAL for the node's addresses and 127/8, RTN_UNICAST otherwise.
    return this.local.has(address) || address >>> 24 === 127 ? 2 : 1
  }
}

export const HOOK = { PREROUTING: 0, INPUT: 1, FORWARD: 2, OUTPUT: 3, POSTROUTING: 4 } as const

export interface FlowOutcome {
  /** "DROP", "REJECT", "" or the sorted, ", "-joined endpoints seen. */
  output: string
  /** Whether postrouting masqueraded (for endpoint outputs). */
  masq: boolean
  /** Kernel expressions evaluated on the first probe. */
  expressions: number
  /** Chains entered on the first probe, in order, over all hooks. */
  path: string[]
}

/**
 * Replays one upstream packetFlowTest on the interpreter: a new connection's first packet through
 * PREROUTING (filter −110, nat −100), then INPUT when the (DNATed) destination is local, else
 * FORWARD, then POSTROUTING. Where upstream's tracer follows every numgen branch, this sends
 * `probes` packets with independent draws from a seeded stream and collects every endpoint chosen.
 */
export function runFlow(
  rs: NftRuleset,
  src: string,
  dst: string,
  dport: number,
  protocol = 6,
  probes = 64,
): FlowOutcome {
  const host = new TestHost()
  const nft = new NftInterpreter(rs, Rng.stream(1, "test/nftables/numgen"))
  const result = new NftResult()
  result.trace = []
  const seen = new Set<string>()
  let masq = false
  let expressions = 0
  const path: string[] = []
  for (let probe = 0; probe < probes; probe++) {
    const p = new Packet()
    p.srcAddr = ipv4(src)
    p.dstAddr = ipv4(dst)
    p.protocol = protocol
    p.srcPort = 40000
    p.dstPort = dport
    p.ctState = CtState.NEW
    let cost = 0
    const trail: string[] = []
    const run = (hook: number): NftVerdict => {
      const v = nft.runHook(hook, p, true, host, 0, result)
      cost += result.expressions
      trail.push(...result.trace!)
      return v
    }
    let v = run(HOOK.PREROUTING)
    if (v === NftVerdict.ACCEPT && result.dnat) {
      p.dstAddr = result.dnatAddress
      if (result.dnatPort !== 0) p.dstPort = result.dnatPort
    }
    if (v === NftVerdict.ACCEPT) v = run(host.addressType(p.dstAddr) === 2 ? HOOK.INPUT : HOOK.FORWARD)
    let postMasq = false
    if (v === NftVerdict.ACCEPT) {
      v = run(HOOK.POSTROUTING)
      postMasq = result.masquerade
    }
    if (probe === 0) {
      expressions = cost
      path.push(...trail)
    }
    if (v === NftVerdict.DROP) return { output: "DROP", masq: false, expressions, path }
    if (v === NftVerdict.REJECT) return { output: "REJECT", masq: false, expressions, path }
    if (p.dstAddr === ipv4(dst) && p.dstPort === dport) return { output: "", masq: false, expressions, path }
    seen.add(`${formatIpv4(p.dstAddr)}:${p.dstPort}`)
    masq ||= postMasq
  }
  return { output: [...seen].sort().join(", "), masq, expressions, path }
}
