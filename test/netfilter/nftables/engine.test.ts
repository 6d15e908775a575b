/**
 * Parser errors, transaction atomicity, kernel error cases, numgen's mapping, constant-cost set
 * lookups, and dynamic affinity sets with timeouts.
 */
import { describe, expect, it } from "vitest"
import { Rng } from "../../../src/sim/rng.ts"
import { ipv4 } from "../../../src/wire/ipv4.ts"
import { Packet } from "../../../src/wire/packet.ts"
import { CtState } from "../../../src/netfilter/constants.ts"
import { NftInterpreter, NftResult, NftVerdict, reciprocalScale } from "../../../src/netfilter/nftables/eval.ts"
import { NftParseError, parseTransaction } from "../../../src/netfilter/nftables/parse.ts"
import { NftRuleset } from "../../../src/netfilter/nftables/ruleset.ts"
import { dumpTable, listTable } from "../../../src/netfilter/nftables/print.ts"
import { HOOK, TestHost, fixture, loadDump, runFlow, sortTransaction } from "./helpers.ts"

function parseError(text: string): NftParseError {
  try {
    new NftRuleset().apply(parseTransaction(text, "t.nft"))
  } catch (e) {
    if (e instanceof NftParseError) return e
    throw e
  }
  throw new Error("no error")
}

const TABLE = "add table ip kube-proxy\n"

describe("errors carry file:line:column", () => {
  it("syntax errors", () => {
    expect(
      parseError(TABLE + "add chain ip kube-proxy x\nadd rule ip kube-proxy x ip daddr 1.2.3 drop\n").message,
    ).toBe('t.nft:3:35: "1.2.3" is not a valid ipv4_addr')
    expect(parseError(TABLE + "add chain ip kube-proxy x { type nat hook prerouting priority bogus ; }").message).toBe(
      't.nft:2:63: unknown priority "bogus"',
    )
    expect(parseError('add table ip kube-proxy { comment "unterminated ; }').message).toBe(
      "t.nft:1:35: unterminated string",
    )
    expect(
      parseError(TABLE + "add chain ip kube-proxy x\nadd rule ip kube-proxy x numgen inc mod 2 vmap { 0 : drop }")
        .message,
    ).toBe('t.nft:3:33: only numgen random is supported, got "inc"')
    expect(parseError("add table ip6 kube-proxy").message).toBe('t.nft:1:11: unsupported family "ip6" (only ip)')
  })

  it("kernel errors: missing objects, clashes, references", () => {
    expect(parseError(TABLE + "add chain ip kube-proxy x\nadd rule ip kube-proxy x jump nowhere").message).toBe(
      "t.nft:3:1: no such chain nowhere (ENOENT)",
    )
    expect(parseError(TABLE + "add chain ip kube-proxy x\nadd rule ip kube-proxy x ip daddr @nope drop").message).toBe(
      "t.nft:3:1: no such set nope (ENOENT)",
    )
    const map =
      TABLE +
      "add chain ip kube-proxy a\nadd chain ip kube-proxy b\nadd map ip kube-proxy m { type inet_proto . inet_service : verdict ; }\n"
    // nf_tables_api.c nft_add_set_elem: an existing key with different data is EBUSY even without NLM_F_EXCL.
    expect(
      parseError(
        map + "add element ip kube-proxy m { tcp . 80 : goto a }\nadd element ip kube-proxy m { tcp . 80 : goto b }",
      ).message,
    ).toBe("t.nft:6:31: element exists in m with a different value (EBUSY)")
    expect(
      parseError(map + "add element ip kube-proxy m { tcp . 80 : goto a }\ndelete chain ip kube-proxy a").message,
    ).toBe("t.nft:6:1: chain a is referenced (EBUSY)")
    expect(parseError(map + "add element ip kube-proxy m { tcp . 80 }").message).toBe(
      "t.nft:5:31: element of map m needs a value",
    )
    expect(
      parseError(TABLE + "add set ip kube-proxy s { type ipv4_addr ; }\nadd element ip kube-proxy s { 10.0.0.0/8 }")
        .message,
    ).toBe("t.nft:3:31: prefix element in s, which is not an interval set")
  })
})

