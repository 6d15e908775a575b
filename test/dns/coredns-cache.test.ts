/**
 * CoreDNS `cache` plugin (../shared/reference/dns.md §1.4; coredns/coredns @4b26cced
 * plugin/cache/cache.go, handler.go, item.go, setup.go, plugin/pkg/cache/cache.go,
 * plugin/pkg/dnsutil/ttl.go).
 */
import { describe, expect, it } from "vitest"
import {
  cacheShard,
  cacheWithTtl,
  computeTtl,
  COREDNS_CACHE_DEFAULTS,
  DnsCache,
  effectiveCapacity,
  kubeadmCache,
  nodeLocalClusterCache,
  type CacheConfig,
} from "../../src/dns/coredns/cache.ts"
import { Rng } from "../../src/sim/rng.ts"
import { NS_PER_MS, NS_PER_S } from "../../src/sim/time.ts"
import { DnsFlag, dnsQuery, dnsReply, DnsType, Rcode, type DnsMessage, type DnsRecord } from "../../src/wire/dns.ts"

const SOA = (zone: string, ttl: number, minimum: number): DnsRecord => ({
  name: zone,
  ttl,
  type: DnsType.SOA,
  mname: `ns.dns.${zone}`,
  rname: `hostmaster.${zone}`,
  serial: 1,
  refresh: 7200,
  retry: 1800,
  expire: 86400,
  minimum,
})

function answerA(query: DnsMessage, ttl: number, address = "10.0.0.1"): DnsMessage {
  const name = query.questions[0].name
  return dnsReply(query, Rcode.NOERROR, DnsFlag.AA | DnsFlag.RA, [{ name, ttl, type: DnsType.A, address }])
}

function cache(config: CacheConfig = COREDNS_CACHE_DEFAULTS): DnsCache {
  return new DnsCache(config, Rng.stream(7, "dns-cache"))
}

