/**
 * The per-mode sync cost models (src/proxy/sync-cost.ts): their formulas, the measured defaults
 * MODEL.md lists, and the iptables model's input (rules of the tables after a --noflush restore),
 * checked against the netfilter engine's tables after the same restore.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import {
  DEFAULT_IPTABLES_SYNC_COST,
  DEFAULT_IPVS_SYNC_COST,
  DEFAULT_NFTABLES_SYNC_COST,
  IptablesSyncCostModel,
  IpvsSyncCostModel,
  NftablesSyncCostModel,
  iptablesSyncWork,
  ipvsSyncWork,
  nftablesSyncWork,
  type SyncWork,
} from "../../src/proxy/sync-cost.ts"
import type { NetfilterStack } from "../../src/netfilter/stack.ts"
import { TABLE_NAMES, type TableId } from "../../src/netfilter/constants.ts"
import { makeNode } from "../netfilter/helpers.ts"

function work(fields: Partial<SyncWork>): SyncWork {
  return { objectsTotal: 0, objectsChanged: 0, transactionCommands: 0, netlinkOperations: 0, ...fields }
}

describe("sync cost models", () => {
  it("iptables: fixed + per rule of the replaced tables + per restore input line", () => {
    const model = new IptablesSyncCostModel({ fixedNs: 1000, perTableRuleNs: 10, perInputLineNs: 3 })
    expect(model.durationNs(work({ objectsTotal: 0, objectsChanged: 0 }))).toBe(1000)
    expect(model.durationNs(work({ objectsTotal: 500, objectsChanged: 20 }))).toBe(1000 + 5000 + 60)
    // A partial sync that rewrites few lines still pays for the whole table (legacy whole-table
    // replace), so it grows with the total even when the change is the same.
    const small = model.durationNs(work({ objectsTotal: 1_000, objectsChanged: 10 }))
    const large = model.durationNs(work({ objectsTotal: 100_000, objectsChanged: 10 }))
    expect(large - small).toBe(99_000 * 10)
    // nftables/IPVS inputs do not move the iptables model.
    expect(model.durationNs(work({ transactionCommands: 99, netlinkOperations: 99 }))).toBe(1000)
  })

  it("nftables: fixed + per transaction command + per object in the table", () => {
    const model = new NftablesSyncCostModel({ fixedNs: 500, perCommandNs: 7, perTableObjectNs: 2 })
    expect(model.durationNs(work({ transactionCommands: 10, objectsTotal: 100 }))).toBe(500 + 70 + 200)
    expect(model.durationNs(work({ objectsChanged: 1_000 }))).toBe(500)
  })

  it("IPVS: fixed + per netlink operation + per object listed back", () => {
    const model = new IpvsSyncCostModel({ fixedNs: 0, perNetlinkOperationNs: 100, perObjectNs: 1 })
    expect(model.durationNs(work({ netlinkOperations: 8, objectsTotal: 40 }))).toBe(840)
    expect(model.durationNs(work({ transactionCommands: 1_000 }))).toBe(0)
  })

  it("defaults are the figures MODEL.md lists (measured / derived, with sources there)", () => {
    expect(DEFAULT_IPTABLES_SYNC_COST).toEqual({ fixedNs: 11_000_000, perTableRuleNs: 13_500, perInputLineNs: 7_000 })
    expect(DEFAULT_NFTABLES_SYNC_COST).toEqual({ fixedNs: 28_000_000, perCommandNs: 40_000, perTableObjectNs: 2_400 })
    expect(DEFAULT_IPVS_SYNC_COST).toEqual({ fixedNs: 0, perNetlinkOperationNs: 100_000, perObjectNs: 9 })
    // The published order of magnitude: a full iptables sync of 10,000 Services x 1 endpoint
    // (~40,000 nat rules, ~60,000 input lines) takes about a second; seconds at 20,000 Services.
    const model = new IptablesSyncCostModel()
    const tenK = model.durationNs(work({ objectsTotal: 40_000, objectsChanged: 60_000 }))
    expect(tenK).toBeGreaterThan(0.5e9)
    expect(tenK).toBeLessThan(2e9)
    // nftables' partial sync of one Service in the same cluster is much cheaper than iptables'.
    const nft = new NftablesSyncCostModel().durationNs(work({ transactionCommands: 7, objectsTotal: 70_000 }))
    const ipt = model.durationNs(work({ objectsTotal: 40_000, objectsChanged: 10_000 }))
    expect(nft).toBeLessThan(ipt / 2)
  })

  it("refuses negative or fractional parameters and inputs", () => {
    expect(() => new IptablesSyncCostModel({ fixedNs: -1, perTableRuleNs: 0, perInputLineNs: 0 })).toThrow(/fixedNs/)
    expect(() => new NftablesSyncCostModel({ fixedNs: 0, perCommandNs: 0.5, perTableObjectNs: 0 })).toThrow(
      /perCommandNs/,
    )
    expect(() => new IptablesSyncCostModel().durationNs(work({ objectsTotal: -3 }))).toThrow(/objectsTotal/)
  })
})

function stack(): NetfilterStack {
  return makeNode().stack
}

function rulesIn(s: NetfilterStack, table: string): number {
  let rules = 0
  for (const chain of s.table(TABLE_NAMES.indexOf(table as (typeof TABLE_NAMES)[number]) as TableId).chains)
    rules += chain.rules.length
  return rules
}

function sizes(s: NetfilterStack) {
  return {
    tableRules: (table: string) => rulesIn(s, table),
    chainRules: (table: string, chain: string) =>
      s.table(TABLE_NAMES.indexOf(table as (typeof TABLE_NAMES)[number]) as TableId).chain(chain)?.rules.length ?? 0,
  }
}

/** A kube-proxy-shaped restore: declared chains refilled, some chains deleted with -X. */
function restoreText(chains: readonly (readonly [string, number])[], deleted: readonly string[]): string {
  const lines = ["*nat"]
  for (const [name] of chains) lines.push(`:${name} - [0:0]`)
  for (const [name, rules] of chains)
    for (let i = 0; i < rules; i++) lines.push(`-A ${name} -d 10.0.${i >> 8}.${i & 255}/32 -j ACCEPT`)
  for (const name of deleted) lines.push(`:${name} - [0:0]`, `-X ${name}`)
  lines.push("COMMIT", "")
  return lines.join("\n")
}

