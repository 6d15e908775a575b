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
  for (const name of DUMPS) {
    it(`${name}: accepted, listed and lowered as real nft does`, () => {
      const text = dumpToTransaction(fixture("base.nft") + fixture(`${name}.nft`))
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
    })
  }

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