describe("transactions", () => {
  it("apply atomically: a failing command leaves the table as it was", () => {
    const rs = loadDump(fixture("base.nft") + fixture("a2-s1.nft"))
    const before = dumpTable(rs.table!)
    const generation = rs.generation
    const tx = parseTransaction(
      [
        "add element ip kube-proxy cluster-ips { 172.30.0.99 }",
        "flush chain ip kube-proxy services",
        "delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }",
        "add rule ip kube-proxy services jump no-such-chain",
      ].join("\n"),
      "partial.nft",
    )
    expect(() => rs.apply(tx)).toThrow("partial.nft:4:1: no such chain no-such-chain (ENOENT)")
    expect(dumpTable(rs.table!)).toBe(before)
    expect(rs.generation).toBe(generation)
    // The interpreter still sees the old rules.
    expect(runFlow(rs, "10.0.0.2", "172.30.0.41", 80).output).toBe("10.0.1.1:80")
  })

  it("a partial sync (S8 -> S9 of TestSyncProxyRulesRepeated) gives upstream's S9 state", () => {
    const rs = loadDump(fixture("base.nft") + fixture("a2-s8.nft"))
    const svc3 = "service-4AT6LBPK-ns3/svc3/tcp/p80"
    const ep2 = "endpoint-SWWHDC7X-ns3/svc3/tcp/p80__10.0.3.2/80"
    const ep3 = "endpoint-TQ2QKHCZ-ns3/svc3/tcp/p80__10.0.3.3/80"
    // Upstream's 5 operations: remove 1 from service-ips, add 1 to no-endpoint-services, flush 3 chains.
    rs.apply(
      parseTransaction(
        [
          "delete element ip kube-proxy service-ips { 172.30.0.43 . tcp . 80 }",
          'add element ip kube-proxy no-endpoint-services { 172.30.0.43 . tcp . 80 comment "ns3/svc3:p80" : goto reject-chain }',
          `flush chain ip kube-proxy ${svc3}`,
          `flush chain ip kube-proxy ${ep2}`,
          `flush chain ip kube-proxy ${ep3}`,
        ].join("\n"),
      ),
    )
    expect(sortTransaction(dumpTable(rs.table!))).toBe(sortTransaction(fixture("base.nft") + fixture("a2-s9.nft")))
    expect(runFlow(rs, "10.0.0.2", "172.30.0.43", 80).output).toBe("REJECT")
    // Stale chains are deleted later, in a transaction of their own (§1.4), once unreferenced.
    rs.apply(parseTransaction([svc3, ep2, ep3].map((c) => `delete chain ip kube-proxy ${c}`).join("\n")))
    expect(rs.table!.chains.has(svc3)).toBe(false)
  })

  it("flush table empties chains and sets but keeps them; delete table removes it", () => {
    const rs = loadDump(fixture("base.nft") + fixture("a2-s1.nft"))
    rs.apply(parseTransaction("flush table ip kube-proxy"))
    expect(rs.table!.chains.get("services")!.rules.length).toBe(0)
    expect(rs.table!.sets.get("cluster-ips")!.count).toBe(0)
    rs.apply(parseTransaction("delete table ip kube-proxy"))
    expect(rs.table).toBe(null)
  })
})

