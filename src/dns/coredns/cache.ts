/**
 * CoreDNS's `cache` plugin as a pure data structure keyed by integer time in ns
 * (../shared/reference/dns.md §1.4). Transcribed from coredns/coredns @4b26cced:
 * plugin/cache/cache.go (New defaults, key, hash, computeTTL, ResponseWriter.WriteMsg, set),
 * handler.go (getIfNotStale: denial cache first, a cached SERVFAIL yields to a live positive
 * entry), item.go (ttl = stored TTL - whole seconds elapsed; served with every RR's TTL set to
 * the remaining TTL, aa=1), setup.go (success/denial CAPACITY TTL MINTTL, `cache TTL` caps
 * both), plugin/pkg/cache/cache.go (256 shards of max(capacity/256, 4) entries: 10000 -> 9984;
 * a full shard evicts one entry when a new key arrives), plugin/pkg/dnsutil/ttl.go
 * (MinimalTTLWithMaximum, 5 s floor for empty messages), plugin/pkg/response/typify.go.
 *
 * Eviction: the shard deletes the first key of a Go map iteration, which Go randomizes; here a
 * seeded uniform choice among the shard's keys (the caller's named random stream).
 * The shard of a key is the low byte of FNV-1 64 over (DO, CD, qtype, qclass, lowercased FQDN
 * with its trailing dot), exactly as `hash()`; the low byte of FNV-1 depends only on the low
 * bytes of the offset basis and prime, so it is computed with 8-bit arithmetic.
 *
 * Entries are stored as the reply written to the client (TTLs rewritten to the cached duration,
 * as WriteMsg does before caching). Not modelled: prefetch, serve_stale, keepttl, DO/CD bits
 * (the simulator's clients send neither, so they are always 0 in the key), DNSSEC filtering,
 * Delegation responses (no NS records in wire/dns.ts).
 */
import { NS_PER_S } from "../../sim/time.ts"
import { DnsFlag, DnsType, Rcode, type DnsMessage, type DnsRecord } from "../../wire/dns.ts"

export interface CacheConfig {
  /** Zones cached (names outside pass through). [""] = the root, every name (plugin default "."). */
  readonly zones: readonly string[]
  /** Capacity as written in the Corefile; effective = 256 * max(floor(capacity / 256), 4). */
  readonly successCapacity: number
  readonly successMaxTtlS: number
  readonly successMinTtlS: number
  readonly denialCapacity: number
  readonly denialMaxTtlS: number
  readonly denialMinTtlS: number
  /** `servfail DURATION`; default 5 s (minNTTL); 0 disables. */
  readonly servfailTtlS: number
  /** `disable success ZONES...` / `disable denial ZONES...`. */
  readonly disableSuccessZones: readonly string[]
  readonly disableDenialZones: readonly string[]
}

const SHARDS = 256
/** dnsutil.MaximumDefaultTTL / MinimalDefaultTTL. */
export const CACHE_MAX_TTL_S = 3600
export const CACHE_MIN_TTL_S = 5
/** cache.go defaultCap. */
export const CACHE_DEFAULT_CAPACITY = 10000

/** `cache` with no arguments (cache.go New). */
export const COREDNS_CACHE_DEFAULTS: CacheConfig = {
  zones: [""],
  successCapacity: CACHE_DEFAULT_CAPACITY,
  successMaxTtlS: CACHE_MAX_TTL_S,
  successMinTtlS: CACHE_MIN_TTL_S,
  denialCapacity: CACHE_DEFAULT_CAPACITY,
  denialMaxTtlS: CACHE_MAX_TTL_S / 2,
  denialMinTtlS: CACHE_MIN_TTL_S,
  servfailTtlS: CACHE_MIN_TTL_S,
  disableSuccessZones: [],
  disableDenialZones: [],
}

/** `cache TTL`: both caps set to TTL. */
export function cacheWithTtl(ttlS: number, base: CacheConfig = COREDNS_CACHE_DEFAULTS): CacheConfig {
  return { ...base, successMaxTtlS: ttlS, denialMaxTtlS: ttlS }
}

