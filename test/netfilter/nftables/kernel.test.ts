/**
 * The engine against the real nft on this machine (each load in a fresh network namespace made with
 * `unshare -n`, so the host's ruleset is never touched). Skips with a message when not root or when
 * nft/unshare are missing or namespaces are not permitted. Checks, for every fixture ruleset:
 * - real nft accepts the transaction text the parser accepts;
 * - `nft list table ip kube-proxy` prints exactly what listTable prints;
 * - every rule lowers to as many kernel expressions as the cost model charges for it (counted from
 *   `nft --debug=netlink`);
 * and that real nft also rejects the transactions the engine rejects for kernel reasons.
 * The full packet-level differential (real traffic through real rules) is the next round's.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseTransaction } from "../../../src/netfilter/nftables/parse.ts"
import { NftRuleset } from "../../../src/netfilter/nftables/ruleset.ts"
import { listTable } from "../../../src/netfilter/nftables/print.ts"
import { DUMPS, dumpToTransaction, fixture } from "./helpers.ts"

function probe(): string {
  if (process.getuid?.() !== 0) return "not running as root (network namespaces need CAP_SYS_ADMIN)"
  for (const tool of ["nft", "unshare"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} not found`
  }
  const r = spawnSync("unshare", ["-n", "nft", "list", "ruleset"], { encoding: "utf8" })
  if (r.status !== 0) return `unshare -n nft failed: ${r.stderr.trim()}`
  return ""
}

const skipReason = probe()
if (skipReason !== "") console.warn(`[nftables kernel check] SKIPPED: ${skipReason}`)
const title = skipReason === "" ? "real nft" : `real nft — SKIPPED: ${skipReason}`

const dir = skipReason === "" ? mkdtempSync(join(tmpdir(), "kube-netsim-nft-")) : ""

/** Runs `script` (sh) in a fresh network namespace with the transaction in $F. */
function inNamespace(text: string, script: string): { status: number; stdout: string; stderr: string } {
  const file = join(dir, "tx.nft")
  writeFileSync(file, `${text}\n`)
  const r = spawnSync("unshare", ["-n", "sh", "-c", script], { encoding: "utf8", env: { ...process.env, F: file } })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** Expressions per rule, in `add rule` order, from `nft --debug=netlink`. */
function kernelExpressionCounts(text: string): number[] {
  const out = execFileSync("unshare", ["-n", "sh", "-c", 'nft --debug=netlink -f "$F" 2>&1'], {
    encoding: "utf8",
    env: { ...process.env, F: join(dir, "tx.nft") },
    input: "",
  })
  void text
  const counts: number[] = []
  let inRule = false
  for (const line of out.split("\n")) {
    if (line.startsWith("ip kube-proxy ")) {
      counts.push(0)
      inRule = true
    } else if (inRule && line.startsWith("  [ ")) counts[counts.length - 1]++
    else if (!line.startsWith("  ")) inRule = false
  }
  return counts
}

describe.skipIf(skipReason !== "")(title, () => {
  function compareWithReal(name: string, text: string): void {
    const tx = parseTransaction(text, `${name}.nft`)
    const rs = new NftRuleset()
    rs.apply(tx)
    const real = inNamespace(text, 'nft -f "$F" && nft list table ip kube-proxy')
    expect(real.stderr).toBe("")
    expect(real.status).toBe(0)
    expect(listTable(rs.table!)).toBe(real.stdout)

    const ours: number[] = []
    const next = new Map<string, number>()
    for (const c of tx.commands) {
      if (c.object !== "rule") continue
      const i = next.get(c.chain) ?? 0
      next.set(c.chain, i + 1)
      ours.push(rs.table!.chains.get(c.chain)!.rules[i].statements.reduce((n, s) => n + s.cost, 0))
    }
    expect(kernelExpressionCounts(text)).toEqual(ours)
  }

  for (const name of DUMPS) {
    it(`${name}: accepted, listed and lowered as real nft does`, () => {
      compareWithReal(name, dumpToTransaction(fixture("base.nft") + fixture(`${name}.nft`)))
    })
  }

  it("every other supported expression: accepted, listed and lowered as real nft does", () => {
    compareWithReal(
      "sampler",
      [
        'add table ip kube-proxy { comment "sampler" ; }',
        "add set ip kube-proxy nets { type ipv4_addr ; flags interval ; }",
        "add set ip kube-proxy aff { type ipv4_addr ; flags dynamic,timeout ; timeout 90s ; }",
        "add set ip kube-proxy ports { type inet_proto . inet_service ; }",
        "add map ip kube-proxy m { type inet_proto . inet_service : verdict ; }",
        "add chain ip kube-proxy x",
        "add chain ip kube-proxy x2",
        "add chain ip kube-proxy late { type nat hook prerouting priority -90 ; }",
        "add chain ip kube-proxy guard { type filter hook prerouting priority dstnat - 10 ; policy drop ; }",
        "add chain ip kube-proxy out { type nat hook output priority -95 ; }",
        "add chain ip kube-proxy post { type nat hook postrouting priority 105 ; }",
        "add chain ip kube-proxy in { type filter hook input priority 20 ; }",
        "add rule ip kube-proxy guard ct state established,related accept",
        "add rule ip kube-proxy guard ct state new counter accept",
        "add rule ip kube-proxy guard ct state invalid drop",
        "add rule ip kube-proxy late tcp dport 80 dnat to 10.0.0.1:8080",
        "add rule ip kube-proxy late udp sport 53 dnat to 10.0.0.9",
        "add rule ip kube-proxy late sctp dport 9 ip saddr 10.1.2.0/23 goto x",
        "add rule ip kube-proxy x ip saddr != { 203.0.113.0/25, 192.168.0.0/24, 1.2.3.4 } drop",
        "add rule ip kube-proxy x ip daddr @nets reject",
        "add rule ip kube-proxy x meta l4proto . th dport @ports return",
        "add rule ip kube-proxy x meta l4proto . th sport vmap @m",
        "add rule ip kube-proxy x fib daddr type local ip daddr != 127.0.0.0/8 jump x2",
        "add rule ip kube-proxy x numgen random mod 3 offset 2 vmap { 2 : jump x2 , 3 : goto x2 , 4 : drop }",
        "add rule ip kube-proxy x meta mark set 0x10",
        "add rule ip kube-proxy x mark set mark and 0xffff",
        "add rule ip kube-proxy x mark and 0x4000 != 0 mark set mark xor 0x4000 continue",
        "add rule ip kube-proxy x update @aff { ip saddr timeout 30s } accept",
        "add rule ip kube-proxy out ip daddr 10.0.0.0/8 dnat to 10.9.9.9",
        "add rule ip kube-proxy post ip daddr 10.0.0.0/8 masquerade random,persistent",
        "add rule ip kube-proxy post masquerade",
        'add rule ip kube-proxy in fib saddr type local tcp dport 22 accept comment "ssh local"',
        "add element ip kube-proxy nets { 10.0.0.0/8, 192.168.0.0/16, 1.2.3.4 }",
        "add element ip kube-proxy ports { tcp . 80, udp . 53 }",
        "add element ip kube-proxy m { tcp . 1 : accept, udp . 2 : drop }",
      ].join("\n"),
    )
  })

  const base = "add table ip kube-proxy\nadd chain ip kube-proxy a\nadd chain ip kube-proxy b\n"
  const map = base + "add map ip kube-proxy m { type inet_proto . inet_service : verdict ; }\n"
  const rejected: readonly [string, string][] = [
    ["jump to a missing chain", base + "add rule ip kube-proxy a jump nowhere"],
    [
      "element clash (EBUSY)",
      map + "add element ip kube-proxy m { tcp . 80 : goto a }\nadd element ip kube-proxy m { tcp . 80 : goto b }",
    ],
    [
      "delete a referenced chain",
      map + "add element ip kube-proxy m { tcp . 80 : goto a }\ndelete chain ip kube-proxy a",
    ],
    ["create an existing chain", base + "create chain ip kube-proxy a"],
    [
      "a jump loop",
      base +
        "add chain ip kube-proxy in { type filter hook input priority 0 ; }\nadd rule ip kube-proxy in jump a\nadd rule ip kube-proxy a goto b\nadd rule ip kube-proxy b jump a",
    ],
    [
      "dnat reached from a filter chain",
      base +
        "add chain ip kube-proxy f { type filter hook prerouting priority 0 ; }\nadd rule ip kube-proxy f jump a\nadd rule ip kube-proxy a dnat to 10.0.0.1",
    ],
    [
      "masquerade at nat output",
      base + "add chain ip kube-proxy o { type nat hook output priority -100 ; }\nadd rule ip kube-proxy o masquerade",
    ],
    ["delete a missing element", map + "delete element ip kube-proxy m { tcp . 80 }"],
    [
      "overlapping intervals in a named set",
      base +
        "add set ip kube-proxy s { type ipv4_addr ; flags interval ; }\nadd element ip kube-proxy s { 10.0.0.0/8 }\nadd element ip kube-proxy s { 10.1.0.0/16 }",
    ],
  ]
  for (const [what, text] of rejected) {
    it(`rejects like real nft: ${what}`, () => {
      expect(() => new NftRuleset().apply(parseTransaction(text, "bad.nft"))).toThrow(/^bad\.nft:\d+:\d+: /)
      expect(inNamespace(text, 'nft -f "$F"').status).not.toBe(0)
    })
  }
})
