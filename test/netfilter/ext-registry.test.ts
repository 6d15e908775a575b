/**
 * Goal: the rule parser dispatches `-m NAME` and `-j NAME` through the extension registry (one file
 * per extension under src/netfilter/ext/, as iptables' extensions/libxt_*.c), and each file holds
 * the extensions it is named for. Method: the registry's names, and a parse through the registry.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { MATCH_EXTENSIONS, TARGET_EXTENSIONS } from "../../src/netfilter/ext/registry.ts"
import { parseRule, tokenize } from "../../src/netfilter/rule.ts"
import { NfacctCounter } from "../../src/netfilter/xt.ts"
import type { RuleEnvironment } from "../../src/netfilter/xt.ts"
import { RecentTable } from "../../src/netfilter/recent.ts"
import { MultiportMatch } from "../../src/netfilter/ext/xt_multiport.ts"

const env: RuleEnvironment = {
  recentTable: (name) => new RecentTable(name, 100, 20),
  nfacctCounter: (name) => new NfacctCounter(name),
  ipSet: () => undefined,
}

describe("extension registry", () => {
  it("knows every match and target kube-proxy writes, one file per extension", () => {
    expect([...MATCH_EXTENSIONS.keys()].sort()).toEqual([
      "addrtype",
      "comment",
      "conntrack",
      "icmp",
      "ipvs",
      "mark",
      "multiport",
      "nfacct",
      "physdev",
      "recent",
      "set",
      "state",
      "statistic",
      "tcp",
      "udp",
    ])
    expect([...TARGET_EXTENSIONS.keys()].sort()).toEqual([
      "ACCEPT",
      "CT",
      "DNAT",
      "DROP",
      "LOG",
      "MARK",
      "MASQUERADE",
      "NOTRACK",
      "REDIRECT",
      "REJECT",
      "RETURN",
      "SNAT",
    ])
    const files = readdirSync(join(import.meta.dirname, "../../src/netfilter/ext")).sort()
    expect(files.every((f) => /^(xt|ipt)_[A-Za-z0-9]+\.ts$/.test(f) || f === "registry.ts")).toBe(true)
    // No two files differ only in case (xt_mark.c holds both mark and MARK, as the kernel's does).
    expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(files.length)
  })

  it("parses through the registry and refuses unknown extensions and options", () => {
    const rule = parseRule(tokenize("-p tcp -m multiport --dports 80,443:445 -j MARK --or-mark 0x4000"), env)
    const m = rule.matches[0] as MultiportMatch
    expect(m).toBeInstanceOf(MultiportMatch)
    expect([m.min, m.max]).toEqual([
      [80, 443],
      [80, 445],
    ])
    expect([rule.target.markValue, rule.target.markMask]).toEqual([0x4000, 0x4000])
    expect(() => parseRule(tokenize("-m nosuch -j ACCEPT"), env)).toThrow(/unknown match "nosuch"/)
    expect(() => parseRule(tokenize("-j DNAT --to-source 1.2.3.4"), env)).toThrow(/unknown option "--to-source"/)
    expect(() => parseRule(tokenize("-j ACCEPT ! --reject-with tcp-reset"), env)).toThrow(/unknown option/)
  })
})
