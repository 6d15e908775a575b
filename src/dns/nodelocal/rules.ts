/**
 * The iptables rules node-cache (kubernetes/dns cmd/node-cache/app/cache_app.go) installs, and how
 * it installs and removes them:
 *   - `initIptables`: for each listen IP of `-localip` (in the flag's order), twelve rules — raw
 *     PREROUTING NOTRACK for queries, filter INPUT ACCEPT for them, raw OUTPUT NOTRACK and filter
 *     OUTPUT ACCEPT for replies (source port 53), raw OUTPUT NOTRACK for queries from the host
 *     itself, and raw OUTPUT NOTRACK both ways for the health port (default 8080, main.go
 *     `-health-port`);
 *   - `setupNetworking`: `EnsureRule(Prepend, ...)` for each rule in that order: `iptables -C`
 *     and, when absent, `iptables -I CHAIN` (position 1), so in each chain the last rule of the
 *     list ends up first;
 *   - `TeardownNetworking`: `DeleteRule` until the rule no longer exists.
 * Rules are applied through iptables-restore --noflush on the node's NetfilterStack (the
 * simulator's single iptables entry point); the text is what iptables-save prints for them
 * (address with /32 first, then `-p`, then the implicit `-m tcp`/`-m udp` match).
 */
import type { NetfilterStack } from "../../netfilter/stack.ts"

export interface NodeCacheRule {
  readonly table: "raw" | "filter"
  readonly chain: "PREROUTING" | "INPUT" | "OUTPUT"
  /** The arguments exactly as cache_app.go passes them to utiliptables. */
  readonly args: readonly string[]
}

/** main.go: `-health-port` default. */
export const NODE_CACHE_HEALTH_PORT = "8080"
/** main.go: LocalPort (CoreDNS's `dns.port`, 53). */
export const NODE_CACHE_LOCAL_PORT = "53"

/** cache_app.go initIptables, for the listen IPs in `-localip` order. */
export function nodeCacheRules(
  localIps: readonly string[],
  localPort = NODE_CACHE_LOCAL_PORT,
  healthPort = NODE_CACHE_HEALTH_PORT,
): NodeCacheRule[] {
  const out: NodeCacheRule[] = []
  for (const ip of localIps) {
    out.push(
      { table: "raw", chain: "PREROUTING", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "PREROUTING", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "filter", chain: "INPUT", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "ACCEPT"] },
      { table: "filter", chain: "INPUT", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "ACCEPT"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "udp", "-s", ip, "--sport", localPort, "-j", "NOTRACK"] },
      { table: "filter", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", localPort, "-j", "ACCEPT"] },
      { table: "filter", chain: "OUTPUT", args: ["-p", "udp", "-s", ip, "--sport", localPort, "-j", "ACCEPT"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "udp", "-d", ip, "--dport", localPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-d", ip, "--dport", healthPort, "-j", "NOTRACK"] },
      { table: "raw", chain: "OUTPUT", args: ["-p", "tcp", "-s", ip, "--sport", healthPort, "-j", "NOTRACK"] },
    )
  }
  return out
}

/**
 * The rule as iptables-save prints it (libiptc/iptables save order: -s, -d with their /32, -p, then
 * the protocol match `-m tcp`/`-m udp` that `-p` loaded implicitly with its port option, then -j).
 */
export function savedRuleSpec(rule: NodeCacheRule): string {
  const a = rule.args
  let proto = ""
  let src = ""
  let dst = ""
  let port = ""
  let target = ""
  for (let i = 0; i < a.length; i += 2) {
    const value = a[i + 1]
    switch (a[i]) {
      case "-p":
        proto = value
        break
      case "-s":
        src = `-s ${value}/32`
        break
      case "-d":
        dst = `-d ${value}/32`
        break
      case "--sport":
      case "--dport":
        port = `${a[i]} ${value}`
        break
      case "-j":
        target = `-j ${value}`
        break
    }
  }
  return [src, dst, `-p ${proto}`, `-m ${proto}`, port, target].filter((part) => part !== "").join(" ")
}

/** The rule's line in iptables-save output. */
export function savedRuleLine(rule: NodeCacheRule): string {
  return `-A ${rule.chain} ${savedRuleSpec(rule)}`
}

/** `iptables -t TABLE -C CHAIN ...`: does the chain hold the rule? */
export function ruleExists(stack: NetfilterStack, rule: NodeCacheRule): boolean {
  const line = savedRuleLine(rule)
  let inTable = false
  for (const text of stack.save().split("\n")) {
    if (text.startsWith("*")) inTable = text === `*${rule.table}`
    else if (inTable && text === line) return true
  }
  return false
}

/** setupNetworking: EnsureRule(Prepend) for each rule in order (`-C`, then `-I CHAIN` when absent). */
export function ensureNodeCacheRules(stack: NetfilterStack, rules: readonly NodeCacheRule[]): number {
  let added = 0
  for (const rule of rules) {
    if (ruleExists(stack, rule)) continue
    stack.restore(`*${rule.table}\n-I ${rule.chain} ${savedRuleSpec(rule)}\nCOMMIT\n`, { noflush: true })
    added++
  }
  return added
}

/** TeardownNetworking: DeleteRule while the rule exists (duplicates included). */
export function deleteNodeCacheRules(stack: NetfilterStack, rules: readonly NodeCacheRule[]): void {
  for (const rule of rules) {
    while (ruleExists(stack, rule))
      stack.restore(`*${rule.table}\n-D ${rule.chain} ${savedRuleSpec(rule)}\nCOMMIT\n`, { noflush: true })
  }
}
