/**
 * Committed nftables objects shared between nodes (intern.ts, issue 10): two nodes applying the
 * same transactions hold the same chain, rule and set objects; a difference (one node's
 * nodeport-ips) keeps only the chains that read it apart; dynamic affinity sets and the rules
 * that update them stay per node, so a packet's `update` on one node never shows on another.
 * And the proxier's table (proxy/nftables/table.ts): copy on write, snapshots unchanged by later
 * transactions, rule specs pooled.
 */
import { describe, expect, it } from "vitest"
import { Rng } from "../../../src/sim/rng.ts"
import { ipv4 } from "../../../src/wire/ipv4.ts"
import { Packet } from "../../../src/wire/packet.ts"
import { CtState } from "../../../src/netfilter/constants.ts"
import { NftInterpreter, NftResult, NftVerdict } from "../../../src/netfilter/nftables/eval.ts"
import { parseTransaction } from "../../../src/netfilter/nftables/parse.ts"
import { NftRuleset } from "../../../src/netfilter/nftables/ruleset.ts"
import { NftInternPool } from "../../../src/netfilter/nftables/intern.ts"
import { listTable } from "../../../src/netfilter/nftables/print.ts"
import { NftSpecPool, NftTable } from "../../../src/proxy/nftables/table.ts"
import type { NftOperation } from "../../../src/proxy/nftables/table.ts"
import { HOOK, TestHost, dumpToTransaction, fixture } from "./helpers.ts"

function node(pool: NftInternPool, text: string): NftRuleset {
  const rs = new NftRuleset()
  rs.pool = pool
  rs.apply(pool.parse(text, "t.nft"))
  return rs
}

