/**
 * IP sets (net/netfilter/ipset/): the set types IPVS-mode kube-proxy uses (pkg/proxy/ipvs/ipset.go),
 * loaded with `ipset restore` syntax and printed as `ipset list` prints them; looked up by
 * `-m set --match-set` (ext/xt_set.ts) at constant cost per lookup (a Map/Set keyed by a packed
 * integer, as the kernel's hash types hash the element; bitmap:port is a bitmap, as the kernel's).
 *
 * Element semantics, per type (kernel file, kadt = the packet lookup):
 * - hash:ip (ip_set_hash_ip.c): the address.
 * - hash:ip,port (ip_set_hash_ipport.c): address, protocol and port. The port is taken from the
 *   packet by ip_set_get_ip4_port (ip_set_getport.c get_port): TCP/UDP/SCTP ports; for ICMP
 *   (type << 8) | code, whatever the src/dst flag; other protocols port 0. The protocol is part of
 *   the element: `10.0.0.1,tcp:80` does not match UDP to 10.0.0.1:80.
 * - hash:ip,port,ip (ip_set_hash_ipportip.c): plus a second address.
 * - hash:ip,port,net (ip_set_hash_ipportnet.c): plus a network; the lookup tries the prefix lengths
 *   present in the set from the longest down (mtype_test_cidrs over h->nets), so its cost is bounded
 *   by the number of distinct prefix lengths (at most 33), not by the number of elements.
 * - hash:net (ip_set_hash_net.c): networks, same longest-prefix-first walk.
 * - bitmap:port (ip_set_bitmap_port.c): ports within the set's `range`; the protocol is not part of
 *   the element, but bitmap_port_kadt takes the port with ip_set_get_ip_port, which accepts TCP and
 *   UDP packets only (an ICMP packet never matches); a port outside the range never matches.
 * Not modelled: timeouts, counters, skbinfo, `nomatch` entries, IPv6, the hash's resize and
 * maxelem (adds beyond maxelem are refused, as the kernel's "Hash is full").
 */