describe("numgen random mod N", () => {
  it("reciprocal_scale is (u64)val * ep_ro >> 32, exactly", () => {
    for (const [value, modulus] of [
      [0, 7],
      [0xffffffff, 7],
      [0x80000000, 3],
      [0x12345678, 1000],
      [0xdeadbeef, 0xffffffff],
      [0xffffffff, 0xffffffff],
    ]) {
      const exact = Number((BigInt(value) * BigInt(modulus)) >> 32n)
      expect(reciprocalScale(value, modulus)).toBe(exact)
    }
    expect(reciprocalScale(0xffffffff, 2)).toBe(1)
    expect(reciprocalScale(0x7fffffff, 2)).toBe(0)
  })

  it("draws from the seeded stream: same seed, same choices; roughly uniform", () => {
    const rs = loadDump(fixture("base.nft") + fixture("clusterip-general.nft"))
    const pick = (seed: number): string[] => {
      const nft = new NftInterpreter(rs, Rng.stream(seed, "test/numgen"))
      const result = new NftResult()
      const out: string[] = []
      for (let i = 0; i < 2000; i++) {
        const p = new Packet()
        p.srcAddr = ipv4("10.0.0.2")
        p.dstAddr = ipv4("172.30.0.42")
        p.protocol = 6
        p.dstPort = 80
        p.ctState = CtState.NEW
        nft.runHook(HOOK.PREROUTING, p, true, new TestHost(), 0, result)
        out.push(String(result.dnatAddress))
      }
      return out
    }
    const a = pick(7)
    expect(pick(7)).toEqual(a)
    expect(pick(8)).not.toEqual(a)
    const first = a.filter((x) => x === String(ipv4("10.180.0.1"))).length
    // Binomial(2000, 1/2): 5 sigma is ±112.
    expect(Math.abs(first - 1000)).toBeLessThan(112)
  })
})

/** baseRules + `n` ClusterIP services with one endpoint each, in transaction form. */
function manyServices(n: number): NftRuleset {
  const lines: string[] = []
  const elements: string[] = []
  for (let i = 0; i < n; i++) {
    const cip = `172.30.${i >> 8}.${i & 255}`
    const ep = `10.1.${i >> 8}.${i & 255}`
    const svc = `service-X-ns/svc${i}/tcp/p80`
    const epc = `endpoint-X-ns/svc${i}/tcp/p80__${ep}/80`
    lines.push(`add chain ip kube-proxy ${svc}`, `add chain ip kube-proxy ${epc}`)
    lines.push(`add rule ip kube-proxy ${svc} ip daddr ${cip} ip saddr != 10.0.0.0/8 jump mark-for-masquerade`)
    lines.push(`add rule ip kube-proxy ${svc} numgen random mod 1 vmap { 0 : goto ${epc} }`)
    lines.push(`add rule ip kube-proxy ${epc} ip saddr ${ep} jump mark-for-masquerade`)
    lines.push(`add rule ip kube-proxy ${epc} meta l4proto tcp dnat to ${ep}:80`)
    elements.push(`add element ip kube-proxy cluster-ips { ${cip} }`)
    elements.push(`add element ip kube-proxy service-ips { ${cip} . tcp . 80 : goto ${svc} }`)
  }
  return loadDump(fixture("base.nft") + lines.join("\n") + "\n" + elements.join("\n"))
}

describe("cost does not grow with the number of Services", () => {
  it("the first packet to a service evaluates the same expressions with 10 or 3000 services", () => {
    const small = runFlow(manyServices(10), "10.0.0.2", "172.30.0.5", 80, 6, 1)
    const large = manyServices(3000)
    const first = runFlow(large, "10.0.0.2", "172.30.0.5", 80, 6, 1)
    const last = runFlow(large, "10.0.0.2", "172.30.11.183", 80, 6, 1)
    expect(small.output).toBe("10.1.0.5:80")
    expect(last.output).toBe("10.1.11.183:80")
    expect(first.expressions).toBe(small.expressions)
    expect(last.expressions).toBe(small.expressions)
  })
})

