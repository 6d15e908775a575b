/**
 * Connection tracking for one network namespace (net/netfilter/nf_conntrack_core.c and the
 * per-protocol trackers), stored as typed-array columns indexed by integer entry ids.
 *
 * Each entry has two tuples, ORIGINAL and REPLY, stored at tuple slots `2*id` and `2*id+1`
 * (a "node" in the hash). Both are hashed, as in the kernel, so a reply packet finds its entry with
 * one lookup. An entry is created unconfirmed by the first packet (at PREROUTING/OUTPUT), may get NAT
 * (which rewrites its reply tuple), and is inserted into the hash only when that packet leaves
 * POSTROUTING or INPUT (`confirm`): until then its final addresses are unknown (gVisor's
 * conntrack.go makes the same point).
 *
 *   packet --> [raw] --> conntrack in (lookup / new) --> [mangle] [nat] ... [filter] [nat] --> confirm
 *
 * ICMP tuples: the echo identifier sits in the source-port slot of both directions (the kernel keeps
 * it in src.u.icmp.id of both tuples), the ICMP type in the destination-port slot (8 <-> 0 when
 * inverted). Expiry is lazy on lookup plus an amortised reap of a few slots per packet, so the wall
 * cost per packet does not grow with the table.
 */
import type { Packet } from "../wire/packet.ts"
import type { Rng } from "../sim/rng.ts"
import { formatIpv4 } from "../wire/ipv4.ts"
import { DropReason } from "../wire/drop-reason.ts"
import { IcmpType, Protocol, TcpFlag, protocolName } from "../wire/protocol.ts"
import { NS_PER_S } from "../sim/time.ts"
import { assert } from "../sim/assert.ts"
import { CtState, CtStatus, TCP_STATE_NAMES, TcpState } from "./constants.ts"

// Hot-path copies of imported constants (used by the per-packet methods below): an imported
// binding is read through the module's import cell, then the object's property, on every use
// (tsx runs these files as ES modules); a module-local const is one load of the same value.
const CT_STATE_DNAT = CtState.DNAT
const CT_STATE_ESTABLISHED = CtState.ESTABLISHED
const CT_STATE_INVALID = CtState.INVALID
const CT_STATE_NEW = CtState.NEW
const CT_STATE_SNAT = CtState.SNAT
const CT_STATE_UNTRACKED = CtState.UNTRACKED
const CT_STATUS_ASSURED = CtStatus.ASSURED
const CT_STATUS_CONFIRMED = CtStatus.CONFIRMED
const CT_STATUS_DST_NAT = CtStatus.DST_NAT
const CT_STATUS_FIXED_TIMEOUT = CtStatus.FIXED_TIMEOUT
const CT_STATUS_SEEN_REPLY = CtStatus.SEEN_REPLY
const CT_STATUS_SRC_NAT = CtStatus.SRC_NAT
const PROTOCOL_ICMP = Protocol.ICMP
const PROTOCOL_TCP = Protocol.TCP
const PROTOCOL_UDP = Protocol.UDP
const TCP_STATE_CLOSE = TcpState.CLOSE
const TCP_STATE_TIME_WAIT = TcpState.TIME_WAIT

/** Linux defaults, Documentation/networking/nf_conntrack-sysctl.rst (kube-proxy.md §6.2). */
export interface ConntrackTimeouts {
  readonly tcpSynSentNs: number
  readonly tcpSynRecvNs: number
  readonly tcpEstablishedNs: number
  readonly tcpFinWaitNs: number
  readonly tcpCloseWaitNs: number
  readonly tcpLastAckNs: number
  readonly tcpTimeWaitNs: number
  readonly tcpCloseNs: number
  /** nf_conntrack_udp_timeout: unreplied (or replied but younger than 2 s). */
  readonly udpNs: number
  /** nf_conntrack_udp_timeout_stream: seen both ways and older than 2 s (ASSURED). */
  readonly udpStreamNs: number
  readonly icmpNs: number
  readonly genericNs: number
}

export const LINUX_CONNTRACK_TIMEOUTS: ConntrackTimeouts = {
  tcpSynSentNs: 120 * NS_PER_S,
  tcpSynRecvNs: 60 * NS_PER_S,
  tcpEstablishedNs: 432000 * NS_PER_S,
  tcpFinWaitNs: 120 * NS_PER_S,
  tcpCloseWaitNs: 60 * NS_PER_S,
  tcpLastAckNs: 30 * NS_PER_S,
  tcpTimeWaitNs: 120 * NS_PER_S,
  tcpCloseNs: 10 * NS_PER_S,
  udpNs: 30 * NS_PER_S,
  udpStreamNs: 120 * NS_PER_S,
  icmpNs: 30 * NS_PER_S,
  genericNs: 600 * NS_PER_S,
}

/** What kube-proxy writes at start-up (conntrack.tcpEstablishedTimeout 24h, tcpCloseWaitTimeout 1h). */
export const KUBE_PROXY_CONNTRACK_TIMEOUTS: ConntrackTimeouts = {
  ...LINUX_CONNTRACK_TIMEOUTS,
  tcpEstablishedNs: 86400 * NS_PER_S,
  tcpCloseWaitNs: 3600 * NS_PER_S,
}

/**
 * Which fixes of the UDP confirm-time clash (dns.md §4.1) the simulated kernel has:
 * - `none`: before 4.19. A clash is resolved (the loser's packet adopts the winner's entry) only when
 *   the winner has no NAT set up at all (71d8c47fc653, `(ct->status & IPS_NAT_DONE_MASK) == 0`);
 *   otherwise the packet is dropped. insert_failed counts every clash.
 * - `4.19`: also resolved when both entries are equal in both directions (ed07d9a021df, nf_ct_match).
 * - `5.0`: as 4.19, and NAT's tuple-in-use test ignores an entry with the same original tuple
 *   (4e35c1cb9460, nf_conntrack_tuple_taken), so a loser NATed after the winner's insert keeps its
 *   source port and can still match.
 * - `clash-insert` (6a757c07e51f, "allow insertion of clashing entries", v5.6+): a UDP loser whose
 *   entry differs (other DNAT endpoint) is inserted in the reply direction only with a fixed 1 s
 *   timeout (nf_ct_resolve_clash_harder); insert_failed counts only packets dropped, resolved clashes
 *   count in clash_resolve.
 */
export const RACE_FIXES = ["none", "4.19", "5.0", "clash-insert"] as const
export type RaceFix = (typeof RACE_FIXES)[number]
const RACE_LEVEL: Record<RaceFix, number> = { none: 0, "4.19": 1, "5.0": 2, "clash-insert": 3 }
const LEVEL_4_19 = 1
const LEVEL_5_0 = 2
const LEVEL_CLASH_INSERT = 3
/** nf_ct_resolve_clash_harder: `loser_ct->timeout = nfct_time_stamp + HZ`. */
const NAT_CLASH_TIMEOUT_NS = NS_PER_S