describe("CoreDNS cache plugin", () => {
  it("defaults: caps 3600 s success / 1800 s denial, floor 5 s, capacity 10000 -> 9984 (256 shards x 39)", () => {
    expect(COREDNS_CACHE_DEFAULTS).toMatchObject({
      successMaxTtlS: 3600,
      denialMaxTtlS: 1800,
      successMinTtlS: 5,
      denialMinTtlS: 5,
      servfailTtlS: 5,
    })
    expect(effectiveCapacity(10000)).toBe(9984)
    expect(effectiveCapacity(9984)).toBe(9984)
    expect(effectiveCapacity(100)).toBe(1024) // max(size/256, 4) per shard
    expect(computeTtl(1, 5, 30)).toBe(5)
    expect(computeTtl(600, 5, 30)).toBe(30)
    expect(computeTtl(10, 5, 3)).toBe(3) // the cap wins over the floor
  })

  it("stores clamp(min TTL, floor, cap) and serves the remaining whole seconds on every RR, aa=1", () => {
    const c = cache(cacheWithTtl(30))
    const q = dnsQuery(1, "example.com", DnsType.A)
    const written = c.put(0, q, answerA(q, 300))
    // WriteMsg applies the capped TTL to the reply it writes.
    expect(written.answers[0].ttl).toBe(30)
    const q2 = dnsQuery(2, "EXAMPLE.com", DnsType.A)
    const hit = c.get(10 * NS_PER_S + 999 * NS_PER_MS, q2)
    expect(hit).not.toBeNull()
    expect(hit?.id).toBe(2)
    expect(hit?.answers[0].ttl).toBe(20) // 30 - int(10.999)
    expect((hit?.flags ?? 0) & (DnsFlag.AA | DnsFlag.RA | DnsFlag.QR)).toBe(DnsFlag.AA | DnsFlag.RA | DnsFlag.QR)
    // Expired once the remaining TTL reaches 0.
    expect(c.get(29 * NS_PER_S + 999 * NS_PER_MS, q2)).not.toBeNull()
    expect(c.get(30 * NS_PER_S, q2)).toBeNull()
    expect([c.hits, c.misses]).toEqual([2, 1])
  })

  it("a 1 s record is kept for the 5 s floor; a kubernetes 30 s answer with `cache 30` for 30 s, with plugin ttl 5 for 5 s (dns.md §3.3)", () => {
    const c = cache(cacheWithTtl(30))
    const q = dnsQuery(1, "short.example", DnsType.A)
    expect(c.put(0, q, answerA(q, 1)).answers[0].ttl).toBe(5)
    expect(c.get(4 * NS_PER_S, q)).not.toBeNull()
    expect(c.get(5 * NS_PER_S, q)).toBeNull()
  })

  it("negative answers: NXDOMAIN/NODATA with SOA go to the denial cache with the denial cap; NXDOMAIN without SOA is not cached", () => {
    const c = cache(nodeLocalClusterCache())
    const q = dnsQuery(1, "nope.default.svc.cluster.local", DnsType.A)
    const nx = dnsReply(q, Rcode.NXDOMAIN, DnsFlag.AA, [], [SOA("cluster.local", 30, 30)])
    expect(c.put(0, q, nx).authorities[0].ttl).toBe(5) // denial 9984 5
    expect(c.denialSize).toBe(1)
    expect(c.get(4 * NS_PER_S, q)?.rcode).toBe(Rcode.NXDOMAIN)
    expect(c.get(5 * NS_PER_S, q)).toBeNull()
    const q2 = dnsQuery(2, "x.default.svc.cluster.local", DnsType.AAAA)
    c.put(0, q2, dnsReply(q2, Rcode.NOERROR, DnsFlag.AA, [], [SOA("cluster.local", 30, 30)]))
    expect(c.denialSize).toBe(2)
    const q3 = dnsQuery(3, "bare.default.svc.cluster.local", DnsType.A)
    c.put(0, q3, dnsReply(q3, Rcode.NXDOMAIN, 0, []))
    expect(c.denialSize).toBe(2)
    // Positive cluster answers: success 9984 30.
    const q4 = dnsQuery(4, "svc.default.svc.cluster.local", DnsType.A)
    expect(c.put(0, q4, answerA(q4, 30)).answers[0].ttl).toBe(30)
    // Out of the cache's zones: passed through untouched.
    const q5 = dnsQuery(5, "example.com", DnsType.A)
    expect(c.put(0, q5, answerA(q5, 300)).answers[0].ttl).toBe(300)
    expect(c.get(NS_PER_S, q5)).toBeNull()
  })

  it("SERVFAIL cached 5 s by default in the denial cache; REFUSED and truncated replies never", () => {
    const c = cache()
    const q = dnsQuery(1, "flaky.example", DnsType.A)
    c.put(0, q, dnsReply(q, Rcode.SERVFAIL, 0, []))
    expect(c.get(4 * NS_PER_S, q)?.rcode).toBe(Rcode.SERVFAIL)
    expect(c.get(5 * NS_PER_S, q)).toBeNull()
    const r = dnsQuery(2, "refused.example", DnsType.A)
    c.put(0, r, dnsReply(r, Rcode.REFUSED, 0, []))
    const t = dnsQuery(3, "big.example", DnsType.A)
    c.put(0, t, { ...answerA(t, 60), flags: DnsFlag.QR | DnsFlag.TC })
    expect(c.get(NS_PER_S, r)).toBeNull()
    expect(c.get(NS_PER_S, t)).toBeNull()
  })

  it("a cached SERVFAIL does not shadow a live positive answer (getIfNotStale)", () => {
    const c = cache()
    const q = dnsQuery(1, "both.example", DnsType.A)
    c.put(0, q, answerA(q, 60))
    c.put(NS_PER_S, q, dnsReply(q, Rcode.SERVFAIL, 0, []))
    expect(c.get(2 * NS_PER_S, q)?.rcode).toBe(Rcode.NOERROR)
  })

  it("a NOERROR CNAME that does not reach the qtype and has no SOA is not cached (RFC 2308 §5)", () => {
    const c = cache()
    const q = dnsQuery(1, "alias.example", DnsType.A)
    c.put(
      0,
      q,
      dnsReply(q, Rcode.NOERROR, 0, [{ name: "alias.example", ttl: 60, type: DnsType.CNAME, target: "x.example" }]),
    )
    expect(c.get(NS_PER_S, q)).toBeNull()
    // The complete chain is cached.
    c.put(
      0,
      q,
      dnsReply(q, Rcode.NOERROR, 0, [
        { name: "alias.example", ttl: 60, type: DnsType.CNAME, target: "x.example" },
        { name: "x.example", ttl: 60, type: DnsType.A, address: "192.0.2.1" },
      ]),
    )
    expect(c.get(NS_PER_S, q)?.answers).toHaveLength(2)
  })

  it("kubeadm >= v1.32: cluster.local answers are neither success- nor denial-cached; external ones are (dns.md §1.6)", () => {
    const c = cache(kubeadmCache())
    const q = dnsQuery(1, "svc.default.svc.cluster.local", DnsType.A)
    c.put(0, q, answerA(q, 30))
    const nq = dnsQuery(2, "nope.default.svc.cluster.local", DnsType.A)
    c.put(0, nq, dnsReply(nq, Rcode.NXDOMAIN, DnsFlag.AA, [], [SOA("cluster.local", 30, 30)]))
    expect([c.successSize, c.denialSize]).toEqual([0, 0])
    const e = dnsQuery(3, "example.com", DnsType.A)
    c.put(0, e, answerA(e, 300))
    expect(c.get(29 * NS_PER_S, e)?.answers[0].ttl).toBe(1)
  })

  it("capacity: a full shard evicts one of its keys (seeded random) for a new key; other shards are untouched", () => {
    const c = cache({ ...COREDNS_CACHE_DEFAULTS, successCapacity: 1024 }) // 4 per shard
    // Names that land in shard 0.
    const names: string[] = []
    for (let i = 0; names.length < 6; i++) if (cacheShard(`h${i}.example`, DnsType.A) === 0) names.push(`h${i}.example`)
    for (const name of names.slice(0, 4)) {
      const q = dnsQuery(1, name, DnsType.A)
      c.put(0, q, answerA(q, 60))
    }
    expect(c.successSize).toBe(4)
    expect(c.evictions).toBe(0)
    // Re-storing an existing key never evicts.
    const again = dnsQuery(1, names[0], DnsType.A)
    c.put(0, again, answerA(again, 60))
    expect(c.evictions).toBe(0)
    for (const name of names.slice(4)) {
      const q = dnsQuery(1, name, DnsType.A)
      c.put(0, q, answerA(q, 60))
    }
    expect(c.successSize).toBe(4)
    expect(c.evictions).toBe(2)
    const present = names.filter((n) => c.get(NS_PER_S, dnsQuery(1, n, DnsType.A)) !== null)
    expect(present).toHaveLength(4)
    expect(present).toContain(names[5])
  })

  it("shard = low byte of FNV-1 64 over (DO, CD, qtype, qclass, lowercased FQDN.) as cache.go hash()", () => {
    const fnv1 = (bytes: number[]): bigint => {
      let h = 0xcbf29ce484222325n
      for (const b of bytes) {
        h = (h * 0x100000001b3n) & 0xffffffffffffffffn
        h ^= BigInt(b)
      }
      return h
    }
    for (const [name, qtype] of [
      ["my-svc.default.svc.cluster.local", DnsType.A],
      ["Google.COM", DnsType.AAAA],
      ["a", DnsType.SRV],
    ] as const) {
      const bytes = [0x30, 0x30, qtype >> 8, qtype & 0xff, 0, 1, ...Buffer.from(`${name.toLowerCase()}.`)]
      expect(cacheShard(name, qtype)).toBe(Number(fnv1(bytes) & 0xffn))
    }
  })
})
