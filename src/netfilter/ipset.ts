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

/** One set. Lookups allocate nothing. */
export class IpSet {
  readonly dimension: number
  hashSize = 1024
  maxElem = 65536
  /** bitmap:port `range`. */
  portFirst = 0
  portLast = 65535
  /** Elements as `ipset list` prints them, in insertion order (the key -> text map keeps it). */
  private readonly members = new Map<string, string>()
  /** hash:ip: the address; hash:net: net * 64 + cidr. */
  private readonly ones = new Set<number>()
  /**
   * hash:ip,port*: per protocol, ip -> port -> (ip2 | net * 64 + cidr); hash:ip,port: empty set.
   * Two int-keyed levels rather than one Map keyed by ip * 65536 + port: that 48-bit key was boxed
   * and hashed as a double on every packet's --match-set test.
   */
  private readonly byProto: (IntMap<IntMap<Set<number>>> | undefined)[] = new Array(256)
  /** Prefix lengths present (hash:net, hash:ip,port,net), longest first. */
  private cidrs: number[] = []
  private readonly cidrCount = new Int32Array(33)
  private readonly bitmap: Uint8Array | null
  /** The type as a small integer (test's switch compares integers, not strings). */
  private readonly kind: number
  /** (ip, protocol, port) pairs in byProto: 0 lets a test of an empty hash:ip,port* set end at once. */
  private pairs = 0
  /**
   * A flat open-addressing index over byProto's first two levels, keyed by (ip, protocol << 16 |
   * port), for the packet path: one probe sequence in two typed arrays instead of two IntMap
   * lookups. Built on the first test after a change (sets change on syncs, packets test them per
   * packet); flatMask -1 = stale. It finds exactly the inner set byProto holds for the pair.
   */
  private flatIp = new Int32Array(0)
  /** protocol << 16 | port per slot; -1 = empty slot. */
  private flatPp = new Int32Array(0)
  private flatInner: Set<number>[] = []
  private flatMask = -1
  private flatShift = 32

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
    this.bitmap = type === IpSetType.BITMAP_PORT ? new Uint8Array(TWO16) : null
    this.kind = KIND_OF[type]
  }

  get size(): number {
    return this.members.size
  }

  /** Adds an element written as `ipset add` takes it. Returns false if it was there already. */
  add(text: string): boolean {
    const e = this.parseElement(text)
    if (this.members.has(e.canonical)) return false
    if (this.bitmap === null && this.members.size >= this.maxElem)
      throw new IpSetError(`Hash is full, cannot add more elements to ${this.name}`)
    this.members.set(e.canonical, e.canonical)
    this.apply(e, true)
    return true
  }

  /** Deletes an element. Returns false if it was not there (`ipset del` errors unless -exist). */
  del(text: string): boolean {
    const e = this.parseElement(text)
    if (!this.members.delete(e.canonical)) return false
    this.apply(e, false)
    return true
  }

  flush(): void {
    for (const text of [...this.members.keys()]) this.del(text)
  }

  /** Member texts, insertion order or sorted (`ipset list -sorted`/`save`, as upstream tests compare). */
  list(sorted = false): string[] {
    const out = [...this.members.keys()]
    return sorted ? out.sort() : out
  }

  has(text: string): boolean {
    return this.members.has(this.parseElement(text).canonical)
  }

  /**
   * The kernel's kadt test for `packet`: `dirs[i]` true = take dimension i from the source (the
   * `src` flag of --match-set), false = destination. `dimensions` = how many flags were given:
   * fewer than the set's dimension never matches (ip_set_test: opt->dim < set->type->dimension).
   */
  test(packet: Packet, dimensions: number, dir0Src: boolean, dir1Src: boolean, dir2Src: boolean): boolean {
    if (dimensions < this.dimension) return false
    const ip = dir0Src ? packet.srcAddr : packet.dstAddr
    switch (this.kind) {
      case KIND_HASH_IP:
        return this.ones.has(ip)
      case KIND_HASH_NET:
        return this.testNet(this.ones, dir0Src ? packet.srcAddr : packet.dstAddr)
      case KIND_BITMAP_PORT: {
        if (packet.protocol !== Protocol.TCP && packet.protocol !== Protocol.UDP) return false
        const port = packetPort(packet, dir0Src)
        return port >= this.portFirst && port <= this.portLast && (this.bitmap as Uint8Array)[port] === 1
      }
      default: {
        if (this.pairs === 0) return false
        const slot = this.flatSlot(ip | 0, (packet.protocol << 16) | packetPort(packet, dir1Src))
        if (slot < 0) return false
        if (this.kind === KIND_HASH_IP_PORT) return true
        const inner = this.flatInner[slot]
        const ip2 = dir2Src ? packet.srcAddr : packet.dstAddr
        if (this.kind === KIND_HASH_IP_PORT_IP) return inner.has(ip2)
        return this.testNet(inner, ip2)
      }
    }
  }

  /** The flat index's slot of (ip, protocol << 16 | port), or -1 when the pair is not in the set. */
  private flatSlot(ip: number, pp: number): number {
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

  private testNet(nets: Set<number>, address: Ipv4): boolean {
    const cidrs = this.cidrs
    for (let i = 0; i < cidrs.length; i++) {
      const c = cidrs[i]
      if (nets.has(((address & maskOf(c)) >>> 0) * TWO6 + c)) return true
    }
    return false
  }

  private apply(e: Element, add: boolean): void {
    ipsetContents.generation++
    switch (this.type) {
      case IpSetType.HASH_IP:
        if (add) this.ones.add(e.ip)
        else this.ones.delete(e.ip)
        return
      case IpSetType.HASH_NET:
        if (add) this.ones.add(e.net * TWO6 + e.cidr)
        else this.ones.delete(e.net * TWO6 + e.cidr)
        this.countCidr(e.cidr, add)
        return
      case IpSetType.BITMAP_PORT:
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
        const third = this.type === IpSetType.HASH_IP_PORT_IP ? e.ip2 : e.net * TWO6 + e.cidr
        let empty = false
        if (this.type === IpSetType.HASH_IP_PORT) empty = !add
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
        if (this.type === IpSetType.HASH_IP_PORT_NET) this.countCidr(e.cidr, add)
      }
    }
  }

  private countCidr(cidr: number, add: boolean): void {
    this.cidrCount[cidr] += add ? 1 : -1
    const out: number[] = []
    for (let c = 32; c >= 0; c--) if (this.cidrCount[c] > 0) out.push(c)
    this.cidrs = out
  }

  private parseElement(text: string): Element {
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
    const staged = new Map<string, IpSet>()
    const lines = text.split("\n")
    const plan: (() => void)[] = []
    const current = (name: string): IpSet | undefined => (staged.has(name) ? staged.get(name) : this.sets.get(name))
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
            staged.set(name, createSet(name, rest))
            destroyed.delete(name)
            continue
          }
          case "add":
          case "-A":
          case "del":
          case "-D": {
            if (live === undefined) throw new IpSetError(`The set with the given name does not exist: ${name}`)
            if (!staged.has(name)) staged.set(name, cloneSet(live))
            const set = staged.get(name) as IpSet
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
            if (!staged.has(name)) staged.set(name, cloneSet(live))
            ;(staged.get(name) as IpSet).flush()
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
    // Commit: rules hold IpSet objects, so a changed set's contents are moved into the live object.
    for (const name of destroyed) if (!staged.has(name)) plan.push(() => this.sets.delete(name))
    for (const [name, set] of staged) {
      const live = this.sets.get(name)
      if (live !== undefined && live.type === set.type && !destroyed.has(name))
        plan.push(() => {
          live.flush()
          for (const m of set.list()) live.add(m)
        })
      else plan.push(() => this.sets.set(name, set))
    }
    for (const step of plan) step()
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

function cloneSet(set: IpSet): IpSet {
  const copy = new IpSet(set.name, set.type, {
    hashSize: set.hashSize,
    maxElem: set.maxElem,
    portFirst: set.portFirst,
    portLast: set.portLast,
  })
  for (const m of set.list()) copy.add(m)
  return copy
}