/** kubeadm (>= v1.32): `cache 30 { disable success cluster.local; disable denial cluster.local }`. */
export function kubeadmCache(clusterDomain = "cluster.local"): CacheConfig {
  return { ...cacheWithTtl(30), disableSuccessZones: [clusterDomain], disableDenialZones: [clusterDomain] }
}

/** node-local-dns cluster zone: `cache { success 9984 30; denial 9984 5 }`. */
export function nodeLocalClusterCache(clusterDomain = "cluster.local"): CacheConfig {
  return {
    ...COREDNS_CACHE_DEFAULTS,
    zones: [clusterDomain],
    successCapacity: 9984,
    successMaxTtlS: 30,
    denialCapacity: 9984,
    denialMaxTtlS: 5,
  }
}

/** Effective entries of a sharded cache of `capacity` (plugin/pkg/cache New). */
export function effectiveCapacity(capacity: number): number {
  return SHARDS * Math.max(Math.floor(capacity / SHARDS), 4)
}

function inZones(name: string, zones: readonly string[]): boolean {
  const n = name.toLowerCase()
  for (const z of zones) {
    const zl = z.toLowerCase()
    if (zl === "" || zl === "." || n === zl || n.endsWith(`.${zl}`)) return true
  }
  return false
}

/** Low byte of FNV-1 64 of hash(qname, qtype, qclass, do, cd) (cache.go). */
export function cacheShard(qname: string, qtype: number, qclass = 1, doBit = false, cdBit = false): number {
  let h = 0x25 // offset basis 0xcbf29ce484222325
  const step = (byte: number): void => {
    h = Math.imul(h, 0xb3) & 0xff // prime 0x100000001b3
    h ^= byte
  }
  step(doBit ? 0x31 : 0x30)
  step(cdBit ? 0x31 : 0x30)
  step(qtype >> 8)
  step(qtype & 0xff)
  step(qclass >> 8)
  step(qclass & 0xff)
  const fqdn = `${qname.toLowerCase()}.`
  for (let i = 0; i < fqdn.length; i++) step(fqdn.charCodeAt(i) & 0xff)
  return h
}

// response.Type
const NO_ERROR = 0
const NAME_ERROR = 1
const NO_DATA = 2
const SERVER_ERROR = 3
const OTHER_ERROR = 4
const META = 5

function hasSoa(m: DnsMessage): boolean {
  for (const r of m.authorities) if (r.type === DnsType.SOA) return true
  return false
}

/** answersQuestion: a record of the qtype at the end of the CNAME chain from the qname. */
function answersQuestion(m: DnsMessage): boolean {
  const q = m.questions[0]
  if (m.rcode !== Rcode.NOERROR || q === undefined || m.answers.length === 0) return false
  let name = q.name.toLowerCase()
  if (q.type === DnsType.CNAME) return m.answers.some((r) => r.type === DnsType.CNAME && r.name.toLowerCase() === name)
  const visited = new Set<string>()
  for (;;) {
    if (visited.has(name)) return false
    visited.add(name)
    let target = ""
    for (const r of m.answers)
      if (r.type === DnsType.CNAME && r.name.toLowerCase() === name) {
        if (target !== "" && target !== r.target.toLowerCase()) return false
        target = r.target.toLowerCase()
      }
    if (target === "") break
    name = target
  }
  return m.answers.some((r) => r.type === q.type && r.name.toLowerCase() === name)
}

function isNodata(m: DnsMessage): boolean {
  return m.answers.length > 0 && !answersQuestion(m)
}