describe("nodes share committed nftables objects", () => {
  it("equal tables are the same objects; a node's own nodeport-ips keeps only its readers apart", () => {
    const pool = new NftInternPool()
    const base = dumpToTransaction(fixture("base.nft") + fixture("a2-s1.nft"))
    const a = node(pool, base)
    const b = node(pool, base)
    const own = new NftRuleset()
    own.apply(parseTransaction(base, "t.nft"))
    // Same listing as a table of its own...
    expect(listTable(a.table!, 0)).toBe(listTable(own.table!, 0))
    expect(listTable(b.table!, 0)).toBe(listTable(own.table!, 0))
    // ...and every chain and set is the first node's object.
    for (const [name, chain] of b.table!.chains) expect(chain).toBe(a.table!.chains.get(name))
    for (const [name, set] of b.table!.sets) expect(set).toBe(a.table!.sets.get(name))
    expect(pool.transactionsShared).toBe(1)

    // Node c has another node IP in nodeport-ips: that set and the chains reading it are its own.
    const c = node(pool, base.replace(/(add element ip kube-proxy nodeport-ips \{ )[0-9.]+/, "$1192.168.0.99"))
    const differing = [...c.table!.chains].filter(([name, chain]) => a.table!.chains.get(name) !== chain)
    expect(differing.map(([name]) => name).sort()).toEqual(["nodeport-endpoints-check", "services"])
    expect(c.table!.sets.get("nodeport-ips")).not.toBe(a.table!.sets.get("nodeport-ips"))
    expect(c.table!.sets.get("service-ips")).toBe(a.table!.sets.get("service-ips"))
    // Rules that do not read the set are shared even inside the differing chains.
    const rulesA = new Set(a.table!.chains.get("services")!.rules)
    expect(c.table!.chains.get("services")!.rules.filter((r) => rulesA.has(r)).length).toBe(
      a.table!.chains.get("services")!.rules.length - 1,
    )
  })

  it("with node-local nodeport-ips, nodes share whole tables and list their own IPs", () => {
    const pool = new NftInternPool()
    const text = dumpToTransaction(fixture("base.nft") + fixture("a2-s1.nft"))
    const otherIp = text.replace(/(add element ip kube-proxy nodeport-ips \{ )[0-9.]+/, "$1192.168.0.99")
    expect(otherIp).not.toBe(text)
    const shared = (t: string): NftRuleset => {
      const rs = new NftRuleset()
      rs.pool = pool
      rs.localSetNames = new Set(["nodeport-ips"])
      rs.applyText(t, "t.nft", 0)
      return rs
    }
    const own = (t: string): NftRuleset => {
      const rs = new NftRuleset()
      rs.apply(parseTransaction(t, "t.nft"))
      return rs
    }
    const a = shared(text)
    const b = shared(text)
    const c = shared(otherIp)
    // Same text on the same (empty) table: the same table object, applied once.
    expect(b.table).toBe(a.table)
    expect(pool.transitionsShared).toBe(1)
    // Another node IP: every chain and set is shared (the readers of nodeport-ips included); the
    // node's IPs are its own instance.
    for (const [name, chain] of c.table!.chains) expect(chain).toBe(a.table!.chains.get(name))
    for (const [name, set] of c.table!.sets) expect(set).toBe(a.table!.sets.get(name))
    const declaration = a.table!.sets.get("nodeport-ips")!
    expect(declaration.nodeLocal).toBe(true)
    expect(declaration.count).toBe(0)
    expect(a.localSetOf(declaration)).not.toBe(c.localSetOf(declaration))
    expect(a.localSetCount).toBe(1)
    // Each lists exactly as a table of its own.
    expect(listTable(a.viewTable()!, 0)).toBe(listTable(own(text).table!, 0))
    expect(listTable(c.viewTable()!, 0)).toBe(listTable(own(otherIp).table!, 0))
    expect(listTable(c.viewTable()!, 0)).toContain("elements = { 192.168.0.99 }")
    // A flush of the set leaves the node with no instance (sparse: the empty declaration).
    c.applyText("flush set ip kube-proxy nodeport-ips\n", "t.nft", 0)
    expect(c.localSetCount).toBe(0)
    expect(c.table!.sets.get("nodeport-ips")).toBe(declaration)
  })

  it("affinity sets (dynamic, timeout) and their users stay per node: one node's updates are its own", () => {
    const pool = new NftInternPool()
    const text = dumpToTransaction(fixture("base.nft") + fixture("affinity-local.nft"))
    const a = node(pool, text)
    const b = node(pool, text)
    const affinity = [...a.table!.sets.keys()].filter((n) => n.startsWith("affinity-"))
    expect(affinity.length).toBeGreaterThan(0)
    for (const name of affinity) expect(b.table!.sets.get(name)).not.toBe(a.table!.sets.get(name))
    expect(pool.stats.perNodeObjects).toBeGreaterThan(0)
    // A client of node a is remembered on a only.
    const p = new Packet()
    p.srcAddr = ipv4("10.0.0.2")
    p.dstAddr = ipv4("172.30.0.41")
    p.protocol = 6
    p.dstPort = 80
    p.ctState = CtState.NEW
    const result = new NftResult()
    const nft = new NftInterpreter(a, Rng.stream(3, "test/affinity"))
    expect(nft.runHook(HOOK.PREROUTING, p, true, new TestHost(), 0, result)).toBe(NftVerdict.ACCEPT)
    expect(result.setUpdates).toBe(1)
    const count = (rs: NftRuleset): number => affinity.reduce((n, name) => n + rs.table!.sets.get(name)!.count, 0)
    expect(count(a)).toBe(1)
    expect(count(b)).toBe(0)
  })
})

describe("the proxier's table: copy on write and pooled specs", () => {
  const ops = (...lines: NftOperation[]): NftOperation[] => lines
  const setup = ops(
    { verb: "add", kind: "table" },
    { verb: "add", kind: "chain", chain: { name: "c" } },
    { verb: "add", kind: "map", set: { name: "m", type: "ipv4_addr : verdict" } },
    { verb: "add", kind: "rule", rule: { chain: "c", rule: "ip daddr 10.0.0.1 drop" } },
    { verb: "add", kind: "element", element: { container: "m", isMap: true, key: ["10.0.0.1"], value: ["goto c"] } },
  )

  it("a snapshot is unchanged by later transactions, a failed one changes nothing", () => {
    const table = new NftTable("ip", "kube-proxy")
    table.apply(setup)
    const snapshot = table.snapshot()
    const before = snapshot.dump()
    table.apply(
      ops(
        { verb: "flush", kind: "chain", chain: { name: "c" } },
        { verb: "add", kind: "rule", rule: { chain: "c", rule: "ip daddr 10.0.0.2 drop" } },
        { verb: "delete", kind: "element", element: { container: "m", isMap: true, key: ["10.0.0.1"], value: [] } },
        {
          verb: "add",
          kind: "element",
          element: { container: "m", isMap: true, key: ["10.0.0.3"], value: ["goto c"] },
        },
      ),
    )
    expect(snapshot.dump()).toBe(before)
    expect(table.dump()).toContain("ip daddr 10.0.0.2 drop")
    expect(table.dump()).not.toContain("10.0.0.1")
    const after = table.dump()
    expect(() =>
      table.apply(
        ops(
          { verb: "add", kind: "rule", rule: { chain: "c", rule: "ip daddr 10.0.0.4 drop" } },
          { verb: "add", kind: "rule", rule: { chain: "nope", rule: "drop" } },
        ),
      ),
    ).toThrow(/no such chain/)
    expect(table.dump()).toBe(after)
    table.restoreFrom(snapshot)
    expect(table.dump()).toBe(before)
  })

  it("two tables with one pool hold the same rule and element spec objects", () => {
    const specs = new NftSpecPool()
    const a = new NftTable("ip", "kube-proxy")
    const b = new NftTable("ip", "kube-proxy")
    a.pool = specs
    b.pool = specs
    a.apply(setup)
    b.apply(structuredClone(setup))
    expect(b.rules("c")[0]).toBe(a.rules("c")[0])
    expect(b.elements("m")![0]).toBe(a.elements("m")![0])
    expect(b.dump()).toBe(a.dump())
    expect(specs.shared).toBe(2)
  })
})
