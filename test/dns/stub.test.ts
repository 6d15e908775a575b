/**
 * Stub resolver query plans (glibc, musl, Go) driven against scripted servers; each expectation
 * cites ../shared/reference/dns.md §2 (and through it glibc res_query.c/res_send.c, musl
 * lookup_name.c/res_msend.c, Go dnsclient_unix.go).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { podResolvConf, renderResolvConf } from "../../src/dns/resolv-conf.ts"
import { parseStubConf } from "../../src/dns/stub/conf.ts"
import { newGlibcResolverState } from "../../src/dns/stub/glibc.ts"
import { createStubLookup } from "../../src/dns/stub/lookup.ts"
import type { StubLibc } from "../../src/dns/stub/types.ts"
import { NS_PER_MS, NS_PER_S } from "../../src/sim/time.ts"
import { DnsFlag, dnsReply, DnsType, Rcode } from "../../src/wire/dns.ts"
import { extensive } from "../tier.ts"
import { counterRandom, drive, zoneResponder, type Responder } from "./stub-driver.ts"

const POD_RESOLV = `search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
`
const VIP = "10.96.0.20"
const ZONE = zoneResponder({
  "my-svc.default.svc.cluster.local": VIP,
  "my-svc.my-ns.svc.cluster.local": "10.96.0.21",
  "google.com": "142.250.0.1",
})
const RTT = 1 * NS_PER_MS

function run(libc: StubLibc, name: string, responder: Responder = ZONE, text = POD_RESOLV) {
  const lookup = createStubLookup(parseStubConf(libc, text), name, counterRandom())
  return { lookup, ...drive(lookup, responder, RTT) }
}

const names = (sends: readonly { name: string }[]): string[] => [...new Set(sends.map((s) => s.name))]
const qtypes = (sends: readonly { qtype: number }[]): number[] => sends.map((s) => s.qtype)
/** Drops every query whose index is in `lost`, answers the rest as ZONE does. */
const losing =
  (lost: readonly number[], inner: Responder = ZONE): Responder =>
  (q, server, send, index) =>
    lost.includes(index) ? null : inner(q, server, send, index)
const dead: Responder = () => null