import type { Ipv4 } from "../wire/ipv4.ts"
import { formatIpv4, maskOf, parseIpv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { Protocol } from "../wire/protocol.ts"
import { EMPTY_I32 } from "../sim/empty.ts"
import { IntMap } from "../sim/int-map.ts"

export const IpSetType = {
  HASH_IP: "hash:ip",
  HASH_IP_PORT: "hash:ip,port",
  HASH_IP_PORT_IP: "hash:ip,port,ip",
  HASH_IP_PORT_NET: "hash:ip,port,net",
  HASH_NET: "hash:net",
  BITMAP_PORT: "bitmap:port",
} as const
export type IpSetType = (typeof IpSetType)[keyof typeof IpSetType]

const DIMENSIONS: Record<IpSetType, number> = {
  "hash:ip": 1,
  "hash:ip,port": 2,
  "hash:ip,port,ip": 3,
  "hash:ip,port,net": 3,
  "hash:net": 1,
  "bitmap:port": 1,
}

/** IPPROTO_SCTP; the simulator's packets never carry it, but kube-proxy's sets may name it. */
const PROTO_SCTP = 132
const PROTO_NAMES: Record<string, number> = {
  tcp: Protocol.TCP,
  udp: Protocol.UDP,
  sctp: PROTO_SCTP,
  icmp: Protocol.ICMP,
}

function protoName(proto: number): string {
  for (const [name, value] of Object.entries(PROTO_NAMES)) if (value === proto) return name
  return String(proto)
}

export class IpSetError extends Error {
  override readonly name = "IpSetError"
}

const TWO16 = 65536
const TWO6 = 64

const KIND_HASH_IP = 0
const KIND_HASH_IP_PORT = 1
const KIND_HASH_IP_PORT_IP = 2
const KIND_HASH_IP_PORT_NET = 3
const KIND_HASH_NET = 4
const KIND_BITMAP_PORT = 5
const KIND_OF: Record<IpSetType, number> = {
  "hash:ip": KIND_HASH_IP,
  "hash:ip,port": KIND_HASH_IP_PORT,
  "hash:ip,port,ip": KIND_HASH_IP_PORT_IP,
  "hash:ip,port,net": KIND_HASH_IP_PORT_NET,
  "hash:net": KIND_HASH_NET,
  "bitmap:port": KIND_BITMAP_PORT,
}

/** The flat index's hash of (ip, protocol << 16 | port); its top bits pick the slot. */
function flatHash(ip: number, pp: number): number {
  return Math.imul(ip ^ Math.imul(pp ^ (pp >>> 15), 0x85ebca6b), 0x9e3779b1) >>> 0
}

/**
 * `generation` is bumped by every change of any set's contents: a memo of rule walks that test
 * sets (walk-memo.ts) is valid only within one generation. An object, so that a module importing it
 * can keep the reference and read the field directly.
 */
export const ipsetContents = { generation: 0 }

/**
 * The elements of a set and their lookup index. Copy on write between namespaces: a namespace's set
 * points at one of these; an `ipset restore` that changes a set computes the new elements once per
 * distinct (elements before, changes) pair in the process (`transition`), so nodes whose kube-proxy
 * writes the same sets share one object instead of each indexing its own copy. A shared (frozen)
 * object is never modified: a write through `IpSet.add`/`del` copies it first. The flat index is a
 * cache built on the first lookup; building it changes no element.
 */
class IpSetData {
  /** Shared: a write must copy first. */
  frozen = false
  /** Elements as `ipset list` prints them, in insertion order (the key -> text map keeps it). */
  readonly members: Map<string, string>
  /** hash:ip: the address; hash:net: net * 64 + cidr. */
  readonly ones: Set<number>
  /**
   * hash:ip,port*: per protocol, ip -> port -> (ip2 | net * 64 + cidr); hash:ip,port: empty set.
   * Two int-keyed levels rather than one Map keyed by ip * 65536 + port: that 48-bit key was boxed
   * and hashed as a double on every packet's --match-set test.
   */
  readonly byProto: (IntMap<IntMap<Set<number>>> | undefined)[]
  /** Prefix lengths present (hash:net, hash:ip,port,net), longest first. */
  cidrs: number[]
  /** Starts as an array of its kind (the constructor sizes it): see sim/empty.ts for why. */
  readonly cidrCount: Int32Array = EMPTY_I32
  readonly bitmap: Uint8Array | null
  /** (ip, protocol, port) pairs in byProto: 0 lets a test of an empty hash:ip,port* set end at once. */
  pairs = 0
  /**
   * A flat open-addressing index over byProto's first two levels, keyed by (ip, protocol << 16 |
   * port), for the packet path: one probe sequence in two typed arrays instead of two IntMap
   * lookups. Built on the first test after a change (sets change on syncs, packets test them per
   * packet); flatMask -1 = stale. It finds exactly the inner set byProto holds for the pair.
   */
  flatIp = new Int32Array(0)
  /** protocol << 16 | port per slot; -1 = empty slot. */
  flatPp = new Int32Array(0)
  flatInner: Set<number>[] = []
  flatMask = -1
  flatShift = 32

  constructor(
    readonly kind: number,
    from?: IpSetData,
  ) {
    if (from === undefined) {
      this.members = new Map()
      this.ones = new Set()
      this.byProto = new Array(256)
      this.cidrs = []
      this.cidrCount = new Int32Array(33)
      this.bitmap = kind === KIND_BITMAP_PORT ? new Uint8Array(TWO16) : null
      return
    }
    this.members = new Map(from.members)
    this.ones = new Set(from.ones)
    this.byProto = new Array(256)
    for (let proto = 0; proto < 256; proto++) {
      const byIp = from.byProto[proto]
      if (byIp === undefined) continue
      const ipCopy = new IntMap<IntMap<Set<number>>>()
      for (const ip of byIp.keyList()) {
        const byPort = byIp.get(ip) as IntMap<Set<number>>
        const portCopy = new IntMap<Set<number>>()
        for (const port of byPort.keyList()) portCopy.set(port, new Set(byPort.get(port) as Set<number>))
        ipCopy.set(ip, portCopy)
      }
      this.byProto[proto] = ipCopy
    }
    this.cidrs = from.cidrs.slice()
    this.cidrCount = from.cidrCount.slice()
    this.bitmap = from.bitmap === null ? null : from.bitmap.slice()
    this.pairs = from.pairs
  }

  /** The flat index's slot of (ip, protocol << 16 | port), or -1 when the pair is not in the set. */
  flatSlot(ip: number, pp: number): number {
    if (this.flatMask < 0) this.buildFlat()
    const mask = this.flatMask
    const ips = this.flatIp
    const pps = this.flatPp
    let i = flatHash(ip, pp) >>> this.flatShift
    for (;;) {
      const k = pps[i]
      if (k === -1) return -1
      if (k === pp && ips[i] === ip) return i
      i = (i + 1) & mask
    }
  }

  private buildFlat(): void {
    let bits = 3
    while (1 << bits < 2 * this.pairs) bits++
    const size = 1 << bits
    const ips = new Int32Array(size)
    const pps = new Int32Array(size).fill(-1)
    const inners: Set<number>[] = new Array<Set<number>>(size)
    const mask = size - 1
    const shift = 32 - bits
    for (let proto = 0; proto < 256; proto++) {
      const byIp = this.byProto[proto]
      if (byIp === undefined) continue
      for (const ip of byIp.keyList()) {
        const byPort = byIp.get(ip) as IntMap<Set<number>>
        for (const port of byPort.keyList()) {
          const pp = (proto << 16) | port
          let i = flatHash(ip, pp) >>> shift
          while (pps[i] !== -1) i = (i + 1) & mask
          ips[i] = ip
          pps[i] = pp
          inners[i] = byPort.get(port) as Set<number>
        }
      }
    }
    this.flatIp = ips
    this.flatPp = pps
    this.flatInner = inners
    this.flatShift = shift
    this.flatMask = mask
  }

  testNet(nets: Set<number>, address: Ipv4): boolean {
    const cidrs = this.cidrs
    for (let i = 0; i < cidrs.length; i++) {
      const c = cidrs[i]
      if (nets.has(((address & maskOf(c)) >>> 0) * TWO6 + c)) return true
    }
    return false
  }

  /** Adds or deletes an element known to be absent / present (members is updated by the caller). */
  apply(e: Element, add: boolean): void {
    switch (this.kind) {
      case KIND_HASH_IP:
        if (add) this.ones.add(e.ip)
        else this.ones.delete(e.ip)
        return
      case KIND_HASH_NET:
        if (add) this.ones.add(e.net * TWO6 + e.cidr)
        else this.ones.delete(e.net * TWO6 + e.cidr)
        this.countCidr(e.cidr, add)
        return
      case KIND_BITMAP_PORT:
        ;(this.bitmap as Uint8Array)[e.port] = add ? 1 : 0
        return
      default: {
        let byIp = this.byProto[e.proto]
        if (byIp === undefined) byIp = this.byProto[e.proto] = new IntMap()
        let byPort = byIp.get(e.ip)
        if (byPort === undefined) {
          if (!add) return
          byPort = new IntMap()
          byIp.set(e.ip, byPort)
        }
        let inner = byPort.get(e.port)
        if (inner === undefined) {
          if (!add) return
          inner = new Set()
          byPort.set(e.port, inner)
          this.pairs++
          this.flatMask = -1
        }
        const third = this.kind === KIND_HASH_IP_PORT_IP ? e.ip2 : e.net * TWO6 + e.cidr
        let empty = false
        if (this.kind === KIND_HASH_IP_PORT) empty = !add
        else if (add) inner.add(third)
        else {
          inner.delete(third)
          empty = inner.size === 0
        }
        if (empty) {
          byPort.delete(e.port)
          if (byPort.size === 0) byIp.delete(e.ip)
          this.pairs--
          this.flatMask = -1
        }
        if (this.kind === KIND_HASH_IP_PORT_NET) this.countCidr(e.cidr, add)
      }
    }
  }

  private countCidr(cidr: number, add: boolean): void {
    this.cidrCount[cidr] += add ? 1 : -1
    const out: number[] = []
    for (let c = 32; c >= 0; c--) if (this.cidrCount[c] > 0) out.push(c)
    this.cidrs = out
  }
}

/** The empty elements of each kind, shared by every newly created set (a bitmap:port's 64 KiB once). */
const EMPTY_DATA: readonly IpSetData[] = [0, 1, 2, 3, 4, 5].map((kind) => {
  const data = new IpSetData(kind)
  data.frozen = true
  return data
})

/** One change of a restore: an element added or deleted, or the set flushed (element null). */
interface IpSetChange {
  readonly add: boolean
  readonly element: Element | null
}

/**
 * The transitions computed from each elements object: the changes (as text) and the elements they
 * led to. Nodes in the same state syncing the same changes get the same object. Weak both ways: an
 * entry lives as long as its starting elements, and does not keep its result alive (a chain of
 * successors would otherwise hold every set contents a run ever had). At most TRANSITIONS_KEPT per
 * starting object (the oldest goes): nodes whose views of a set differ apply a few distinct
 * changes to the same state, not many.
 */
const TRANSITIONS_KEPT = 16
const transitions = new WeakMap<IpSetData, Map<string, WeakRef<IpSetData>>>()
/** Transitions computed and reused (tests and benchmarks read the shape of the sharing). */
export const ipsetSharing = { computed: 0, reused: 0 }

function transition(base: IpSetData, changes: readonly IpSetChange[]): IpSetData {
  if (changes.length === 0) return base
  let key = ""
  for (const c of changes) key += c.element === null ? "F\n" : `${c.add ? "+" : "-"}${c.element.canonical}\n`
  let memo = transitions.get(base)
  if (memo === undefined) transitions.set(base, (memo = new Map()))
  const known = memo.get(key)?.deref()
  if (known !== undefined) {
    ipsetSharing.reused++
    return known
  }
  let first = 0
  for (let i = changes.length - 1; i >= 0; i--)
    if (changes[i].element === null) {
      first = i + 1
      break
    }
  const data = new IpSetData(base.kind, first > 0 ? EMPTY_DATA[base.kind] : base)
  for (let i = first; i < changes.length; i++) {
    const e = changes[i].element as Element
    if (changes[i].add) data.members.set(e.canonical, e.canonical)
    else data.members.delete(e.canonical)
    data.apply(e, changes[i].add)
  }
  data.frozen = true
  if (memo.size >= TRANSITIONS_KEPT) memo.delete(memo.keys().next().value as string)
  memo.set(key, new WeakRef(data))
  ipsetSharing.computed++
  return data
}

/** One set. Lookups allocate nothing. */
export class IpSet {
  readonly dimension: number
  hashSize = 1024
  maxElem = 65536
  /** bitmap:port `range`. */
  portFirst = 0
  portLast = 65535
  /** The elements (shared with other namespaces' sets holding the same; copied before a write). */
  private data: IpSetData
  /** The type as a small integer (test's switch compares integers, not strings). */
  private readonly kind: number

  constructor(
    readonly name: string,
    readonly type: IpSetType,
    options: { hashSize?: number; maxElem?: number; portFirst?: number; portLast?: number } = {},
  ) {
    this.dimension = DIMENSIONS[type]
    this.hashSize = options.hashSize ?? 1024
    this.maxElem = options.maxElem ?? 65536
    this.portFirst = options.portFirst ?? 0
    this.portLast = options.portLast ?? 65535
    this.kind = KIND_OF[type]
    this.data = EMPTY_DATA[this.kind]
  }

  get size(): number {
    return this.data.members.size
  }

  /** The elements object (identity: sets with the same elements may share one). */
  get contents(): object {
    return this.data
  }

  /** Adds an element written as `ipset add` takes it. Returns false if it was there already. */
  add(text: string): boolean {
    const e = this.parseElement(text)
    if (this.data.members.has(e.canonical)) return false
    if (this.kind !== KIND_BITMAP_PORT && this.data.members.size >= this.maxElem)
      throw new IpSetError(`Hash is full, cannot add more elements to ${this.name}`)
    const data = this.writable()
    data.members.set(e.canonical, e.canonical)
    data.apply(e, true)
    ipsetContents.generation++
    return true
  }

  /** Deletes an element. Returns false if it was not there (`ipset del` errors unless -exist). */
  del(text: string): boolean {
    const e = this.parseElement(text)
    if (!this.data.members.has(e.canonical)) return false
    const data = this.writable()
    data.members.delete(e.canonical)
    data.apply(e, false)
    ipsetContents.generation++
    return true
  }

  flush(): void {
    if (this.data.members.size === 0) return
    this.data = EMPTY_DATA[this.kind]
    ipsetContents.generation++
  }

  /** Member texts, insertion order or sorted (`ipset list -sorted`/`save`, as upstream tests compare). */
  list(sorted = false): string[] {
    const out = [...this.data.members.keys()]
    return sorted ? out.sort() : out
  }

  has(text: string): boolean {
    return this.data.members.has(this.parseElement(text).canonical)
  }

  /**
   * The kernel's kadt test for `packet`: `dirs[i]` true = take dimension i from the source (the
   * `src` flag of --match-set), false = destination. `dimensions` = how many flags were given:
   * fewer than the set's dimension never matches (ip_set_test: opt->dim < set->type->dimension).
   */
  test(packet: Packet, dimensions: number, dir0Src: boolean, dir1Src: boolean, dir2Src: boolean): boolean {
    if (dimensions < this.dimension) return false
    const d = this.data
    const ip = dir0Src ? packet.srcAddr : packet.dstAddr
    switch (this.kind) {
      case KIND_HASH_IP:
        return d.ones.has(ip)
      case KIND_HASH_NET:
        return d.testNet(d.ones, dir0Src ? packet.srcAddr : packet.dstAddr)
      case KIND_BITMAP_PORT: {
        if (packet.protocol !== Protocol.TCP && packet.protocol !== Protocol.UDP) return false
        const port = packetPort(packet, dir0Src)
        return port >= this.portFirst && port <= this.portLast && (d.bitmap as Uint8Array)[port] === 1
      }
      default: {
        if (d.pairs === 0) return false
        const slot = d.flatSlot(ip | 0, (packet.protocol << 16) | packetPort(packet, dir1Src))
        if (slot < 0) return false
        if (this.kind === KIND_HASH_IP_PORT) return true
        const inner = d.flatInner[slot]
        const ip2 = dir2Src ? packet.srcAddr : packet.dstAddr
        if (this.kind === KIND_HASH_IP_PORT_IP) return inner.has(ip2)
        return d.testNet(inner, ip2)
      }
    }
  }

  /** This set's elements, copied first when shared. */
  private writable(): IpSetData {
    if (this.data.frozen) this.data = new IpSetData(this.kind, this.data)
    return this.data
  }

  /** Takes `data` as its elements (an `ipset restore` commit). */
  adopt(data: IpSetData): void {
    if (data === this.data) return
    this.data = data
    ipsetContents.generation++
  }

  /** @internal restore's staging reads the elements it starts from. */
  elements(): IpSetData {
    return this.data
  }

  /** @internal */
  parseElement(text: string): Element {
    const parts = text.split(",")
    if (parts.length !== this.dimension) throw new IpSetError(`${this.name}: bad element "${text}" for ${this.type}`)
    const e: Element = { canonical: "", ip: 0, proto: 0, port: 0, ip2: 0, net: 0, cidr: 32 }
    switch (this.type) {
      case IpSetType.HASH_IP:
        e.ip = parseAddress(parts[0], text)
        e.canonical = formatIpv4(e.ip)
        return e
      case IpSetType.HASH_NET:
        ;[e.net, e.cidr] = parseNet(parts[0], text)
        e.canonical = formatNet(e.net, e.cidr)
        return e
      case IpSetType.BITMAP_PORT:
        e.port = parsePortNumber(parts[0], text)
        if (e.port < this.portFirst || e.port > this.portLast)
          throw new IpSetError(`${this.name}: element ${text} is out of the range of the set`)
        e.canonical = String(e.port)
        return e
      default: {
        e.ip = parseAddress(parts[0], text)
        const colon = parts[1].indexOf(":")
        // `PORT` alone means tcp (ipset_parse_proto_port).
        const protoText = colon < 0 ? "tcp" : parts[1].slice(0, colon).toLowerCase()
        const proto = PROTO_NAMES[protoText]
        if (proto === undefined) throw new IpSetError(`${this.name}: unknown protocol in "${text}"`)
        e.proto = proto
        e.port = parsePortNumber(colon < 0 ? parts[1] : parts[1].slice(colon + 1), text)
        e.canonical = `${formatIpv4(e.ip)},${protoName(proto)}:${e.port}`
        if (this.type === IpSetType.HASH_IP_PORT_IP) {
          e.ip2 = parseAddress(parts[2], text)
          e.canonical += `,${formatIpv4(e.ip2)}`
        } else if (this.type === IpSetType.HASH_IP_PORT_NET) {
          ;[e.net, e.cidr] = parseNet(parts[2], text)
          e.canonical += `,${formatNet(e.net, e.cidr)}`
        }
        return e
      }
    }
  }
}

interface Element {
  canonical: string
  ip: number
  proto: number
  port: number
  ip2: number
  net: number
  cidr: number
}

/** get_port (ip_set_getport.c): TCP/UDP port by direction, ICMP (type << 8) | code, else 0. */
function packetPort(packet: Packet, src: boolean): number {
  if (packet.protocol === Protocol.TCP || packet.protocol === Protocol.UDP) return src ? packet.srcPort : packet.dstPort
  if (packet.protocol === Protocol.ICMP) return ((packet.icmpType << 8) | packet.icmpCode) & 0xffff
  return 0
}

function parseAddress(text: string, element: string): number {
  const ip = parseIpv4(text)
  if (ip === undefined) throw new IpSetError(`bad address "${text}" in "${element}"`)
  return ip
}

function parsePortNumber(text: string, element: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new IpSetError(`bad port "${text}" in "${element}"`)
  return Number(text)
}

function parseNet(text: string, element: string): [number, number] {
  const slash = text.indexOf("/")
  const ip = parseAddress(slash < 0 ? text : text.slice(0, slash), element)
  const cidr = slash < 0 ? 32 : Number(text.slice(slash + 1))
  // hash:net and hash:ip,port,net refuse /0 (IPSET_ERR_INVALID_CIDR: cidr must be 1..32).
  if (!Number.isInteger(cidr) || cidr < 1 || cidr > 32) throw new IpSetError(`bad prefix length in "${element}"`)
  return [(ip & maskOf(cidr)) >>> 0, cidr]
}

function formatNet(net: number, cidr: number): string {
  // ipset prints a /32 network without the suffix.
  return cidr === 32 ? formatIpv4(net) : `${formatIpv4(net)}/${cidr}`
}

/** The sets of one namespace (one `struct ip_set_net`). */
export class IpSetTable {
  readonly sets = new Map<string, IpSet>()

  get(name: string): IpSet | undefined {
    return this.sets.get(name)
  }

  /**
   * `ipset restore`: create/add/del/flush/destroy lines (`-exist` on the command or a line ignores
   * "already exists"/"not there" errors). All or nothing: on error nothing changes and the error
   * names the line. `references(name)` counts the rules using a set; a referenced set cannot be
   * destroyed ("Set cannot be destroyed: it is in use by a kernel component").
   */
  restore(text: string, options: { exist?: boolean; references?: (name: string) => number } = {}): void {
    // A staged set: the set the changes commit to (a new one, or the live one), the elements they
    // start from and the changes in order, applied at the commit through the shared transitions.
    const staged = new Map<string, StagedSet>()
    const lines = text.split("\n")
    const current = (name: string): IpSet | undefined => staged.get(name)?.set ?? this.sets.get(name)
    const stage = (name: string, live: IpSet): StagedSet => {
      let s = staged.get(name)
      if (s === undefined) {
        s = new StagedSet(live)
        staged.set(name, s)
      }
      return s
    }
    const destroyed = new Set<string>()
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n].trim()
      if (line === "" || line.startsWith("#") || line === "COMMIT") continue
      try {
        const tokens = line.split(/\s+/).filter((t) => t !== "-exist" && t !== "-!")
        const exist = options.exist === true || line.includes(" -exist") || line.includes(" -!")
        const [cmd, name, ...rest] = tokens
        if (name === undefined) throw new IpSetError(`${cmd}: missing set name`)
        const live = destroyed.has(name) ? undefined : current(name)
        switch (cmd) {
          case "create":
          case "-N": {
            if (live !== undefined) {
              if (exist && live.type === rest[0]) continue
              throw new IpSetError(`Set ${name} already exists`)
            }
            staged.set(name, new StagedSet(createSet(name, rest)))
            destroyed.delete(name)
            continue
          }
          case "add":
          case "-A":
          case "del":
          case "-D": {
            if (live === undefined) throw new IpSetError(`The set with the given name does not exist: ${name}`)
            const set = stage(name, live)
            const element = rest[0] ?? ""
            const adding = cmd === "add" || cmd === "-A"
            const done = adding ? set.add(element) : set.del(element)
            if (!done && !exist)
              throw new IpSetError(
                adding
                  ? `Element cannot be added to the set: it's already added`
                  : `Element cannot be deleted from the set: it's not added`,
              )
            continue
          }
          case "flush":
          case "-F": {
            if (live === undefined) throw new IpSetError(`The set with the given name does not exist: ${name}`)
            stage(name, live).flush()
            continue
          }
          case "destroy":
          case "-X": {
            if (live === undefined) throw new IpSetError(`The set with the given name does not exist: ${name}`)
            if ((options.references?.(name) ?? 0) > 0)
              throw new IpSetError(`Set cannot be destroyed: it is in use by a kernel component`)
            staged.delete(name)
            destroyed.add(name)
            continue
          }
          default:
            throw new IpSetError(`unknown command "${cmd}"`)
        }
      } catch (error) {
        if (error instanceof IpSetError) throw new IpSetError(`ipset restore: line ${n + 1}: ${error.message}`)
        throw error
      }
    }
    // Commit: rules hold IpSet objects, so a changed live set takes the new elements in place.
    for (const name of destroyed) if (!staged.has(name)) this.sets.delete(name)
    for (const [name, s] of staged) {
      s.set.adopt(transition(s.base, s.changes))
      if (this.sets.get(name) !== s.set) this.sets.set(name, s.set)
    }
  }

  /** `ipset list [NAME]` (`-sorted` orders members; `references` as for restore). */
  list(options: { name?: string; sorted?: boolean; references?: (name: string) => number } = {}): string {
    const out: string[] = []
    for (const set of this.sets.values()) {
      if (options.name !== undefined && set.name !== options.name) continue
      const header =
        set.type === IpSetType.BITMAP_PORT
          ? `range ${set.portFirst}-${set.portLast}`
          : `family inet hashsize ${set.hashSize} maxelem ${set.maxElem}`
      out.push(
        `Name: ${set.name}`,
        `Type: ${set.type}`,
        `Header: ${header}`,
        `References: ${options.references?.(set.name) ?? 0}`,
        `Number of entries: ${set.size}`,
        "Members:",
        ...set.list(options.sorted === true),
        "",
      )
    }
    if (options.name !== undefined && out.length === 0)
      throw new IpSetError(`The set with the given name does not exist: ${options.name}`)
    return out.join("\n")
  }
}