describe("iptablesSyncWork", () => {
  it("counts the rules the written tables hold after a --noflush restore, as the engine does", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 7 }),
        (first, second, deleteMask) => {
          const s = stack()
          const a = first.map((n, i) => [`KUBE-A${i}`, n] as const)
          s.restore(restoreText(a, []), { noflush: true })
          // Second restore: rewrite some chains (new sizes), add others, delete up to 3 of the first.
          const b = second.map((n, i) => [`KUBE-A${i * 2}`, n] as const)
          const rewritten = new Set(b.map(([name]) => name))
          const deleted = a
            .map(([name]) => name)
            .filter((name, i) => i < 3 && (deleteMask >> i) & 1 && !rewritten.has(name))
          const text = restoreText(b, deleted)
          const predicted = iptablesSyncWork(text, sizes(s))
          s.restore(text, { noflush: true })
          expect(predicted.objectsTotal).toBe(rulesIn(s, "nat"))
          expect(predicted.objectsChanged).toBe(text.split("\n").filter((l) => /^[:-]/.test(l)).length)
        },
      ),
      { numRuns: 100 },
    )
  })

  it("sums every table of the input (filter and nat are both replaced)", () => {
    const s = stack()
    const text =
      "*filter\n:KUBE-F - [0:0]\n-A KUBE-F -j ACCEPT\nCOMMIT\n*nat\n:KUBE-N - [0:0]\n-A KUBE-N -j ACCEPT\n-A KUBE-N -j RETURN\nCOMMIT\n"
    const predicted = iptablesSyncWork(text, sizes(s))
    s.restore(text, { noflush: true })
    expect(predicted.objectsTotal).toBe(rulesIn(s, "filter") + rulesIn(s, "nat"))
    expect(predicted.objectsTotal).toBe(3)
  })
})

describe("nftablesSyncWork / ipvsSyncWork", () => {
  it("counts the commands of an nft -f transaction (one a line, comments and blanks aside)", () => {
    const transaction = [
      'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
      "# a comment",
      "",
      "flush chain ip kube-proxy services",
      "add element ip kube-proxy cluster-ips { 172.30.0.41 }",
      "delete chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80",
    ].join("\n")
    expect(nftablesSyncWork(transaction, 120)).toEqual({
      objectsTotal: 120,
      objectsChanged: 4,
      transactionCommands: 4,
      netlinkOperations: 0,
    })
  })

  it("counts a line as String.prototype.trim and startsWith('#') would, whatever its whitespace", () => {
    const byLines = (text: string): number =>
      text.split("\n").filter((raw) => raw.trim() !== "" && !raw.trim().startsWith("#")).length
    // Every UTF-16 code unit a line could start with, alone and before a command or a comment.
    const units: string[] = []
    for (let c = 0; c < 0x10000; c++) units.push(String.fromCharCode(c))
    for (const u of units) {
      for (const text of [u, `${u}add x`, `${u}# c`, `${u}\n${u}${u}#\n\r${u}x`]) {
        const work = nftablesSyncWork(text, 0)
        if (work.transactionCommands !== byLines(text))
          expect([u.charCodeAt(0), text, work.transactionCommands]).toEqual([u.charCodeAt(0), text, byLines(text)])
      }
    }
    const part = fc.constantFrom("\n", "\r", " ", "\t", "\u00a0", "\u2028", "\ufeff", "#", "add", "x", "")
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), (parts) => {
        const text = parts.join("")
        expect(nftablesSyncWork(text, 0).transactionCommands).toBe(byLines(text))
      }),
      { seed: 1, numRuns: 2000 },
    )
  })

  it("sums the netlink operations of the changed Services; the total drives only the list-back", () => {
    const change = { virtualServerOps: 1, realServerOps: 3, addressOps: 1, ipsetEntryOps: 2 }
    const work = ipvsSyncWork(40_000, [change, { ...change, realServerOps: 0 }])
    expect(work).toEqual({ objectsTotal: 40_000, objectsChanged: 2, transactionCommands: 0, netlinkOperations: 11 })
    // One more changed Service costs its operations, whatever the cluster size.
    const model = new IpvsSyncCostModel()
    const one = model.durationNs(ipvsSyncWork(1_000, [change]))
    const two = model.durationNs(ipvsSyncWork(1_000, [change, change]))
    expect(two - one).toBe(7 * DEFAULT_IPVS_SYNC_COST.perNetlinkOperationNs)
  })
})