describe("session affinity (update @affinity-... with timeout)", () => {
  const A = "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
  const B = "MLKSHPWN-ns1/svc1/tcp/p80__10.180.2.1/80"

  function send(nft: NftInterpreter, src: string, nowNs: number, result: NftResult): number {
    const p = new Packet()
    p.srcAddr = ipv4(src)
    p.dstAddr = ipv4("172.30.0.41")
    p.protocol = 6
    p.dstPort = 80
    p.ctState = CtState.NEW
    expect(nft.runHook(HOOK.PREROUTING, p, true, new TestHost(), nowNs, result)).toBe(NftVerdict.ACCEPT)
    return result.dnatAddress
  }

  it("a client sticks to its endpoint until the 10800 s timeout, then draws again", () => {
    const rs = loadDump(fixture("base.nft") + fixture("affinity-local.nft"))
    const nft = new NftInterpreter(rs, Rng.stream(3, "test/affinity"))
    const result = new NftResult()
    const firstChoice = send(nft, "10.0.0.2", 0, result)
    expect(result.setUpdates).toBe(1)
    for (let i = 1; i <= 50; i++) expect(send(nft, "10.0.0.2", i * 1e9, result)).toBe(firstChoice)
    // Each hit refreshed the timeout: the last update was at 50 s.
    const chosen = firstChoice === ipv4("10.180.0.1") ? A : B
    const set = rs.table!.sets.get(`affinity-${chosen}`)!
    expect(set.count).toBe(1)
    expect(listTable(rs.table!, 50e9)).toContain("elements = { 10.0.0.2 expires 3h }")
    expect(listTable(rs.table!, 60e9)).toContain("elements = { 10.0.0.2 expires 2h59m50s }")
    // After expiry the client draws again; across many clients both endpoints appear.
    const later = 50e9 + 10800e9 + 1
    const seen = new Set<number>()
    for (let i = 0; i < 40; i++) seen.add(send(nft, `10.0.1.${i}`, later, result))
    expect(seen.size).toBe(2)
  })
})

describe("jump stack", () => {
  it("a jump chain deeper than NFT_JUMP_STACK_SIZE (16) drops the packet", () => {
    const chains = Array.from({ length: 18 }, (_, i) => `c${i}`)
    const text = [
      TABLE.trim(),
      "add chain ip kube-proxy base { type filter hook input priority 0 ; }",
      ...chains.map((c) => `add chain ip kube-proxy ${c}`),
      "add rule ip kube-proxy base jump c0",
      ...chains.slice(0, -1).map((c, i) => `add rule ip kube-proxy ${c} jump c${i + 1}`),
    ].join("\n")
    const rs = new NftRuleset()
    rs.apply(parseTransaction(text))
    const nft = new NftInterpreter(rs, Rng.stream(1, "t"))
    const result = new NftResult()
    const p = new Packet()
    expect(nft.runHook(HOOK.INPUT, p, true, new TestHost(), 0, result)).toBe(NftVerdict.DROP)
  })

  it("a chain reached by goto from the base chain ends with the base chain's policy", () => {
    // nf_tables_core.c nft_do_chain: with an empty jump stack the verdict is the base chain's policy.
    for (const [policy, last] of [
      ["drop", "return"],
      ["accept", "return"],
      ["drop", "counter"],
      ["accept", "counter"],
    ]) {
      const rs = new NftRuleset()
      rs.apply(
        parseTransaction(
          TABLE +
            `add chain ip kube-proxy base { type filter hook input priority 0 ; policy ${policy} ; }\n` +
            "add chain ip kube-proxy x\nadd chain ip kube-proxy y\n" +
            "add rule ip kube-proxy base goto x\nadd rule ip kube-proxy x counter\n" +
            `add rule ip kube-proxy x goto y\nadd rule ip kube-proxy y ${last}`,
        ),
      )
      const nft = new NftInterpreter(rs, Rng.stream(1, "t"))
      const verdict = nft.runHook(HOOK.INPUT, new Packet(), true, new TestHost(), 0, new NftResult())
      expect(verdict).toBe(policy === "drop" ? NftVerdict.DROP : NftVerdict.ACCEPT)
    }
  })
})

describe("anonymous interval sets", () => {
  it("merge a prefix another one covers, as nft 1.0.6 does (lists `ip daddr { 10.0.0.0/8 } drop`)", () => {
    const rs = new NftRuleset()
    rs.apply(
      parseTransaction(
        TABLE + "add chain ip kube-proxy a\nadd rule ip kube-proxy a ip daddr { 10.1.0.0/16, 10.0.0.0/8 } drop",
      ),
    )
    expect(listTable(rs.table!)).toContain("\t\tip daddr { 10.0.0.0/8 } drop\n")
    expect(rs.table!.chains.get("a")!.rules[0].statements[0].set!.count).toBe(1)
  })
})