/** cacheResponseType (Typify, with a NOERROR non-answer carrying an SOA as NoData). */
function responseType(m: DnsMessage): number {
  const q = m.questions[0]
  if (q !== undefined && (q.type === DnsType.AXFR || q.type === DnsType.IXFR)) return META
  if (m.answers.length > 0 && m.rcode === Rcode.NOERROR) return hasSoa(m) && isNodata(m) ? NO_DATA : NO_ERROR
  if (m.answers.length > 0 && m.rcode === Rcode.NXDOMAIN) return OTHER_ERROR
  const soa = hasSoa(m)
  if (soa && m.rcode === Rcode.NOERROR) return NO_DATA
  if (m.rcode === Rcode.NXDOMAIN) return NAME_ERROR
  if (m.rcode === Rcode.SERVFAIL || m.rcode === Rcode.NOTIMP) return SERVER_ERROR
  if (m.rcode === Rcode.NOERROR) return NO_ERROR
  return OTHER_ERROR
}

/** MinimalTTLWithMaximum, in seconds. */
function minimalTtlS(m: DnsMessage, type: number, maximumS: number): number {
  if (type !== NO_ERROR && type !== NAME_ERROR && type !== NO_DATA) return CACHE_MIN_TTL_S
  if (m.answers.length + m.authorities.length === 0 && m.additionals.length === 0) return CACHE_MIN_TTL_S
  let ttl = maximumS
  for (const section of [m.answers, m.authorities, m.additionals]) for (const r of section) if (r.ttl < ttl) ttl = r.ttl
  return ttl
}

function withTtl(records: readonly DnsRecord[], ttl: number): DnsRecord[] {
  return records.map((r) => ({ ...r, ttl }))
}

interface Item {
  readonly key: string
  readonly name: string
  readonly qtype: number
  readonly rcode: number
  readonly recursionAvailable: boolean
  readonly reply: DnsMessage
  readonly storedNs: number
  readonly origTtlS: number
}

/** One of the two caches: 256 shards, random eviction within a full shard. */
class ShardedCache {
  private readonly shardKeys: string[][] = []
  private readonly items = new Map<string, Item>()
  readonly perShard: number
  evictions = 0

  constructor(
    capacity: number,
    private readonly random: { intBelow(n: number): number },
  ) {
    this.perShard = Math.max(Math.floor(capacity / SHARDS), 4)
    for (let i = 0; i < SHARDS; i++) this.shardKeys.push([])
  }

  get size(): number {
    return this.items.size
  }

  get(key: string): Item | undefined {
    return this.items.get(key)
  }

  /** shard.Add: a new key into a full shard evicts one existing key first. */
  add(shard: number, item: Item): void {
    const keys = this.shardKeys[shard]
    if (!this.items.has(item.key)) {
      if (keys.length >= this.perShard) {
        const victim = this.random.intBelow(keys.length)
        this.items.delete(keys[victim])
        keys[victim] = keys[keys.length - 1]
        keys.pop()
        this.evictions++
      }
      keys.push(item.key)
    }
    this.items.set(item.key, item)
  }
}

export class DnsCache {
  private readonly success: ShardedCache
  private readonly denial: ShardedCache
  hits = 0
  misses = 0

  constructor(
    readonly config: CacheConfig,
    random: { intBelow(n: number): number },
  ) {
    this.success = new ShardedCache(config.successCapacity, random)
    this.denial = new ShardedCache(config.denialCapacity, random)
  }

  get successSize(): number {
    return this.success.size
  }
  get denialSize(): number {
    return this.denial.size
  }
  get evictions(): number {
    return this.success.evictions + this.denial.evictions
  }

  /** True when the query's name is in the cache's zones (else the plugin passes it on untouched). */
  covers(query: DnsMessage): boolean {
    return inZones(query.questions[0].name, this.config.zones)
  }

