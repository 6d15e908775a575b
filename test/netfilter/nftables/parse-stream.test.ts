/**
 * parseTransaction reads one command's tokens at a time (issue 10: a 10,000-Service kube-proxy
 * transaction is millions of tokens, which held at once were the largest allocation of applying
 * it), with the results and errors of tokenizing the whole text first.
 */
import { describe, expect, it } from "vitest"
import { nftParseStats, parseTransaction, tokenize } from "../../../src/netfilter/nftables/parse.ts"

describe("nftables parser: one command's tokens at a time", () => {
  it("holds the tokens of the longest command, not of the whole text", () => {
    const lines = ['add table ip kube-proxy { comment "rules for kube-proxy" ; }']
    for (let i = 0; i < 2000; i++) {
      lines.push(`add chain ip kube-proxy svc-${i}`)
      lines.push(`add rule ip kube-proxy svc-${i} ip daddr 10.0.${i >> 8}.${i & 255} udp dport 53 counter accept`)
    }
    const text = lines.join("\n") + "\n"
    nftParseStats.tokensHeldMax = 0
    const tx = parseTransaction(text, "big.nft")
    expect(tx.commands.length).toBe(4001)
    const total = tokenize(text, "big.nft").length
    expect(total).toBeGreaterThan(40_000)
    expect(nftParseStats.tokensHeldMax).toBeLessThan(20)
  })

  it("reports an unterminated string before an earlier command's error, as a whole-text scan does", () => {
    const text = 'add nonsense ip t\nadd chain ip t c { comment "open\n}\n'
    expect(() => parseTransaction(text, "bad.nft")).toThrow(/bad\.nft:2:28: unterminated string/)
    expect(() => parseTransaction("add nonsense ip t\n", "bad.nft")).toThrow(/bad\.nft:1:5: unknown object/)
  })

  it("splits commands at newlines and semicolons outside braces only, keeping quoted text whole", () => {
    const text =
      'add table ip t\nadd chain ip t c { type filter hook input priority 0 ;\n policy accept ; comment "a;b\\"{" ; }\nadd rule ip t c accept; add rule ip t c drop\n'
    const tx = parseTransaction(text, "t.nft")
    expect(tx.commands.map((c) => c.object)).toEqual(["table", "chain", "rule", "rule"])
  })
})