describe("hook traversal", () => {
  const text = [
    TABLE.trim(),
    // Created in the reverse of priority order: the kernel runs them by priority.
    "add chain ip kube-proxy late { type nat hook prerouting priority -90 ; }",
    "add chain ip kube-proxy early { type nat hook prerouting priority -100 ; }",
    "add chain ip kube-proxy guard { type filter hook prerouting priority dstnat - 10 ; policy drop ; }",
    "add rule ip kube-proxy guard ct state established,related accept",
    "add rule ip kube-proxy guard ct state new accept",
    "add rule ip kube-proxy early tcp dport 80 dnat to 10.0.0.1:8080",
    "add rule ip kube-proxy late tcp dport 80 dnat to 10.0.0.9",
    "add rule ip kube-proxy late tcp dport 81 dnat to 10.0.0.2",
  ].join("\n")

  function run(dport: number, ctState: number, first: boolean): { verdict: NftVerdict; result: NftResult } {
    const rs = new NftRuleset()
    rs.apply(parseTransaction(text))
    const nft = new NftInterpreter(rs, Rng.stream(1, "t"))
    const result = new NftResult()
    result.trace = []
    const p = new Packet()
    p.protocol = 6
    p.dstPort = dport
    p.ctState = ctState
    return { verdict: nft.runHook(HOOK.PREROUTING, p, first, new TestHost(), 0, result), result }
  }

  it("runs base chains by priority; nat chains stop at the first binding (nf_nat_inet_fn)", () => {
    const a = run(80, CtState.NEW, true)
    expect(a.verdict).toBe(NftVerdict.ACCEPT)
    expect(a.result.trace).toEqual(["guard", "early"])
    expect([a.result.dnatAddress, a.result.dnatPort]).toEqual([ipv4("10.0.0.1"), 8080])
    const b = run(81, CtState.NEW, true)
    expect(b.result.trace).toEqual(["guard", "early", "late"])
    expect(b.result.dnatAddress).toBe(ipv4("10.0.0.2"))
  })

  it("nat chains see only a connection's first packet; a filter policy drop applies", () => {
    const later = run(80, CtState.ESTABLISHED, false)
    expect(later.result.trace).toEqual(["guard"])
    expect(later.result.dnat).toBe(false)
    expect(run(80, CtState.INVALID, true).verdict).toBe(NftVerdict.DROP)
  })

  it("lists the symbolic priority and the ct state list as nft does", () => {
    const rs = new NftRuleset()
    rs.apply(parseTransaction(text))
    const listing = listTable(rs.table!)
    expect(listing).toContain("\t\ttype filter hook prerouting priority dstnat - 10; policy drop;\n")
    expect(listing).toContain("\t\ttype nat hook prerouting priority dstnat + 10; policy accept;\n")
    expect(listing).toContain("\t\tct state established,related accept\n")
    expect(listing).toContain("\t\ttcp dport 80 dnat to 10.0.0.1:8080\n")
  })
})

describe("commit-time validation (nft_chain_validate)", () => {
  const base = TABLE + "add chain ip kube-proxy a\nadd chain ip kube-proxy b\n"
  it("refuses a jump loop (ELOOP)", () => {
    expect(
      parseError(
        base +
          "add chain ip kube-proxy in { type filter hook input priority 0 ; }\nadd rule ip kube-proxy in jump a\nadd rule ip kube-proxy a goto b\nadd rule ip kube-proxy b jump a",
      ).message,
    ).toBe("t.nft:7:1: jump loop through a (ELOOP)")
  })
  it("refuses NAT statements where the kernel does (EOPNOTSUPP)", () => {
    expect(
      parseError(
        base +
          "add chain ip kube-proxy f { type filter hook prerouting priority 0 ; }\nadd rule ip kube-proxy f jump a\nadd rule ip kube-proxy a dnat to 10.0.0.1",
      ).message,
    ).toBe("t.nft:6:1: dnat in chain a reached from a filter chain (EOPNOTSUPP)")
    expect(
      parseError(
        base +
          "add chain ip kube-proxy o { type nat hook output priority -100 ; }\nadd rule ip kube-proxy o masquerade",
      ).message,
    ).toBe("t.nft:5:1: masquerade in chain o reached from a nat chain (EOPNOTSUPP)")
  })
})