function createSet(name: string, args: string[]): IpSet {
  const type = args[0] as IpSetType
  if (!(type in DIMENSIONS)) throw new IpSetError(`Syntax error: unknown settype ${args[0]}`)
  const options: { hashSize?: number; maxElem?: number; portFirst?: number; portLast?: number } = {}
  for (let i = 1; i < args.length; i++) {
    const key = args[i]
    const value = args[i + 1]
    switch (key) {
      case "family":
        if (value !== "inet") throw new IpSetError(`${name}: only family inet is modelled`)
        i++
        continue
      case "hashsize":
        options.hashSize = Number(value)
        i++
        continue
      case "maxelem":
        options.maxElem = Number(value)
        i++
        continue
      case "range": {
        const m = /^(\d+)-(\d+)$/.exec(value ?? "")
        if (m === null) throw new IpSetError(`${name}: bad range "${value}"`)
        options.portFirst = Number(m[1])
        options.portLast = Number(m[2])
        i++
        continue
      }
      case "comment":
      case "counters":
        continue
      default:
        throw new IpSetError(`${name}: unknown create option "${key}"`)
    }
  }
  if (type === IpSetType.BITMAP_PORT && options.portFirst === undefined)
    throw new IpSetError(`${name}: bitmap:port needs a range`)
  return new IpSet(name, type, options)
}