describe("stub resolvers: name lists and query counts (dns.md §2.5)", () => {
  for (const libc of ["glibc", "musl", "go"] as const) {
    it(`${libc}: my-svc = 1 exchange (A answered, AAAA NODATA)`, () => {
      const r = run(libc, "my-svc")
      expect(r.outcome).toEqual({
        status: "answered",
        reason: null,
        addresses: [VIP],
        answeredName: "my-svc.default.svc.cluster.local",
      })
      expect(qtypes(r.sends)).toEqual([DnsType.A, DnsType.AAAA])
      expect(r.endNs).toBe(RTT)
    })

    it(`${libc}: google.com with ndots:5 and no node domains = 4 exchanges, 8 queries in search order`, () => {
      const r = run(libc, "google.com")
      expect(names(r.sends)).toEqual([
        "google.com.default.svc.cluster.local",
        "google.com.svc.cluster.local",
        "google.com.cluster.local",
        "google.com",
      ])
      expect(r.sends.filter((s) => s.qtype === DnsType.A)).toHaveLength(4)
      expect(r.sends.filter((s) => s.qtype === DnsType.AAAA)).toHaveLength(4)
      expect(r.outcome.status).toBe("answered")
    })

    it(`${libc}: google.com. (trailing dot) = 2 queries, as-is only`, () => {
      const r = run(libc, "google.com.")
      expect(names(r.sends)).toEqual(["google.com"])
      expect(r.sends).toHaveLength(2)
    })

    it(`${libc}: my-svc.my-ns = 2 exchanges (first parses as endpoint my-svc of service my-ns)`, () => {
      const r = run(libc, "my-svc.my-ns")
      expect(names(r.sends)).toEqual(["my-svc.my-ns.default.svc.cluster.local", "my-svc.my-ns.svc.cluster.local"])
      expect(r.sends).toHaveLength(4)
    })
  }

  it("a.b.c.d.e.f (5 dots): glibc and Go as-is first then the search list; musl as-is only (dns.md §2.5)", () => {
    const conf = (libc: StubLibc) => parseStubConf(libc, POD_RESOLV)
    const all = [
      "a.b.c.d.e.f",
      "a.b.c.d.e.f.default.svc.cluster.local",
      "a.b.c.d.e.f.svc.cluster.local",
      "a.b.c.d.e.f.cluster.local",
    ]
    expect(createStubLookup(conf("glibc"), "a.b.c.d.e.f", counterRandom()).plannedNames).toEqual(all)
    expect(createStubLookup(conf("go"), "a.b.c.d.e.f", counterRandom()).plannedNames).toEqual(all)
    expect(createStubLookup(conf("musl"), "a.b.c.d.e.f", counterRandom()).plannedNames).toEqual(["a.b.c.d.e.f"])
    expect(names(run("glibc", "a.b.c.d.e.f").sends)).toEqual(all)
    expect(names(run("musl", "a.b.c.d.e.f").sends)).toEqual(["a.b.c.d.e.f"])
  })

  it("search '.' (kubelet's Default policy without --resolv-conf): glibc tries the name there and not again; musl and Go skip it", () => {
    const text = "search . example.com\nnameserver 127.0.0.1\noptions ndots:2\n"
    const planned = (libc: StubLibc) => createStubLookup(parseStubConf(libc, text), "x", counterRandom()).plannedNames
    expect(planned("glibc")).toEqual(["x", "x.example.com"])
    expect(planned("musl")).toEqual(["x.example.com", "x"])
    expect(planned("go")).toEqual(["x.example.com", "x"])
  })

  it("node search domains add H exchanges: google.com with 2 node domains = 6 exchanges (4+H)", () => {
    const text = POD_RESOLV.replace("cluster.local\n", "cluster.local ec2.internal corp.example\n")
    for (const libc of ["glibc", "musl", "go"] as const)
      expect(run(libc, "google.com", ZONE, text).sends).toHaveLength(12)
  })

  it("property: with every name NXDOMAIN, each libc sends (planned names) x (A, AAAA), and every lookup ends with its sockets closed", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/)
    fc.assert(
      fc.property(
        fc.constantFrom<StubLibc>("glibc", "musl", "go"),
        fc.array(label, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.array(fc.array(label, { minLength: 1, maxLength: 3 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 6 }),
        (libc, labels, rooted, search, ndots) => {
          const name = labels.join(".") + (rooted ? "." : "")
          const text = `search ${search.map((d) => d.join(".")).join(" ")}\nnameserver 10.96.0.10\noptions ndots:${ndots}\n`
          const conf = parseStubConf(libc, search.length === 0 ? text.replace(/^search.*\n/, "") : text)
          const lookup = createStubLookup(conf, name, counterRandom())
          const r = drive(lookup, zoneResponder({}), RTT)
          expect(r.outcome.status).toBe("nxdomain")
          expect(r.sends).toHaveLength(2 * lookup.plannedNames.length)
          const dots = labels.length - 1 + (rooted ? 1 : 0)
          const expectedNames = rooted ? 1 : libc === "musl" && dots >= ndots ? 1 : conf.search.length + 1
          expect(lookup.plannedNames).toHaveLength(expectedNames)
          expect([...r.opened].every((s) => r.closed.has(s))).toBe(true)
        },
      ),
      { numRuns: 200 },
    )
  })

  it("property: for any name, ndots and search list, the exchanges follow dns.md §2.5's order and stop at the first name that exists", () => {
    // The search arithmetic written out independently of the resolvers (dns.md §2.2-2.4): a rooted
    // name is asked as-is only; dots >= ndots: as-is first, then each suffix (musl: as-is only);
    // dots < ndots: each suffix, then the bare name. One exchange = A + AAAA; the walk stops at the
    // first candidate that answers (A data, AAAA NODATA); with none, every candidate is asked.
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/)
    fc.assert(
      fc.property(
        fc.constantFrom<StubLibc>("glibc", "musl", "go"),
        fc.array(label, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.uniqueArray(
          fc.array(label, { minLength: 1, maxLength: 3 }).map((d) => d.join(".")),
          { maxLength: 6 },
        ),
        fc.integer({ min: 0, max: 15 }),
        fc.nat(8),
        (libc, labels, rooted, search, ndots, existing) => {
          const bare = labels.join(".")
          const dots = labels.length - 1 + (rooted ? 1 : 0)
          const suffixed = search.map((d) => `${bare}.${d}`)
          const candidates = rooted
            ? [bare]
            : dots >= ndots
              ? libc === "musl"
                ? [bare]
                : [bare, ...suffixed]
              : [...suffixed, bare]
          // `existing` past the end: no candidate exists.
          const hit = existing < candidates.length ? existing : -1
          const zone: Record<string, string> = hit >= 0 ? { [candidates[hit]]: "10.96.0.20" } : {}
          const text = `${search.length > 0 ? `search ${search.join(" ")}\n` : ""}nameserver 10.96.0.10\noptions ndots:${ndots}\n`
          const lookup = createStubLookup(parseStubConf(libc, text), bare + (rooted ? "." : ""), counterRandom())
          const r = drive(lookup, zoneResponder(zone), RTT)
          const asked = hit >= 0 ? candidates.slice(0, hit + 1) : candidates
          // Pairs in order: A and AAAA of each candidate (Go may send AAAA first within a pair).
          const pairs = asked.flatMap((n) => [n, n])
          expect(r.sends.map((q) => q.name)).toEqual(pairs)
          expect(r.sends.filter((q) => q.qtype === DnsType.A)).toHaveLength(asked.length)
          expect(r.outcome.status).toBe(hit >= 0 ? "answered" : "nxdomain")
        },
      ),
      { numRuns: extensive ? 2000 : 100 },
    )
  })

  it("property: every lookup ends (answered, failed or timed out) under any loss pattern, sockets closed", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<StubLibc>("glibc", "musl", "go"),
        fc.constantFrom("my-svc", "google.com", "my-svc.my-ns", "google.com.", "nope"),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        fc.constantFrom("", "options single-request\n", "options single-request-reopen\n", "options use-vc\n"),
        fc.constantFrom("nameserver 10.96.0.10\n", "nameserver 10.96.0.10\nnameserver 10.96.0.11\n"),
        (libc, name, drops, extra, servers) => {
          const text = `search default.svc.cluster.local svc.cluster.local cluster.local\n${servers}options ndots:5\n${extra}`
          const lookup = createStubLookup(parseStubConf(libc, text), name, counterRandom())
          const r = drive(lookup, (q, s, send, i) => (drops[i % 64] ? null : ZONE(q, s, send, i)), RTT)
          expect(["answered", "nxdomain", "nodata", "again", "fail"]).toContain(r.outcome.status)
          expect([...r.opened].every((s) => r.closed.has(s))).toBe(true)
          expect(r.endNs).toBeLessThan(200 * NS_PER_S)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe("kubelet's file read by each stub resolver", () => {
  it("the ClusterFirst file gives every libc ndots 5, the 3 cluster suffixes + node ones, the cluster DNS", () => {
    const text = renderResolvConf(
      podResolvConf(
        { namespace: "shop" },
        { clusterDomain: "cluster.local", clusterDNS: ["10.96.0.10"], nodeResolvConf: "search ec2.internal\n" },
      ),
    )
    for (const libc of ["glibc", "musl", "go"] as const)
      expect(parseStubConf(libc, text)).toMatchObject({
        ndots: 5,
        search: ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "ec2.internal"],
        nameservers: ["10.96.0.10"],
        timeoutS: 5,
        attempts: 2,
      })
  })

  it("a dnsConfig single-request-reopen reaches glibc and Go but not musl (dns.md §4.4)", () => {
    const text = renderResolvConf(
      podResolvConf(
        { namespace: "shop", dnsConfig: { options: [{ name: "single-request-reopen" }] } },
        { clusterDomain: "cluster.local", clusterDNS: ["10.96.0.10"], nodeResolvConf: "" },
      ),
    )
    expect(text).toContain("options ndots:5 single-request-reopen\n")
    expect(parseStubConf("glibc", text).singleRequestReopen).toBe(true)
    expect(parseStubConf("go", text).singleRequest).toBe(true)
    expect(parseStubConf("musl", text)).toMatchObject({ singleRequest: false, singleRequestReopen: false })
  })
})

describe("glibc (dns.md §2.2, res_query.c / res_send.c)", () => {
  it("A and AAAA back to back from one socket; each search step a new socket (new source port)", () => {
    const r = run("glibc", "google.com")
    for (let i = 0; i < 8; i += 2) {
      expect(r.sends[i].socket).toBe(r.sends[i + 1].socket)
      expect(r.sends[i].atNs).toBe(r.sends[i + 1].atNs)
    }
    expect(new Set(r.sends.map((s) => s.socket)).size).toBe(4)
    expect(r.closed.size).toBe(4)
  })

  it("one of the pair lost: wait 5 s, switch to single-request, re-send sequentially -> 5 s + 2 RTT; the switch sticks", () => {
    const state = newGlibcResolverState()
    const lookup = createStubLookup(parseStubConf("glibc", POD_RESOLV), "my-svc", counterRandom(), {
      glibcState: state,
    })
    const r = drive(lookup, losing([1]), RTT) // the first AAAA
    expect(r.outcome.status).toBe("answered")
    expect(r.endNs).toBe(5 * NS_PER_S + 2 * RTT)
    expect(state.singleRequest).toBe(true)
    // Re-send: A at 5 s, AAAA only after the A reply, same socket, same ids.
    expect(r.sends.slice(2).map((s) => [s.atNs, s.qtype, s.socket])).toEqual([
      [5 * NS_PER_S, DnsType.A, r.sends[0].socket],
      [5 * NS_PER_S + RTT, DnsType.AAAA, r.sends[0].socket],
    ])
    expect(r.sends[2].id).toBe(r.sends[0].id)
    // A later lookup with the same resolver state is sequential from the start.
    const again = drive(
      createStubLookup(parseStubConf("glibc", POD_RESOLV), "my-svc", counterRandom(), { glibcState: state }),
      ZONE,
      RTT,
    )
    expect(again.sends.map((s) => s.atNs)).toEqual([0, RTT])
  })

  it("a half answer lost twice flips to single-request-reopen: AAAA from a new socket", () => {
    const state = newGlibcResolverState()
    const lookup = createStubLookup(parseStubConf("glibc", POD_RESOLV), "my-svc", counterRandom(), {
      glibcState: state,
    })
    const r = drive(lookup, losing([1, 3]), RTT)
    expect(state.singleRequestReopen).toBe(true)
    expect(r.endNs).toBe(10 * NS_PER_S + 2 * RTT)
    const last = r.sends.slice(-2)
    expect(last[0].qtype).toBe(DnsType.A)
    expect(last[1].qtype).toBe(DnsType.AAAA)
    expect(last[1].socket).not.toBe(last[0].socket)
  })

  it("both lost: attempt 2 after 5 s on the same socket -> 5 s + RTT", () => {
    const r = run("glibc", "my-svc", losing([0, 1]))
    expect(r.endNs).toBe(5 * NS_PER_S + RTT)
    expect(r.sends[2].socket).toBe(r.sends[0].socket)
  })

  it("dead server: 2 x 5 s on the first step, search stops, bare name 2 x 5 s -> 20 s, EAI_AGAIN (dns.md §2.6)", () => {
    const r = run("glibc", "my-svc", dead)
    expect(names(r.sends)).toEqual(["my-svc.default.svc.cluster.local", "my-svc"])
    expect(r.sends).toHaveLength(8)
    expect(r.endNs).toBe(20 * NS_PER_S)
    expect(r.outcome).toMatchObject({ status: "again", reason: "timeout" })
  })

  it("options single-request: AAAA after the A reply on the same socket; single-request-reopen: on a new socket (man resolv.conf)", () => {
    const single = run("glibc", "my-svc", ZONE, POD_RESOLV + "options single-request\n")
    expect(single.sends.map((s) => s.atNs)).toEqual([0, RTT])
    expect(single.sends[1].socket).toBe(single.sends[0].socket)
    const reopen = run("glibc", "my-svc", ZONE, POD_RESOLV + "options single-request-reopen\n")
    expect(reopen.sends.map((s) => s.atNs)).toEqual([0, RTT])
    expect(reopen.sends[1].socket).not.toBe(reopen.sends[0].socket)
    expect(reopen.closed.has(reopen.sends[0].socket)).toBe(true)
  })

  it("use-vc: both queries over TCP on one connection", () => {
    const r = run("glibc", "my-svc", ZONE, POD_RESOLV + "options use-vc\n")
    expect(r.sends.map((s) => s.transport)).toEqual(["tcp", "tcp"])
    expect(r.sends[0].socket).toBe(r.sends[1].socket)
  })

  it("TC=1 retries the same server over TCP", () => {
    const truncating: Responder = (q, s, send, i) => {
      const reply = ZONE(q, s, send, i)
      return send.transport === "udp" && reply !== null
        ? { ...reply, flags: reply.flags | DnsFlag.TC, answers: [] }
        : reply
    }
    const r = run("glibc", "my-svc", truncating)
    expect(r.sends.map((s) => s.transport)).toEqual(["udp", "udp", "tcp", "tcp"])
    expect(r.outcome.addresses).toEqual([VIP])
  })

  it("timeout:1 attempts:3 -> three 1 s waits per step; a second server waits (timeout << 1) / 2", () => {
    const r = run("glibc", "x.", dead, "nameserver 10.0.0.1\noptions timeout:1 attempts:3\n")
    expect(r.sends.map((s) => s.atNs / NS_PER_S)).toEqual([0, 0, 1, 1, 2, 2])
    const two = run("glibc", "x.", dead, "nameserver 10.0.0.1\nnameserver 10.0.0.2\n")
    // ns0 5 s, ns1 (5<<1)/2 = 5 s, attempt 2: ns0 5 s, ns1 5 s.
    expect(two.sends.map((s) => [s.atNs / NS_PER_S, s.server])).toEqual([
      [0, 0],
      [0, 0],
      [5, 1],
      [5, 1],
      [10, 0],
      [10, 0],
      [15, 1],
      [15, 1],
    ])
    expect(two.endNs).toBe(20 * NS_PER_S)
  })

  it("continues the search on NODATA and SERVFAIL; SERVFAIL moves to the next attempt at once", () => {
    const nodata = zoneResponder({ "x.cluster.local": "10.0.0.9" }, ["x.default.svc.cluster.local"])
    const r = run("glibc", "x", nodata)
    expect(r.outcome.answeredName).toBe("x.cluster.local")
    const servfail: Responder = (q, s, send, i) =>
      q.questions[0].name === "x.default.svc.cluster.local" ? dnsReply(q, Rcode.SERVFAIL, 0, []) : nodata(q, s, send, i)
    const r2 = run("glibc", "x", servfail)
    expect(r2.outcome.answeredName).toBe("x.cluster.local")
    // 2 attempts x 2 queries on the SERVFAIL step, no waiting. Attempt 2 re-sends the same query
    // ids on the same socket, so the first attempt's second SERVFAIL, still queued, ends it at
    // once: the step costs one RTT, the lookup three.
    expect(r2.sends.filter((s) => s.name === "x.default.svc.cluster.local")).toHaveLength(4)
    expect(r2.endNs).toBe(3 * RTT)
  })

  it("all steps NODATA/NXDOMAIN: h_errno NO_DATA wins over the last step's HOST_NOT_FOUND", () => {
    const r = run("glibc", "x", zoneResponder({}, ["x.svc.cluster.local"]))
    expect(r.outcome.status).toBe("nodata")
  })

  it("dots >= ndots: the as-is try's h_errno is the one reported (saved_herrno), even after NXDOMAIN suffixes", () => {
    const asIsTimesOut: Responder = (q, s, send, i) =>
      q.questions[0].name === "a.b.c.d.e.f" ? null : ZONE(q, s, send, i)
    const r = run("glibc", "a.b.c.d.e.f", asIsTimesOut)
    expect(names(r.sends)[0]).toBe("a.b.c.d.e.f")
    expect(names(r.sends)).toHaveLength(4)
    expect(r.outcome).toMatchObject({ status: "again", reason: "timeout" })
  })

  it("no-tld-query skips the bare single-label name", () => {
    const conf = parseStubConf("glibc", POD_RESOLV + "options no-tld-query\n")
    expect(createStubLookup(conf, "x", counterRandom()).plannedNames).not.toContain("x")
    expect(createStubLookup(conf, "x.y", counterRandom()).plannedNames).toContain("x.y")
  })
})

describe("musl (dns.md §2.3, lookup_name.c / res_msend.c)", () => {
  it("stops at the first NODATA (EAI_NODATA) instead of walking the search list", () => {
    const r = run("musl", "x", zoneResponder({ "x.cluster.local": "10.0.0.9" }, ["x.default.svc.cluster.local"]))
    expect(r.outcome.status).toBe("nodata")
    expect(names(r.sends)).toEqual(["x.default.svc.cluster.local"])
  })

  it("one lost query is re-sent after 2.5 s (timeout/attempts), only the unanswered one", () => {
    const r = run("musl", "my-svc", losing([1]))
    expect(r.sends.map((s) => [s.atNs, s.qtype])).toEqual([
      [0, DnsType.A],
      [0, DnsType.AAAA],
      [2500 * NS_PER_MS, DnsType.AAAA],
    ])
    expect(r.endNs).toBe(2500 * NS_PER_MS + RTT)
    expect(new Set(r.sends.map((s) => s.socket)).size).toBe(1)
  })

  it("dead server: sends at 0 and 2.5 s, gives up at 5 s with EAI_AGAIN and no further suffixes", () => {
    const r = run("musl", "my-svc", dead)
    expect(r.sends.map((s) => s.atNs)).toEqual([0, 0, 2500 * NS_PER_MS, 2500 * NS_PER_MS])
    expect(r.endNs).toBe(5 * NS_PER_S)
    expect(r.outcome).toMatchObject({ status: "again", reason: "timeout" })
  })

  it("queries every nameserver in parallel", () => {
    const r = run("musl", "my-svc", ZONE, POD_RESOLV + "nameserver 10.96.0.11\n")
    expect(r.sends.map((s) => [s.qtype, s.server])).toEqual([
      [DnsType.A, 0],
      [DnsType.A, 1],
      [DnsType.AAAA, 0],
      [DnsType.AAAA, 1],
    ])
    expect(r.endNs).toBe(RTT)
  })

  it("ignores single-request, single-request-reopen and use-vc", () => {
    const r = run("musl", "my-svc", ZONE, POD_RESOLV + "options single-request-reopen use-vc\n")
    expect(r.sends.map((s) => [s.atNs, s.socket, s.transport])).toEqual([
      [0, 1, "udp"],
      [0, 1, "udp"],
    ])
  })

  it("SERVFAIL is re-sent at once and never accepted; a server that only SERVFAILs -> EAI_AGAIN at 5 s", () => {
    const r = run("musl", "my-svc", (q) => dnsReply(q, Rcode.SERVFAIL, 0, []))
    expect(r.outcome).toMatchObject({ status: "again" })
    expect(r.endNs).toBe(5 * NS_PER_S)
    // Initial 2 + 4 immediate re-sends per round (2 x queries), 2 rounds.
    expect(r.sends.filter((s) => s.atNs < 2500 * NS_PER_MS)).toHaveLength(2 + 4)
  })

  it("timeout:6 attempts:3 -> re-sends every 2 s within 6 s", () => {
    const r = run("musl", "x.", dead, "nameserver 10.0.0.1\noptions timeout:6 attempts:3\n")
    expect(r.sends.map((s) => s.atNs / NS_PER_S)).toEqual([0, 0, 2, 2, 4, 4])
    expect(r.endNs).toBe(6 * NS_PER_S)
  })

  it("a resolv.conf line of 255+ characters is skipped whole (256-byte line buffer)", () => {
    const longSearch = `search ${Array.from({ length: 40 }, (_, i) => `d${i}.example`).join(" ")}`
    expect(longSearch.length).toBeGreaterThanOrEqual(255)
    expect(parseStubConf("musl", `${longSearch}\nnameserver 10.0.0.1\n`).search).toEqual([])
    expect(parseStubConf("glibc", `${longSearch}\nnameserver 10.0.0.1\n`).search).toHaveLength(40)
  })
})

describe("Go pure resolver (dns.md §2.4, dnsclient_unix.go)", () => {
  it("A and AAAA in parallel, each exchange on its own socket, each query with a 1232-byte EDNS(0) OPT", () => {
    const seen: (number | undefined)[] = []
    const r = run("go", "my-svc", (q, s, send, i) => {
      seen.push(q.ednsUdpPayloadBytes)
      return ZONE(q, s, send, i)
    })
    expect(seen).toEqual([1232, 1232])
    expect(r.sends.map((s) => s.atNs)).toEqual([0, 0])
    expect(r.sends[0].socket).not.toBe(r.sends[1].socket)
    expect(r.closed.size).toBe(2)
  })

  it("default ndots 1: google.com is tried as-is first", () => {
    const r = run("go", "google.com", ZONE, "search default.svc.cluster.local\nnameserver 10.0.0.1\n")
    expect(names(r.sends)).toEqual(["google.com"])
  })

  it("a timed-out name does not stop the search (StrictErrors off): the next suffix is tried", () => {
    const partial: Responder = (q, s, send, i) =>
      q.questions[0].name === "my-svc.default.svc.cluster.local" ? null : ZONE(q, s, send, i)
    const r = run("go", "my-svc.my-ns", partial)
    expect(r.outcome.status).toBe("answered")
    const r2 = run("go", "my-svc", partial)
    // 2 attempts x 5 s on the first name, then svc.cluster.local, cluster.local, bare: all NX.
    expect(r2.outcome.status).toBe("nxdomain")
    expect(r2.sends.filter((s) => s.name === "my-svc.default.svc.cluster.local")).toHaveLength(4)
  })

  it("single-request: AAAA only after the A lane ends", () => {
    const r = run("go", "my-svc", ZONE, POD_RESOLV + "options single-request\n")
    expect(r.sends.map((s) => [s.atNs, s.qtype])).toEqual([
      [0, DnsType.A],
      [RTT, DnsType.AAAA],
    ])
  })

  it("use-vc / tcp: TCP exchanges", () => {
    expect(run("go", "my-svc", ZONE, POD_RESOLV + "options tcp\n").sends.map((s) => s.transport)).toEqual([
      "tcp",
      "tcp",
    ])
  })

  it("a lost query costs one 5 s timeout of that lane, on a new socket", () => {
    const r = run("go", "my-svc", losing([0]))
    expect(r.endNs).toBe(5 * NS_PER_S + RTT)
    expect(r.sends[2].socket).not.toBe(r.sends[0].socket)
  })
})