  /**
   * getIfNotStale + toMsg: the cached reply for `query` with every TTL set to the remaining
   * lifetime, or null on a miss (then the caller asks the next plugin and calls `put`).
   */
  get(nowNs: number, query: DnsMessage): DnsMessage | null {
    if (!this.covers(query)) return null
    const q = query.questions[0]
    const key = cacheKey(q.name, q.type, query.flags)
    let found: Item | null = null
    const n = this.denial.get(key)
    if (n !== undefined && ttlS(n, nowNs) > 0) {
      found = n
      if (n.rcode === Rcode.SERVFAIL) {
        const p = this.success.get(key)
        if (p !== undefined && ttlS(p, nowNs) > 0) found = p
      }
    } else {
      const p = this.success.get(key)
      if (p !== undefined && ttlS(p, nowNs) > 0) found = p
    }
    if (found === null) {
      this.misses++
      return null
    }
    this.hits++
    const ttl = ttlS(found, nowNs)
    return {
      id: query.id,
      // SetReply + "Authoritative = true" + the stored RA bit.
      flags:
        DnsFlag.QR |
        DnsFlag.AA |
        (query.flags & (DnsFlag.RD | DnsFlag.CD)) |
        (found.recursionAvailable ? DnsFlag.RA : 0),
      rcode: found.rcode,
      questions: query.questions,
      answers: withTtl(found.reply.answers, ttl),
      authorities: withTtl(found.reply.authorities, ttl),
      additionals: withTtl(found.reply.additionals, ttl),
    }
  }

  /**
   * ResponseWriter.WriteMsg: the reply as the client receives it (TTLs capped to the cache
   * duration), stored when cacheable. Replies outside the cache's zones pass through unchanged.
   */
  put(nowNs: number, query: DnsMessage, reply: DnsMessage): DnsMessage {
    if (!this.covers(query)) return reply
    const type = responseType(reply)
    const c = this.config
    let durationS: number
    if (type === NAME_ERROR || type === NO_DATA)
      durationS = computeTtl(minimalTtlS(reply, type, c.denialMaxTtlS), c.denialMinTtlS, c.denialMaxTtlS)
    else if (type === SERVER_ERROR) durationS = c.servfailTtlS
    else durationS = computeTtl(minimalTtlS(reply, type, c.successMaxTtlS), c.successMinTtlS, c.successMaxTtlS)
    const written: DnsMessage = {
      ...reply,
      answers: withTtl(reply.answers, durationS),
      authorities: withTtl(reply.authorities, durationS),
      additionals: withTtl(reply.additionals, durationS),
    }
    const q = query.questions[0]
    const rq = reply.questions[0]
    const cacheable =
      (reply.flags & DnsFlag.TC) === 0 &&
      type !== OTHER_ERROR &&
      type !== META &&
      !(type === NAME_ERROR && !hasSoa(reply)) &&
      !(type === NO_ERROR && !hasSoa(reply) && isNodata(reply))
    // w.state.Match(res): the reply answers this question.
    const matches = rq !== undefined && rq.type === q.type && rq.name.toLowerCase() === q.name.toLowerCase()
    if (!cacheable || durationS <= 0 || !matches) return written
    const key = cacheKey(q.name, q.type, query.flags)
    const item: Item = {
      key,
      name: q.name,
      qtype: q.type,
      rcode: reply.rcode,
      recursionAvailable: (reply.flags & DnsFlag.RA) !== 0,
      reply: written,
      storedNs: nowNs,
      origTtlS: durationS,
    }
    const shard = cacheShard(q.name, q.type, 1, false, (query.flags & DnsFlag.CD) !== 0)
    if (type === NO_ERROR) {
      if (!inZones(q.name, c.disableSuccessZones)) this.success.add(shard, item)
    } else if (!inZones(q.name, c.disableDenialZones)) this.denial.add(shard, item)
    return written
  }
}

function cacheKey(name: string, qtype: number, flags: number): string {
  return `${(flags & DnsFlag.CD) !== 0 ? 1 : 0}|${qtype}|${name.toLowerCase()}`
}

/** item.ttl: stored duration minus the whole seconds elapsed (Go's Duration.Seconds truncated). */
function ttlS(item: Item, nowNs: number): number {
  return item.origTtlS - Math.trunc((nowNs - item.storedNs) / NS_PER_S)
}

/** cache.go computeTTL: clamp(msgTTL, min, max), the cap winning over the floor. */
export function computeTtl(msgTtlS: number, minTtlS: number, maxTtlS: number): number {
  return Math.min(Math.max(msgTtlS, minTtlS), maxTtlS)
}