/**
 * A set's pending changes within one `ipset restore`: what each add/del finds is the elements the
 * set started from with the changes so far (an overlay of the elements changed), as a staged copy
 * would; nothing is copied until the commit, and then once per distinct transition in the process.
 */
class StagedSet {
  readonly base: IpSetData
  readonly changes: IpSetChange[] = []
  /** Elements changed by this restore: true = present now, false = absent now. */
  private readonly overlay = new Map<string, boolean>()
  private flushed = false
  private size: number

  constructor(readonly set: IpSet) {
    this.base = set.elements()
    this.size = this.base.members.size
  }

  private has(canonical: string): boolean {
    const changed = this.overlay.get(canonical)
    if (changed !== undefined) return changed
    return !this.flushed && this.base.members.has(canonical)
  }

  add(text: string): boolean {
    const e = this.set.parseElement(text)
    if (this.has(e.canonical)) return false
    if (this.set.type !== IpSetType.BITMAP_PORT && this.size >= this.set.maxElem)
      throw new IpSetError(`Hash is full, cannot add more elements to ${this.set.name}`)
    this.overlay.set(e.canonical, true)
    this.changes.push({ add: true, element: e })
    this.size++
    return true
  }

  del(text: string): boolean {
    const e = this.set.parseElement(text)
    if (!this.has(e.canonical)) return false
    this.overlay.set(e.canonical, false)
    this.changes.push({ add: false, element: e })
    this.size--
    return true
  }

  flush(): void {
    this.overlay.clear()
    this.flushed = true
    this.changes.push({ add: false, element: null })
    this.size = 0
  }
}