describe("ct state guard (ChainProgram.ctGuard)", () => {
  // A base chain whose every rule starts with `ct state S`: a packet with none of the S bits takes
  // the chain's policy with the counts of walking each rule to its failed first match.
  const text =
    TABLE +
    "add chain ip kube-proxy x\n" +
    "add chain ip kube-proxy g { type filter hook forward priority 0 ; policy drop ; }\n" +
    "add rule ip kube-proxy g ct state new jump x\n" +
    "add rule ip kube-proxy g ct state related counter accept\n" +
    "add chain ip kube-proxy u { type filter hook output priority 0 ; policy drop ; }\n" +
    "add rule ip kube-proxy u ct state new jump x\n" +
    "add rule ip kube-proxy u ct state != established accept\n"
  const run = (chainName: string, ctState: number): NftResult => {
    const rs = new NftRuleset()
    rs.apply(parseTransaction(text, "t.nft"))
    const it = new NftInterpreter(rs, Rng.stream(1, "t"))
    const p = new Packet()
    p.protocol = 17
    p.ctState = ctState
    const r = new NftResult()
    r.trace = []
    it.runBaseChain(rs.table!.chains.get(chainName)!, p, new TestHost(), 0, r)
    return r
  }
  it("takes the policy with the walk's counts when no rule's ct state matches", () => {
    const g = rs(run("g", CtState.ESTABLISHED))
    expect(g).toEqual({ verdict: NftVerdict.DROP, rules: 2, expressions: 6, trace: ["g"] })
    expect(run("g", CtState.ESTABLISHED).expressions).toBe(run("u", CtState.ESTABLISHED).expressions)
  })
  it("walks the rules when a ct state matches or a rule is not guardable", () => {
    expect(rs(run("g", CtState.RELATED))).toEqual({
      verdict: NftVerdict.ACCEPT,
      rules: 2,
      expressions: 8,
      trace: ["g"],
    })
    // new: 3 (match) + 1 (jump), x is empty and returns, then rule 2 fails at its match (3).
    expect(rs(run("g", CtState.NEW))).toEqual({ verdict: NftVerdict.DROP, rules: 2, expressions: 7, trace: ["g", "x"] })
    // `ct state != established` cannot be guarded: an INVALID packet matches it.
    expect(rs(run("u", CtState.INVALID))).toEqual({
      verdict: NftVerdict.ACCEPT,
      rules: 2,
      expressions: 7,
      trace: ["u"],
    })
  })
  function rs(r: NftResult): object {
    return { verdict: r.verdict, rules: r.rules, expressions: r.expressions, trace: [...r.trace!] }
  }
})

describe("set exact-key index", () => {
  it("lookup agrees with the elements held through inserts, removals and clones (ipv4 . proto . port keys)", async () => {
    const { NftElement, NftSet } = await import("../../../src/netfilter/nftables/ruleset.ts")
    const set = new NftSet("s", true, [0, 1, 2], 0, -1, -1, "", false)
    const rng = Rng.stream(7, "index-test")
    const held = new Map<string, InstanceType<typeof NftElement>>()
    const keyOf = (): number[] => [
      0x0a000000 + rng.intBelow(64) + (rng.intBelow(2) === 0 ? 0 : 0xb0000000),
      6 + 11 * rng.intBelow(2),
      rng.intBelow(8),
    ]
    for (let step = 0; step < 4000; step++) {
      const key = keyOf()
      const name = key.join(".")
      const existing = held.get(name)
      if (existing !== undefined && rng.intBelow(2) === 0) {
        set.remove(existing)
        held.delete(name)
      } else if (existing === undefined) {
        const e = new NftElement(key, 32, "", null, -1, -1)
        set.insert(e)
        held.set(name, e)
      }
      const probe = keyOf()
      expect(set.lookup(probe, 0)).toBe(held.get(probe.join(".")))
    }
    const copy = set.clone()
    for (const [name, e] of held) expect(copy.lookup(name.split(".").map(Number), 0)).toBe(e)
    expect(copy.count).toBe(held.size)
  })
})