export interface ConntrackOptions {
  /** nf_conntrack_max. Default 131072 = kube-proxy's conntrack.min (proxy/conntrack-sysctls.ts). */
  readonly max?: number
  /**
   * nf_conntrack_buckets (the module's `hashsize`): the hash table's bucket count, fixed for the
   * table's life and rounded up to a whole number of pages as nf_ct_alloc_hashtable does (see
   * kernelBuckets). Default CONNTRACK_BUCKETS_DEFAULT, the kernel's autosize on the default node.
   */
  readonly buckets?: number
  readonly timeouts?: Partial<ConntrackTimeouts>
  /** nf_conntrack_tcp_loose (default 1): a non-SYN ACK without an entry picks the flow up as ESTABLISHED. */
  readonly tcpLoose?: boolean
  /** Slots examined by the amortised reaper per new/looked-up packet (default 8). */
  readonly reapSlotsPerPacket?: number
  /** Unconfirmed entries older than this (a packet dropped between hooks) are freed (default 1 s). */
  readonly unconfirmedTtlNs?: number
  /** The simulated kernel's fixes of the UDP clash race (default `clash-insert`, any kernel >= 5.6). */
  readonly raceFix?: RaceFix
  /**
   * Probability, in parts per million, that a UDP packet meeting an entry of its own flow that is
   * still on its way to confirm (see `visibleNs`) is processed concurrently on another CPU, so it
   * misses that entry and builds its own (default 0: packets of one flow are processed one after
   * the other, as on one CPU).
   */
  readonly racePpm?: number
  /** The stream the concurrency draws come from (required when racePpm > 0). */
  readonly raceRng?: Rng
}

const MAX_DEFAULT = 131072
/** NF_CT_EVICTION_RANGE in nf_conntrack_core.c: buckets examined by early_drop. */
export const EVICTION_RANGE = 8
/**
 * nf_ct_alloc_hashtable: `roundup(*sizep, PAGE_SIZE / sizeof(struct hlist_nulls_head))`, 4096 / 8
 * = 512 buckets per page on a 64-bit kernel.
 */
export const BUCKETS_PER_PAGE = 512
/** Initial and largest log2 bucket counts of the lookup index (see Conntrack.heads). */
const INDEX_BITS_MIN = 8
const INDEX_BITS_MAX = 20
/** nf_ct_alloc_hashtable refuses more than UINT_MAX / sizeof(struct hlist_nulls_head) buckets. */
const BUCKETS_LIMIT = Math.floor(0xffffffff / 8)
/** Memory of a node that does not say: eksctl's default node type, m5.large, has 8 GiB. */
export const NODE_MEMORY_BYTES_DEFAULT = 8 * 1024 ** 3
const PAGE_SIZE_BYTES = 4096

/**
 * The bucket count a kernel with `memoryBytes` of RAM picks when no hashsize is given
 * (nf_conntrack_core.c nf_conntrack_init_start, since d532bcd0b269 "sanitize table size default
 * settings", v5.15): RAM / 16384 / sizeof(struct hlist_head); 262144 above 4 GiB (64-bit),
 * 65536 above 1 GiB; at least 1024. nf_conntrack_max is then the same number (max_factor 1).
 * Documentation/networking/nf_conntrack-sysctl.rst states it as "total memory / 16384, clamped to
 * [1024, 262144]", leaving out the division by the 8-byte list head.
 */
export function kernelAutosizeBuckets(memoryBytes: number): number {
  const pages = Math.floor(memoryBytes / PAGE_SIZE_BYTES)
  const gib = (1024 * 1024 * 1024) / PAGE_SIZE_BYTES
  let size = Math.floor(Math.floor((pages * PAGE_SIZE_BYTES) / 16384) / 8)
  if (pages > 4 * gib) size = 262144
  else if (pages > gib) size = 65536
  return size < 1024 ? 1024 : size
}

/** The bucket count the kernel allocates for a requested hashsize (nf_ct_alloc_hashtable). */
export function kernelBuckets(requested: number): number {
  assert(Number.isInteger(requested) && requested > 0, `conntrack buckets must be a positive integer, got ${requested}`)
  const size = Math.ceil(requested / BUCKETS_PER_PAGE) * BUCKETS_PER_PAGE
  assert(size <= BUCKETS_LIMIT, `conntrack buckets ${requested} exceeds the kernel's limit ${BUCKETS_LIMIT}`)
  return size
}

/** The default node's bucket count: 262144 (8 GiB > 4 GiB). */
export const CONNTRACK_BUCKETS_DEFAULT = kernelAutosizeBuckets(NODE_MEMORY_BYTES_DEFAULT)

/**
 * reciprocal_scale(hash, size) (include/linux/kernel.h): `((u64)hash * size) >> 32`, the bucket of
 * a 32-bit hash. Split in 16-bit halves so that every product stays exact in a double.
 */
export function reciprocalScale(hash: number, size: number): number {
  const h = hash >>> 0
  return Math.floor(((h >>> 16) * size + Math.floor(((h & 0xffff) * size) / 65536)) / 65536)
}

/**
 * Entry columns and lookup index double while small and grow fourfold from GROW_FOURFOLD_FROM
 * slots on: a growth allocates new columns and copies the old ones, and for a table of tens of
 * thousands of entries the copies and the first touch of each new page were 6-10 % of a run of the
 * new-flow star (200,000 entries over 10 nodes, each table grown 9 times and its index rehashed 9
 * times). Fourfold steps copy a third as much; below the threshold a table holds at most twice
 * its entries, so small tables (a cluster's hundreds of nodes) take no more memory. Neither
 * size decides anything the model does: ids come from the free list and the high-water mark,
 * and a lookup finds the same entry whatever the index's slot count.
 */
const GROW_FOURFOLD_FROM = 4096

function growthFactor(size: number): number {
  return size >= GROW_FOURFOLD_FROM ? 4 : 2
}

/** Entry slots per block of the reaper's expiry bounds (see Conntrack.blockMinNs). */
const REAP_BLOCK = 64
/** nf_conntrack_proto_udp.c: a replied flow becomes a stream after 2 s. */
const UDP_STREAM_AFTER_NS = 2 * NS_PER_S

// tcp_conntracks[dir][event][state] from nf_conntrack_proto_tcp.c. 10 = sIV (invalid), 11 = sIG (ignore).
const sNO = 0,
  sSS = 1,
  sSR = 2,
  sES = 3,
  sFW = 4,
  sCW = 5,
  sLA = 6,
  sTW = 7,
  sCL = 8,
  sS2 = 9,
  sIV = 10,
  sIG = 11
const TCP_EVENT = { SYN: 0, SYNACK: 1, FIN: 2, ACK: 3, RST: 4, NONE: 5 } as const
const TCP_TABLE: readonly (readonly (readonly number[])[])[] = [
  [
    /* syn    */ [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */ [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [
    /* syn    */ [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */ [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
]

function tcpEvent(flags: number): number {
  if ((flags & TcpFlag.RST) !== 0) return TCP_EVENT.RST
  if ((flags & TcpFlag.SYN) !== 0) return (flags & TcpFlag.ACK) !== 0 ? TCP_EVENT.SYNACK : TCP_EVENT.SYN
  if ((flags & TcpFlag.FIN) !== 0) return TCP_EVENT.FIN
  if ((flags & TcpFlag.ACK) !== 0) return TCP_EVENT.ACK
  return TCP_EVENT.NONE
}

/** ICMP query types that may open a connection, and their reply types (nf_conntrack_proto_icmp.c). */
export function icmpReplyType(type: number): number {
  switch (type) {
    case 8:
      return 0
    case 0:
      return 8
    case 13:
      return 14
    case 14:
      return 13
    case 15:
      return 16
    case 16:
      return 15
    case 17:
      return 18
    case 18:
      return 17
    default:
      return -1
  }
}

export function isIcmpError(type: number): boolean {
  return (
    type === IcmpType.DEST_UNREACHABLE || type === IcmpType.TIME_EXCEEDED || type === 4 || type === 5 || type === 12
  )
}

/** Filter for `deleteWhere` (conntrack -D): every given field must equal. */
export interface ConntrackFilter {
  readonly protocol?: number
  readonly origSrc?: number
  readonly origDst?: number
  readonly origDstPort?: number
  readonly replySrc?: number
  /** Keep entries whose reply source is one of these (kube-proxy: "reply src is not a serving endpoint"). */
  readonly replySrcNotIn?: ReadonlySet<number>
}

export interface ConntrackStats {
  entries: number
  confirmed: number
  peak: number
  byState: Record<string, number>
  created: number
  expired: number
  insertFailed: number
  /** Clashes resolved at confirm (the kernel's clash_resolve; before clash-insert also in insertFailed). */
  clashResolved: number
  dropTableFull: number
  earlyDrops: number
  invalid: number
}

export class Conntrack {
  // Read per packet: `declare`d and assigned in the constructor rather than declared without a
  // value, which defines them as undefined first, so V8 tracks them as any value (see
  // sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare readonly max: number
  declare readonly timeouts: ConntrackTimeouts
  declare readonly tcpLoose: boolean
  declare readonly reapSlotsPerPacket: number
  declare readonly unconfirmedTtlNs: number
  declare readonly raceFix: RaceFix
  declare private readonly raceLevel: number
  declare readonly racePpm: number
  declare private readonly raceRng: Rng | null

  private capacity = 0
  /**
   * The tuples, packed 4 words per node (node = 2*id + direction: src, dst, sport << 16 | dport,
   * next node in the bucket or -1), so that a chain walk touches one cache line per node. The only
   * copy of the tuples: other readers go through srcOf/dstOf/sportOf/dportOf. (Separate tuple
   * columns beside the keys were 24 of 80 bytes per entry to allocate, zero, first-touch and copy
   * at every growth of the table: once per new flow.)
   */
  private keys = new Int32Array(0)
  /** Entry columns. */
  proto = new Uint8Array(0)
  status = new Uint16Array(0)
  tcpState = new Uint8Array(0)
  expiresNs = new Float64Array(0)
  createdNs = new Float64Array(0)
  /**
   * When the entry enters the hash in the kernel's time: its first packet's arrival plus the hook
   * costs charged up to confirm. The simulator runs a packet's hooks in one event, so the entry is
   * linked earlier; a concurrent packet of the same flow arriving before this time misses it.
   */
  visibleNs = new Float64Array(0)
  /** For an entry built by a packet that missed a not-yet-visible entry of its flow: that entry, else -1. */
  raceOf = new Int32Array(0)
  /**
   * racePpm > 0. Without races nothing reads visibleNs or raceOf, so they stay empty: 12 bytes
   * less per entry to allocate, zero and copy at every growth of the table.
   */
  declare private readonly racing: boolean
  /** The racing packet's own clock (arrival + hook costs so far), set by the stack before NAT. */
  raceClockNs = 0

  /** nf_conntrack_buckets: fixed for the table's life (the kernel's resize path is not modelled). */
  declare readonly buckets: number
  /**
   * The lookup index, two words per slot: the first node of the slot's chain (or -1), then a
   * 32-bit summary of the chain's hashes (bit `hash & 31` set for every node linked there;
   * recomputed when a node leaves). A lookup whose bit is clear misses without touching the
   * chain, so a tuple that is not in the table (every new flow's, and NAT's candidate reply
   * tuples) costs one memory access instead of a walk over nodes scattered through `keys`.
   *
   * A slot is picked by the hash's top `32 - indexShift` bits, and the kernel's bucket of a hash
   * (reciprocal_scale(hash, buckets)) also grows with the hash: each kernel bucket is a range of
   * hashes, and so of consecutive slots, which is how early_drop finds the kernel bucket's
   * entries. The index starts at 256 slots and doubles as entries are confirmed (at most one
   * entry per slot), so memory follows the live entries rather than nf_conntrack_buckets (262144
   * buckets with their summary word are 2 MiB, at every node that sees one packet). Lookups find
   * the same entry whatever the slot count: each tuple is in the table at most once.
   */
  private heads = new Int32Array(0)
  private indexShift = 32
  private freeHead = -1
  private highWater = 0
  private readonly unconfirmed: number[] = []
  private reapCursor = 0
  /**
   * Per block of REAP_BLOCK entry slots, a lower bound of the expiry times of the block's entries
   * (every write of `expiresNs` lowers it; the reaper sets it exactly when it has swept a block).
   * The reaper skips a block whose bound lies in the future: no entry there can have expired, so
   * skipping removes exactly what examining each slot would (nothing) -- and a table of entries
   * that live far longer than the run (200,000 UDP flows with a 30 s timeout) costs the reaper no
   * memory traffic.
   */
  private blockMinNs = new Float64Array(0)

  /** Allocated entries (confirmed + unconfirmed): what nf_conntrack_count counts against max. */
  count = 0
  confirmedCount = 0
  peak = 0
  created = 0
  expired = 0
  insertFailed = 0
  clashResolved = 0
  dropTableFull = 0
  earlyDrops = 0
  invalid = 0

  constructor(options: ConntrackOptions = {}) {
    this.max = options.max ?? MAX_DEFAULT
    assert(Number.isInteger(this.max) && this.max > 0, `conntrack max must be a positive integer, got ${this.max}`)
    this.timeouts = { ...LINUX_CONNTRACK_TIMEOUTS, ...options.timeouts }
    this.tcpLoose = options.tcpLoose ?? true
    this.reapSlotsPerPacket = options.reapSlotsPerPacket ?? 8
    this.unconfirmedTtlNs = options.unconfirmedTtlNs ?? NS_PER_S
    this.raceFix = options.raceFix ?? "clash-insert"
    this.raceLevel = RACE_LEVEL[this.raceFix]
    assert(this.raceLevel !== undefined, `conntrack raceFix must be one of ${RACE_FIXES.join(", ")}`)
    this.racePpm = options.racePpm ?? 0
    assert(
      Number.isInteger(this.racePpm) && this.racePpm >= 0 && this.racePpm <= 1_000_000,
      "conntrack racePpm in parts per million",
    )
    this.raceRng = options.raceRng ?? null
    assert(this.racePpm === 0 || this.raceRng !== null, "conntrack racePpm needs a raceRng")
    this.racing = this.racePpm > 0
    this.buckets = kernelBuckets(options.buckets ?? CONNTRACK_BUCKETS_DEFAULT)
    this.grow(Math.min(this.max, 256))
    this.rehash(INDEX_BITS_MIN)
  }

  // -------------------------------------------------------------------------------------------
  // Storage

  private grow(capacity: number): void {
    // One copy per column, written out: a generic helper taking a constructor closure was one
    // megamorphic call site for five array types (and two closures per column per growth).
    const keys = new Int32Array(capacity * 8)
    keys.set(this.keys)
    this.keys = keys
    const proto = new Uint8Array(capacity)
    proto.set(this.proto)
    this.proto = proto
    const status = new Uint16Array(capacity)
    status.set(this.status)
    this.status = status
    const tcpState = new Uint8Array(capacity)
    tcpState.set(this.tcpState)
    this.tcpState = tcpState
    const expiresNs = new Float64Array(capacity)
    expiresNs.set(this.expiresNs)
    this.expiresNs = expiresNs
    const createdNs = new Float64Array(capacity)
    createdNs.set(this.createdNs)
    this.createdNs = createdNs
    if (this.racing) {
      const visibleNs = new Float64Array(capacity)
      visibleNs.set(this.visibleNs)
      this.visibleNs = visibleNs
      const raceOf = new Int32Array(capacity)
      raceOf.set(this.raceOf)
      this.raceOf = raceOf
    }
    const blocks = Math.ceil(capacity / REAP_BLOCK)
    const blockMinNs = new Float64Array(blocks)
    blockMinNs.set(this.blockMinNs)
    blockMinNs.fill(Infinity, this.blockMinNs.length)
    this.blockMinNs = blockMinNs
    this.capacity = capacity
  }

  /**
   * The tuple's 32-bit hash (`ports` = sport << 16 | dport): reciprocal_scale of it picks the bucket
   * (its top bits), its low five bits the bucket summary's bit. Not the kernel's jhash2, whose
   * seed (nf_conntrack_hash_rnd) is random at every boot: which bucket a tuple lands in is not
   * reproducible on a real node either; the bucket count, and so how many entries share a
   * bucket and early_drop's window, are.
   */
  private hashOf(src: number, dst: number, ports: number, proto: number): number {
    let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13) ^ dst, 0xc2b2ae35)
    h = Math.imul(h ^ (h >>> 16) ^ ports, 0x27d4eb2f)
    h = Math.imul(h ^ (h >>> 15) ^ proto, 0x165667b1)
    return h ^ (h >>> 16)
  }

  /** The bucket of a tuple (hash_conntrack -> reciprocal_scale over nf_conntrack_buckets). */
  bucketOf(src: number, dst: number, sport: number, dport: number, proto: number): number {
    return reciprocalScale(this.hashOf(src | 0, dst | 0, (sport << 16) | dport, proto), this.buckets)
  }

  /** Rebuilds the lookup index with 2^bits slots. */
  private rehash(bits: number): void {
    this.heads = new Int32Array(2 << bits)
    for (let b = 0; b < this.heads.length; b += 2) this.heads[b] = -1
    this.indexShift = 32 - bits
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & CtStatus.CONFIRMED) === 0) continue
      if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.link(id * 2)
      this.link(id * 2 + 1)
    }
  }

  /** The hash of node's tuple, from the packed keys. */
  private nodeHash(node: number): number {
    const k = node * 4
    return this.hashOf(this.keys[k], this.keys[k + 1], this.keys[k + 2], this.proto[node >> 1])
  }

  /**
   * Writes node's tuple into the packed keys. Ports are cut to 16 bits and addresses to 32 bits, as
   * the Uint16/Uint32 tuple columns that held them before did.
   */
  private setTuple(node: number, src: number, dst: number, sport: number, dport: number): void {
    const k = node * 4
    const keys = this.keys
    keys[k] = src
    keys[k + 1] = dst
    keys[k + 2] = ((sport & 0xffff) << 16) | (dport & 0xffff)
  }

  /** Source address of node's tuple (node = 2*id + direction; direction 1 = the reply tuple). */
  srcOf(node: number): number {
    return this.keys[node * 4] >>> 0
  }

  /** Destination address of node's tuple. */
  dstOf(node: number): number {
    return this.keys[node * 4 + 1] >>> 0
  }

  /** Source port (ICMP: the echo id) of node's tuple. */
  sportOf(node: number): number {
    return this.keys[node * 4 + 2] >>> 16
  }

  /** Destination port (ICMP: the type) of node's tuple. */
  dportOf(node: number): number {
    return this.keys[node * 4 + 2] & 0xffff
  }

  /** True when nodes a and b hold the same tuple. */
  private sameTuple(a: number, b: number): boolean {
    const keys = this.keys
    const x = a * 4
    const y = b * 4
    return keys[x] === keys[y] && keys[x + 1] === keys[y + 1] && keys[x + 2] === keys[y + 2]
  }

  /** lookup of node's own tuple (confirm's clash checks), from the packed key. */
  private lookupNode(node: number, proto: number, nowNs: number): number {
    const k = node * 4
    const keys = this.keys
    const found = this.findPacked(keys[k], keys[k + 1], keys[k + 2], proto)
    if (found < 0) return -1
    if (this.expiresNs[found >> 1] <= nowNs) {
      this.remove(found >> 1)
      this.expired++
      return -1
    }
    return found
  }

  private link(node: number): void {
    const h = this.nodeHash(node)
    const page = this.heads
    const b = (h >>> this.indexShift) << 1
    this.keys[node * 4 + 3] = page[b]
    page[b] = node
    page[b + 1] |= 1 << (h & 31)
  }

  private unlink(node: number): void {
    const page = this.heads
    const b = (this.nodeHash(node) >>> this.indexShift) << 1
    const keys = this.keys
    let prev = -1
    let cur = page[b]
    while (cur !== node) {
      assert(cur >= 0, "conntrack: node missing from its bucket")
      prev = cur
      cur = keys[cur * 4 + 3]
    }
    if (prev < 0) page[b] = keys[node * 4 + 3]
    else keys[prev * 4 + 3] = keys[node * 4 + 3]
    let summary = 0
    for (let n = page[b]; n >= 0; n = keys[n * 4 + 3]) summary |= 1 << (this.nodeHash(n) & 31)
    page[b + 1] = summary
  }

  /** Finds a confirmed tuple; returns its node (2*id + direction) or -1. Does not check expiry. */
  find(src: number, dst: number, sport: number, dport: number, proto: number): number {
    return this.findPacked(src | 0, dst | 0, (sport << 16) | dport, proto)
  }

  /** find, with the tuple as its packed key words (s, d, ports = sport << 16 | dport as int32). */
  private findPacked(s: number, d: number, ports: number, proto: number): number {
    const keys = this.keys
    const h = this.hashOf(s, d, ports, proto)
    const heads = this.heads
    const b = (h >>> this.indexShift) << 1
    if (((heads[b + 1] >>> (h & 31)) & 1) === 0) return -1
    let node = heads[b]
    while (node >= 0) {
      const k = node * 4
      if (keys[k] === s && keys[k + 1] === d && keys[k + 2] === ports && this.proto[node >> 1] === proto) return node
      node = keys[k + 3]
    }
    return -1
  }

  /** find + lazy expiry: an expired entry is removed and reported as absent. */
  lookup(src: number, dst: number, sport: number, dport: number, proto: number, nowNs: number): number {
    const node = this.find(src, dst, sport, dport, proto)
    if (node < 0) return -1
    if (this.expiresNs[node >> 1] <= nowNs) {
      this.remove(node >> 1)
      this.expired++
      return -1
    }
    return node
  }

  /** Allocates an unconfirmed entry with the given original tuple (reply = its inverse). -1 when full. */
  allocate(src: number, dst: number, sport: number, dport: number, proto: number, nowNs: number): number {
    this.freeStaleUnconfirmed(nowNs)
    if (this.count >= this.max && !this.earlyDrop(src, dst, sport, dport, proto, nowNs)) {
      this.dropTableFull++
      return -1
    }
    let id = this.freeHead
    if (id >= 0) {
      this.freeHead = this.keys[id * 8 + 3]
    } else {
      if (this.highWater === this.capacity)
        this.grow(Math.min(this.max + EVICTION_RANGE, this.capacity * growthFactor(this.capacity)))
      id = this.highWater++
    }
    const o = id * 2
    this.setTuple(o, src, dst, sport, dport)
    if (proto === Protocol.ICMP) this.setTuple(o + 1, dst, src, sport, icmpReplyType(dport))
    else this.setTuple(o + 1, dst, src, dport, sport)
    this.proto[id] = proto
    this.status[id] = CtStatus.USED
    this.tcpState[id] = TcpState.NONE
    this.createdNs[id] = nowNs
    this.setExpires(id, nowNs)
    if (this.racing) {
      this.visibleNs[id] = nowNs
      this.raceOf[id] = -1
    }
    this.count++
    this.created++
    if (this.count > this.peak) this.peak = this.count
    this.unconfirmed.push(id)
    return id
  }

  /** Rewrites the reply tuple (nf_conntrack_alter_reply), before confirmation. */
  setReply(id: number, src: number, dst: number, sport: number, dport: number): void {
    assert((this.status[id] & CtStatus.CONFIRMED) === 0, "conntrack: altering the reply tuple of a confirmed entry")
    this.setTuple(id * 2 + 1, src, dst, sport, dport)
  }

  /**
   * Inserts an unconfirmed entry into the hash (__nf_conntrack_confirm) and records when that happens
   * in the kernel's time (`visibleAtNs`, default now). Returns the entry the packet now belongs to:
   * `id`, an existing entry it was merged into (nf_ct_resolve_clash), or -1 when the clash is not
   * resolved at the simulated kernel's fix level (the packet is dropped, insert_failed).
   */
  confirm(id: number, nowNs: number, visibleAtNs: number = nowNs): number {
    if (!this.takeUnconfirmed(id)) return id
    const o = id * 2
    const r = o + 1
    const p = this.proto[id]
    // The original tuple's bucket first, then the reply tuple's (both loops of __nf_conntrack_confirm).
    let clash = this.lookupNode(o, p, nowNs)
    if (clash < 0) clash = this.lookupNode(r, p, nowNs)
    if (clash >= 0) return this.resolveClash(id, clash >> 1, nowNs, visibleAtNs)
    this.insert(id, visibleAtNs)
    return id
  }

  private insert(id: number, visibleAtNs: number): void {
    this.status[id] |= CtStatus.CONFIRMED
    if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.link(id * 2)
    this.link(id * 2 + 1)
    if (this.racing) this.visibleNs[id] = visibleAtNs
    this.confirmedCount++
    const bits = 32 - this.indexShift
    if (this.confirmedCount > 1 << bits && bits < INDEX_BITS_MAX)
      this.rehash(Math.min(INDEX_BITS_MAX, bits + (growthFactor(1 << bits) === 4 ? 2 : 1)))
  }

  /** nf_ct_match: both tuples equal (zones and extensions are not modelled). */
  private sameEntry(a: number, b: number): boolean {
    return this.sameTuple(a * 2, b * 2) && this.sameTuple(a * 2 + 1, b * 2 + 1)
  }

  /**
   * __nf_ct_resolve_clash: the loser's packet adopts the winner when the winner has no NAT set up
   * (any kernel with 71d8c47fc653) or, from 4.19 (ed07d9a021df), when both entries are equal.
   */
  private mergeable(winner: number, loser: number): boolean {
    if ((this.status[winner] & (CtStatus.SRC_NAT_DONE | CtStatus.DST_NAT_DONE)) === 0) return true
    return this.raceLevel >= LEVEL_4_19 && this.sameEntry(winner, loser)
  }

  /**
   * nf_ct_resolve_clash (the `out:` path of __nf_conntrack_confirm). Only protocols with allow_clash
   * may be merged: UDP here (ICMP and the generic tracker gained it only in 2026, not modelled).
   */
  private resolveClash(id: number, winner: number, nowNs: number, visibleAtNs: number): number {
    const allowClash = this.proto[id] === Protocol.UDP
    if (this.raceLevel < LEVEL_CLASH_INSERT) {
      // Before the 2020 rework, insert_failed was counted for every clash, resolved or not.
      this.insertFailed++
      if (allowClash && this.mergeable(winner, id)) {
        this.release(id)
        return winner
      }
      this.release(id)
      return -1
    }
    if (allowClash && this.mergeable(winner, id)) {
      this.clashResolved++
      this.release(id)
      return winner
    }
    if (allowClash) {
      // nf_ct_resolve_clash_harder: the reply direction must not clash unless both tuples are equal.
      const r = id * 2 + 1
      const replyClash = this.lookupNode(r, this.proto[id], nowNs)
      if (replyClash >= 0) {
        const other = replyClash >> 1
        if (this.mergeable(other, id)) {
          this.clashResolved++
          this.release(id)
          return other
        }
      } else {
        // Inserted in the reply direction only, gone in 1 s, never refreshed nor ASSURED.
        this.status[id] |= CtStatus.NAT_CLASH | CtStatus.FIXED_TIMEOUT
        this.setExpires(id, nowNs + NAT_CLASH_TIMEOUT_NS)
        this.insert(id, visibleAtNs)
        this.clashResolved++
        return id
      }
    }
    this.insertFailed++
    this.release(id)
    return -1
  }

  /**
   * nf_nat_used_tuple -> nf_conntrack_tuple_taken for entry `ignored`'s candidate reply tuple. An
   * entry with the same original tuple does not count from 5.0 on (4e35c1cb9460: the clash is left
   * to confirm); for a racing entry, entries not yet in the hash at its own clock do not count.
   */
  tupleTaken(
    src: number,
    dst: number,
    sport: number,
    dport: number,
    proto: number,
    ignored: number,
    nowNs: number,
  ): boolean {
    const node = this.lookup(src, dst, sport, dport, proto, nowNs)
    if (node < 0) return false
    const other = node >> 1
    if (this.racing && this.raceOf[ignored] >= 0 && this.raceClockNs < this.visibleNs[other]) return false
    if (this.raceLevel >= LEVEL_5_0 && proto === Protocol.UDP && this.sameTuple(other * 2, ignored * 2)) return false
    return true
  }

  /** Frees an entry that was never confirmed (its packet was dropped). */
  release(id: number): void {
    this.takeUnconfirmed(id)
    if ((this.status[id] & CtStatus.USED) === 0) return
    assert((this.status[id] & CtStatus.CONFIRMED) === 0, "conntrack: release of a confirmed entry")
    this.free(id)
  }

  /**
   * Removes `id` from the unconfirmed list (false when it is not there), keeping the others' order.
   * By hand rather than splice, which allocates the array of removed elements (once per new flow).
   */
  private takeUnconfirmed(id: number): boolean {
    const list = this.unconfirmed
    // The entry being confirmed is almost always the newest: search from the end.
    let i = list.length - 1
    while (i >= 0 && list[i] !== id) i--
    if (i < 0) return false
    for (let j = i + 1; j < list.length; j++) list[j - 1] = list[j]
    list.pop()
    return true
  }

  /** Removes a confirmed entry from the hash and frees it. */
  remove(id: number): void {
    assert((this.status[id] & CtStatus.CONFIRMED) !== 0, "conntrack: remove of an unconfirmed entry")
    if ((this.status[id] & CtStatus.NAT_CLASH) === 0) this.unlink(id * 2)
    this.unlink(id * 2 + 1)
    this.confirmedCount--
    this.free(id)
  }

  private free(id: number): void {
    this.status[id] = 0
    this.keys[id * 8 + 3] = this.freeHead
    this.freeHead = id
    this.count--
  }

  isConfirmed(id: number): boolean {
    return (this.status[id] & CT_STATUS_CONFIRMED) !== 0
  }

  private freeStaleUnconfirmed(nowNs: number): void {
    const list = this.unconfirmed
    while (list.length > 0 && nowNs - this.createdNs[list[0]] >= this.unconfirmedTtlNs) {
      const id = list.shift() as number
      this.free(id)
    }
  }

  /**
   * early_drop (nf_conntrack_core.c), when the table is full: from the new tuple's bucket
   * (reciprocal_scale of its hash), up to NF_CT_EVICTION_RANGE consecutive buckets (wrapping,
   * `(bucket + 1) % hsize`); early_drop_list walks a bucket's chain, reaps expired entries
   * (nf_ct_gc_expired, which does not count as a drop) and deletes every entry that is not
   * ASSURED; the first bucket where it deleted one ends the search and the new entry is allocated.
   * When no bucket yields a drop, the packet is dropped even if expired entries were reaped
   * (__nf_conntrack_alloc has counted the new entry already and fails it). What a bucket's walk
   * does depends only on which entries the bucket holds, not on their order in the chain.
   */
  private earlyDrop(src: number, dst: number, sport: number, dport: number, proto: number, nowNs: number): boolean {
    let bucket = this.bucketOf(src, dst, sport, dport, proto)
    for (let i = 0; i < EVICTION_RANGE; i++) {
      if (i > 0) bucket = (bucket + 1) % this.buckets
      if (this.dropInBucket(bucket, nowNs) > 0) return true
    }
    return false
  }

  /** early_drop_list over kernel bucket `bucket`: returns the entries deleted (expired ones aside). */
  private dropInBucket(bucket: number, nowNs: number): number {
    // The bucket's hashes are [ceil(bucket * 2^32 / buckets), ceil((bucket + 1) * 2^32 / buckets));
    // the slots holding them are taken one wider on each side (the bounds are computed in floating
    // point) and every node is checked against the exact bucket.
    const shift = this.indexShift
    const slots = this.heads.length >> 1
    const low = Math.max(0, Math.floor(((bucket / this.buckets) * 4294967296) / 2 ** shift) - 1)
    const high = Math.min(slots - 1, Math.floor((((bucket + 1) / this.buckets) * 4294967296) / 2 ** shift) + 1)
    let drops = 0
    for (let slot = low; slot <= high; slot++) {
      let node = this.heads[slot << 1]
      while (node >= 0) {
        const id = node >> 1
        const nextNode = this.keys[node * 4 + 3]
        if (reciprocalScale(this.nodeHash(node), this.buckets) !== bucket) {
          node = nextNode
          continue
        }
        // When the entry's other node is the next one, it leaves the chain with the entry: the walk
        // goes on after it (read before the removal, which reuses a node's link for the free list).
        const afterRemoval = nextNode >= 0 && nextNode >> 1 === id ? this.keys[nextNode * 4 + 3] : nextNode
        if (this.expiresNs[id] <= nowNs) {
          this.remove(id)
          this.expired++
          node = afterRemoval
        } else if ((this.status[id] & CtStatus.ASSURED) === 0) {
          this.remove(id)
          this.earlyDrops++
          drops++
          node = afterRemoval
        } else node = nextNode
      }
    }
    return drops
  }

  /** Sets an entry's expiry time, keeping its block's lower bound (blockMinNs) a lower bound. */
  private setExpires(id: number, expiresNs: number): void {
    this.expiresNs[id] = expiresNs
    const block = (id / REAP_BLOCK) | 0
    if (expiresNs < this.blockMinNs[block]) this.blockMinNs[block] = expiresNs
  }

  /**
   * Amortised garbage collection: examine `slots` entry slots round-robin, remove the expired.
   * Slots are visited in the same order, and the same entries removed at the same time, as a
   * slot-by-slot loop would; runs of slots inside a block whose expiry bound is in the future are
   * stepped over without reading them.
   */
  reapStep(nowNs: number, slots = this.reapSlotsPerPacket): void {
    const highWater = this.highWater
    if (highWater === 0) return
    let cursor = this.reapCursor
    let left = slots
    while (left > 0) {
      if (cursor >= highWater) cursor = 0
      const block = (cursor / REAP_BLOCK) | 0
      const blockStart = block * REAP_BLOCK
      const blockEnd = Math.min(blockStart + REAP_BLOCK, highWater)
      const n = Math.min(left, blockEnd - cursor)
      left -= n
      if (this.blockMinNs[block] > nowNs) {
        cursor += n
        continue
      }
      for (const end = cursor + n; cursor < end; cursor++) {
        if ((this.status[cursor] & CT_STATUS_CONFIRMED) !== 0 && this.expiresNs[cursor] <= nowNs) {
          this.remove(cursor)
          this.expired++
        }
      }
      if (cursor === blockEnd) {
        // The block has been swept: its bound becomes the earliest expiry among its entries (those
        // allocated but unconfirmed too: confirming does not write expiresNs again).
        let min = Infinity
        for (let id = blockStart; id < blockEnd; id++)
          if (this.status[id] !== 0 && this.expiresNs[id] < min) min = this.expiresNs[id]
        this.blockMinNs[block] = min
      }
    }
    this.reapCursor = cursor
  }

  /**
   * Removes every expired entry now (for listings and statistics; O(table)), in slot order,
   * stepping over blocks whose expiry bound is in the future (none of their entries has expired).
   */
  expireAll(nowNs: number): void {
    for (let id = 0; id < this.highWater; id++) {
      if (id % REAP_BLOCK === 0 && this.blockMinNs[id / REAP_BLOCK] > nowNs) {
        id += REAP_BLOCK - 1
        continue
      }
      if ((this.status[id] & CtStatus.CONFIRMED) !== 0 && this.expiresNs[id] <= nowNs) {
        this.remove(id)
        this.expired++
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Per-protocol state (nf_conntrack_proto_*.c)

  /**
   * Classifies `packet` and attaches it to its entry (nf_conntrack_in): sets ctId, ctDirection,
   * ctState. Returns -1 to continue, or a DropReason when the packet must be dropped.
   */
  packetIn(packet: Packet, nowNs: number): number {
    packet.ctId = -1
    packet.ctDirection = 0
    packet.ctState = 0
    if (packet.untracked) {
      packet.ctState = CT_STATE_UNTRACKED
      return -1
    }
    this.reapStep(nowNs)
    const proto = packet.protocol
    if (proto === PROTOCOL_ICMP && isIcmpError(packet.icmpType)) return this.relatedIn(packet, nowNs)
    let sport = 0
    let dport = 0
    if (proto === PROTOCOL_TCP || proto === PROTOCOL_UDP) {
      sport = packet.srcPort
      dport = packet.dstPort
    } else if (proto === PROTOCOL_ICMP) {
      sport = packet.srcPort
      dport = packet.icmpType
    }
    let node = this.lookup(packet.srcAddr, packet.dstAddr, sport, dport, proto, nowNs)
    let raceWith = -1
    if (
      node >= 0 &&
      (node & 1) === 0 &&
      proto === PROTOCOL_UDP &&
      // racePpm first: without races configured, visibleNs (a cache line of its own) is not read.
      this.racePpm > 0 &&
      nowNs < this.visibleNs[node >> 1] &&
      (this.raceRng as Rng).intBelow(1_000_000) < this.racePpm
    ) {
      // The entry's first packet is still between conntrack in and confirm on another CPU: in the
      // kernel the entry is not in the hash yet, so this packet builds its own (dns.md §4.1).
      raceWith = node >> 1
      node = -1
    }
    if (node >= 0 && proto === PROTOCOL_TCP) {
      // A SYN reopening a TIME_WAIT/CLOSE connection kills the old entry and starts anew
      // (tcp_packet: "Reopened connection" -> nf_ct_kill, -NF_REPEAT).
      const id = node >> 1
      const st = this.tcpState[id]
      if (
        (node & 1) === 0 &&
        tcpEvent(packet.tcpFlags) === TCP_EVENT.SYN &&
        (st === TCP_STATE_TIME_WAIT || st === TCP_STATE_CLOSE)
      ) {
        this.remove(id)
        node = -1
      }
    }
    if (node < 0) {
      const drop = this.newIn(packet, sport, dport, nowNs)
      if (raceWith >= 0 && packet.ctId >= 0) this.raceOf[packet.ctId] = raceWith
      return drop
    }
    const id = node >> 1
    const direction = node & 1
    if (!this.updateState(id, direction, packet, nowNs)) {
      this.invalid++
      packet.ctState = CT_STATE_INVALID
      return -1
    }
    packet.ctId = id
    packet.ctDirection = direction
    const status = this.status[id]
    const state = direction === 1 || (status & CT_STATUS_SEEN_REPLY) !== 0 ? CT_STATE_ESTABLISHED : CT_STATE_NEW
    packet.ctState = state | this.natStateBits(id)
    return -1
  }

  natStateBits(id: number): number {
    const status = this.status[id]
    return (
      ((status & CT_STATUS_SRC_NAT) !== 0 ? CT_STATE_SNAT : 0) |
      ((status & CT_STATUS_DST_NAT) !== 0 ? CT_STATE_DNAT : 0)
    )
  }

  private newIn(packet: Packet, sport: number, dport: number, nowNs: number): number {
    const proto = packet.protocol
    let tcpState: number = TcpState.NONE
    if (proto === Protocol.TCP) {
      const next = TCP_TABLE[0][tcpEvent(packet.tcpFlags)][sNO]
      if (next === sSS) tcpState = TcpState.SYN_SENT
      else if (next === sES && this.tcpLoose) tcpState = TcpState.ESTABLISHED
      else {
        this.invalid++
        packet.ctState = CtState.INVALID
        return -1
      }
    } else if (proto === Protocol.ICMP) {
      const reply = icmpReplyType(packet.icmpType)
      // Only query types open a connection (icmp_new); a reply without a request is INVALID.
      if (
        reply < 0 ||
        packet.icmpType === 0 ||
        packet.icmpType === 14 ||
        packet.icmpType === 16 ||
        packet.icmpType === 18
      ) {
        this.invalid++
        packet.ctState = CtState.INVALID
        return -1
      }
    }
    const id = this.allocate(packet.srcAddr, packet.dstAddr, sport, dport, proto, nowNs)
    if (id < 0) return DropReason.CONNTRACK_FULL
    this.tcpState[id] = tcpState
    this.setExpires(id, nowNs + this.timeoutFor(id))
    packet.ctId = id
    packet.ctDirection = 0
    packet.ctState = CtState.NEW
    return -1
  }

  /** Applies the protocol state machine to a packet of an existing entry; false = INVALID packet. */
  private updateState(id: number, direction: number, packet: Packet, nowNs: number): boolean {
    const proto = this.proto[id]
    const replyBefore = (this.status[id] & CT_STATUS_SEEN_REPLY) !== 0
    if (proto === PROTOCOL_TCP) {
      const old = this.tcpState[id]
      const next = TCP_TABLE[direction][tcpEvent(packet.tcpFlags)][old]
      if (next === sIV) return false
      if (direction === 1) this.status[id] |= CT_STATUS_SEEN_REPLY
      if (next === sIG) return true
      this.tcpState[id] = next
      // Assured once established with a reply seen (tcp_packet: SYN_RECV/ESTABLISHED -> ESTABLISHED).
      if (replyBefore && (old === sSR || old === sES) && next === sES) this.status[id] |= CT_STATUS_ASSURED
      this.setExpires(id, nowNs + this.timeoutFor(id))
      return true
    }
    if (direction === 1) this.status[id] |= CT_STATUS_SEEN_REPLY
    if (proto === PROTOCOL_UDP) {
      // nf_ct_refresh_acct leaves IPS_FIXED_TIMEOUT entries alone; IPS_NAT_CLASH is never ASSURED.
      if ((this.status[id] & CT_STATUS_FIXED_TIMEOUT) !== 0) return true
      let timeoutNs = this.timeouts.udpNs
      if ((this.status[id] & CT_STATUS_SEEN_REPLY) !== 0 && nowNs > this.createdNs[id] + UDP_STREAM_AFTER_NS) {
        timeoutNs = this.timeouts.udpStreamNs
        this.status[id] |= CT_STATUS_ASSURED
      }
      // setExpires, written out: an expiry time is above 2^31 ns, and passing it to a call that is
      // not inlined boxes it into a new heap number, once per packet.
      const expiresNs = nowNs + timeoutNs
      this.expiresNs[id] = expiresNs
      const block = (id / REAP_BLOCK) | 0
      if (expiresNs < this.blockMinNs[block]) this.blockMinNs[block] = expiresNs
      return true
    }
    this.setExpires(id, nowNs + this.timeoutFor(id))
    return true
  }

  /** Timeout for the entry's current state. */
  timeoutFor(id: number): number {
    const t = this.timeouts
    switch (this.proto[id]) {
      case Protocol.TCP:
        switch (this.tcpState[id]) {
          case TcpState.SYN_SENT:
          case TcpState.SYN_SENT2:
            return t.tcpSynSentNs
          case TcpState.SYN_RECV:
            return t.tcpSynRecvNs
          case TcpState.ESTABLISHED:
            return t.tcpEstablishedNs
          case TcpState.FIN_WAIT:
            return t.tcpFinWaitNs
          case TcpState.CLOSE_WAIT:
            return t.tcpCloseWaitNs
          case TcpState.LAST_ACK:
            return t.tcpLastAckNs
          case TcpState.TIME_WAIT:
            return t.tcpTimeWaitNs
          default:
            return t.tcpCloseNs
        }
      case Protocol.UDP:
        return (this.status[id] & CtStatus.ASSURED) !== 0 ? t.udpStreamNs : t.udpNs
      case Protocol.ICMP:
        return t.icmpNs
      default:
        return t.genericNs
    }
  }

  /**
   * ICMP errors (icmp_error_message): the inner header is the offending packet as it was sent; the
   * inverse of its tuple is looked up. Found -> RELATED in that direction; not found -> INVALID.
   */
  private relatedIn(packet: Packet, nowNs: number): number {
    const innerProto = packet.innerProtocol
    let src: number, dst: number, sport: number, dport: number
    // Invert the inner tuple.
    if (innerProto === Protocol.ICMP) {
      // The inner packet is an echo request/reply with the id in innerSrcPort; its type is not carried,
      // so try the request direction first: an error about our echo request is keyed as its reply.
      src = packet.innerDstAddr
      dst = packet.innerSrcAddr
      sport = packet.innerSrcPort
      dport = IcmpType.ECHO_REPLY
    } else if (innerProto === Protocol.TCP || innerProto === Protocol.UDP) {
      src = packet.innerDstAddr
      dst = packet.innerSrcAddr
      sport = packet.innerDstPort
      dport = packet.innerSrcPort
    } else {
      src = packet.innerDstAddr
      dst = packet.innerSrcAddr
      sport = 0
      dport = 0
    }
    let node = this.lookup(src, dst, sport, dport, innerProto, nowNs)
    if (node < 0 && innerProto === Protocol.ICMP)
      node = this.lookup(src, dst, sport, IcmpType.ECHO_REQUEST, innerProto, nowNs)
    if (node < 0) {
      this.invalid++
      packet.ctState = CtState.INVALID
      return -1
    }
    packet.ctId = node >> 1
    packet.ctDirection = node & 1
    packet.ctState = CtState.RELATED | this.natStateBits(node >> 1)
    return -1
  }

  // -------------------------------------------------------------------------------------------
  // Listing, deleting, statistics

  /** `conntrack -L`-like lines, in slot order (deterministic). */
  list(nowNs: number): string[] {
    this.expireAll(nowNs)
    const lines: string[] = []
    for (let id = 0; id < this.highWater; id++) {
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue
      lines.push(this.format(id, nowNs))
    }
    return lines
  }

  format(id: number, nowNs: number): string {
    const p = this.proto[id]
    const o = id * 2
    const r = o + 1
    const status = this.status[id]
    const seconds = Math.max(0, Math.floor((this.expiresNs[id] - nowNs) / NS_PER_S))
    let text = `${protocolName(p).padEnd(8)} ${p} ${seconds} `
    if (p === Protocol.TCP) text += `${TCP_STATE_NAMES[this.tcpState[id]]} `
    const tuple = (n: number): string => {
      if (p === Protocol.TCP || p === Protocol.UDP)
        return `src=${formatIpv4(this.srcOf(n))} dst=${formatIpv4(this.dstOf(n))} sport=${this.sportOf(n)} dport=${this.dportOf(n)}`
      if (p === Protocol.ICMP)
        return `src=${formatIpv4(this.srcOf(n))} dst=${formatIpv4(this.dstOf(n))} type=${this.dportOf(n)} code=0 id=${this.sportOf(n)}`
      return `src=${formatIpv4(this.srcOf(n))} dst=${formatIpv4(this.dstOf(n))}`
    }
    text += tuple(o)
    if ((status & CtStatus.SEEN_REPLY) === 0) text += " [UNREPLIED]"
    text += ` ${tuple(r)}`
    if ((status & CtStatus.ASSURED) !== 0) text += " [ASSURED]"
    // The connection mark (ct mark, CONNMARK) is not modelled: nothing sets it, so it is always 0.
    return `${text} mark=0 use=1`
  }

  /** Deletes confirmed entries matching the filter (conntrack -D); returns how many. */
  deleteWhere(filter: ConntrackFilter): number {
    let deleted = 0
    for (let id = 0; id < this.highWater; id++) {
      // ctnetlink does not see clash entries (their original direction is not in the hash).
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue
      const o = id * 2
      const r = o + 1
      if (filter.protocol !== undefined && this.proto[id] !== filter.protocol) continue
      if (filter.origSrc !== undefined && this.srcOf(o) !== filter.origSrc) continue
      if (filter.origDst !== undefined && this.dstOf(o) !== filter.origDst) continue
      if (filter.origDstPort !== undefined && this.dportOf(o) !== filter.origDstPort) continue
      if (filter.replySrc !== undefined && this.srcOf(r) !== filter.replySrc) continue
      if (filter.replySrcNotIn !== undefined && filter.replySrcNotIn.has(this.srcOf(r))) continue
      this.remove(id)
      deleted++
    }
    return deleted
  }

  flush(): number {
    return this.deleteWhere({})
  }

  stats(nowNs?: number): ConntrackStats {
    if (nowNs !== undefined) this.expireAll(nowNs)
    // Counted per (protocol, state) code first: the state's name is built once per code, not
    // once per entry (a table of 10^5 entries would otherwise make 10^5 strings per call).
    const STATES = 16
    const counts = new Float64Array(256 * STATES)
    for (let id = 0; id < this.highWater; id++) {
      const status = this.status[id]
      if ((status & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) !== CtStatus.CONFIRMED) continue
      const p = this.proto[id]
      const state =
        p === Protocol.TCP
          ? this.tcpState[id]
          : (status & CtStatus.ASSURED) !== 0
            ? 2
            : (status & CtStatus.SEEN_REPLY) !== 0
              ? 1
              : 0
      counts[p * STATES + state]++
    }
    const byState: Record<string, number> = {}
    for (let code = 0; code < counts.length; code++) {
      if (counts[code] === 0) continue
      const p = (code / STATES) | 0
      const state = code % STATES
      const key =
        p === Protocol.TCP
          ? `tcp/${TCP_STATE_NAMES[state]}`
          : `${protocolName(p)}/${state === 2 ? "ASSURED" : state === 1 ? "REPLIED" : "UNREPLIED"}`
      byState[key] = (byState[key] ?? 0) + counts[code]
    }
    const sorted: Record<string, number> = {}
    for (const key of Object.keys(byState).sort()) sorted[key] = byState[key]
    return {
      entries: this.count,
      confirmed: this.confirmedCount,
      peak: this.peak,
      byState: sorted,
      created: this.created,
      expired: this.expired,
      insertFailed: this.insertFailed,
      clashResolved: this.clashResolved,
      dropTableFull: this.dropTableFull,
      earlyDrops: this.earlyDrops,
      invalid: this.invalid,
    }
  }

  /** Live entry ids (confirmed), for tests and inspection. */
  ids(): number[] {
    const out: number[] = []
    for (let id = 0; id < this.highWater; id++)
      if ((this.status[id] & (CtStatus.CONFIRMED | CtStatus.NAT_CLASH)) === CtStatus.CONFIRMED) out.push(id)
    return out
  }
}
