/**
 * DNS messages (RFC 1035 §4): the representation the simulator carries as a packet's application
 * payload, its exact wire length, and a codec to RFC 1035 bytes for pcap and tests.
 *
 * Two levels, as smoltcp's wire/ modules: `DnsMessage` is a small validated struct with integer
 * header fields (no bytes on the hot path); `encodeDnsMessage` / `decodeDnsMessage` turn it into
 * and out of real bytes through the `dns-packet` npm package (maintained, RFC 1035 + EDNS codec),
 * which is only needed when bytes are wanted (pcap, fixtures).
 *
 * Payload size. `encodedLengthBytes(msg)` is the length of the message with **no name
 * compression**, which is what CoreDNS sends in the normal case: its ScrubWriter calls
 * `request.Scrub` (coredns/coredns request/request.go), which calls miekg/dns `Msg.Truncate(size)`
 * (msg_truncate.go); Truncate sets `Compress = false` when the uncompressed length fits the
 * client's buffer ("Don't waste effort compressing this message"), and Scrub turns compression on
 * only when the reply does not fit, or when it travels over UDP and exceeds 1480 bytes (IPv4) /
 * 1220 bytes (IPv6). `coreDnsReplyLengthBytes` applies that rule and `compressedLengthBytes`
 * models miekg/dns's compressor (msg.go `packDomainName`): every name's suffixes at offsets below
 * 2^14 are remembered; owner names, question names and the rdata names of CNAME, PTR and SOA are
 * replaced by a pointer to the longest earlier suffix; SRV targets are never compressed (RFC 2782)
 * but their suffixes are still remembered for later names. Suffixes match case-sensitively (the
 * compression map is keyed by the exact string: `compressionMap.find`), so "Example.com" and
 * "example.com" are not shared; the root name is never compressed.
 * Stub resolvers (glibc `res_mkquery`, musl `__res_mkquery`) never compress their single-question
 * queries, so for a query both lengths are equal.
 *
 * Names are stored without the trailing dot ("my-svc.default.svc.cluster.local"); the root is "".
 * Names are ASCII (the simulator never produces IDNs); a label is 1..63 bytes.
 * EDNS(0): `ednsUdpPayloadBytes` stands for an OPT pseudo-record (version 0, no DO bit, no
 * options: 11 bytes, last in the additional section). glibc and musl send none by default; Go's
 * resolver adds one advertising 1232 bytes; CoreDNS echoes one when the query had one
 * (request.SizeAndDo). Not modelled: EDNS options (cookies, padding...), DNSSEC records, classes
 * other than IN.
 */
import dnsPacket from "dns-packet"
import { Buffer } from "node:buffer"

/** Resource record and query types (IANA DNS parameters). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  HTTPS: 65,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const

/** RFC 1035 §4.1.1 / RFC 2136 response codes. */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const

export const DNS_CLASS_IN = 1

/** Header flag bits as they sit in the second 16-bit header word (rcode bits excluded). */
export const DnsFlag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const
/** Opcode field (4 bits at bit 11); 0 = QUERY, the only one the simulator sends. */
const OPCODE_MASK = 0x7800

export interface DnsQuestion {
  readonly name: string
  readonly type: number
}

interface RecordHeader {
  readonly name: string
  /** Seconds (uint32). */
  readonly ttl: number
}

export interface ARecord extends RecordHeader {
  readonly type: typeof DnsType.A
  /** Dotted quad. */
  readonly address: string
}
export interface AaaaRecord extends RecordHeader {
  readonly type: typeof DnsType.AAAA
  /** RFC 5952 canonical text form. */
  readonly address: string
}
export interface CnameRecord extends RecordHeader {
  readonly type: typeof DnsType.CNAME
  readonly target: string
}
export interface PtrRecord extends RecordHeader {
  readonly type: typeof DnsType.PTR
  readonly target: string
}
export interface SrvRecord extends RecordHeader {
  readonly type: typeof DnsType.SRV
  readonly priority: number
  readonly weight: number
  readonly port: number
  readonly target: string
}
export interface SoaRecord extends RecordHeader {
  readonly type: typeof DnsType.SOA
  readonly mname: string
  readonly rname: string
  readonly serial: number
  readonly refresh: number
  readonly retry: number
  readonly expire: number
  readonly minimum: number
}
export interface TxtRecord extends RecordHeader {
  readonly type: typeof DnsType.TXT
  /** Character-strings, each <= 255 bytes. */
  readonly text: readonly string[]
}

export type DnsRecord = ARecord | AaaaRecord | CnameRecord | PtrRecord | SrvRecord | SoaRecord | TxtRecord

export interface DnsMessage {
  /** 16-bit transaction id. */
  readonly id: number
  /** Header flag bits (DnsFlag), opcode included; rcode kept apart in `rcode`. */
  readonly flags: number
  readonly rcode: number
  readonly questions: readonly DnsQuestion[]
  readonly answers: readonly DnsRecord[]
  readonly authorities: readonly DnsRecord[]
  readonly additionals: readonly DnsRecord[]
  /** UDP payload size of the message's EDNS(0) OPT record; absent = no OPT record. */
  readonly ednsUdpPayloadBytes?: number
}

export const DNS_HEADER_BYTES = 12
/** An OPT pseudo-record without options: root name, type, size, ext-rcode, version, flags, rdlength. */
export const DNS_OPT_RECORD_BYTES = 11
/** Type, class (2 each) after a question name. */
const QUESTION_FIXED_BYTES = 4
/** Type, class (2), TTL (4), RDLENGTH (2) after an owner name. */
const RECORD_FIXED_BYTES = 10
/** Pointers hold 14 bits of offset (RFC 1035 §4.1.4; miekg/dns maxCompressionOffset). */
const MAX_COMPRESSION_OFFSET = 1 << 14
/** RFC 1035 §2.3.4 limit on a message over UDP without EDNS (miekg/dns MinMsgSize). */
export const DNS_UDP_MIN_MSG_BYTES = 512
/** TCP messages carry a 16-bit length: miekg/dns MaxMsgSize. */
export const DNS_TCP_MAX_MSG_BYTES = 65535

export function hasFlag(msg: DnsMessage, flag: number): boolean {
  return (msg.flags & flag) !== 0
}

/** Uncompressed wire length of a name: one length byte per label, the labels, the root byte. */
export function nameLengthBytes(name: string): number {
  return name.length === 0 ? 1 : name.length + 2
}

function rdataLengthBytes(record: DnsRecord): number {
  switch (record.type) {
    case DnsType.A:
      return 4
    case DnsType.AAAA:
      return 16
    case DnsType.CNAME:
    case DnsType.PTR:
      return nameLengthBytes(record.target)
    case DnsType.SRV:
      return 6 + nameLengthBytes(record.target)
    case DnsType.SOA:
      return nameLengthBytes(record.mname) + nameLengthBytes(record.rname) + 20
    case DnsType.TXT: {
      let bytes = 0
      for (const s of record.text) bytes += 1 + s.length
      return bytes
    }
  }
}

function sectionLengthBytes(records: readonly DnsRecord[]): number {
  let bytes = 0
  for (const r of records) bytes += nameLengthBytes(r.name) + RECORD_FIXED_BYTES + rdataLengthBytes(r)
  return bytes
}

/**
 * Exact RFC 1035 length of the message without name compression (what CoreDNS sends when the reply
 * fits the client's buffer, and what stub resolvers send). Allocation-free.
 */
export function encodedLengthBytes(msg: DnsMessage): number {
  let bytes = DNS_HEADER_BYTES
  for (const q of msg.questions) bytes += nameLengthBytes(q.name) + QUESTION_FIXED_BYTES
  if (msg.ednsUdpPayloadBytes !== undefined) bytes += DNS_OPT_RECORD_BYTES
  return (
    bytes + sectionLengthBytes(msg.answers) + sectionLengthBytes(msg.authorities) + sectionLengthBytes(msg.additionals)
  )
}

/**
 * Length with miekg/dns name compression (see the module comment for the exact rule). Allocates a
 * suffix map; used only for replies that do not fit uncompressed.
 */
export function compressedLengthBytes(msg: DnsMessage): number {
  const seen = new Set<string>()
  let offset = DNS_HEADER_BYTES
  for (const q of msg.questions) offset = packName(q.name, offset, seen, true) + QUESTION_FIXED_BYTES
  for (const section of [msg.answers, msg.authorities, msg.additionals])
    for (const r of section) {
      offset = packName(r.name, offset, seen, true) + RECORD_FIXED_BYTES
      switch (r.type) {
        case DnsType.A:
          offset += 4
          break
        case DnsType.AAAA:
          offset += 16
          break
        case DnsType.CNAME:
        case DnsType.PTR:
          offset = packName(r.target, offset, seen, true)
          break
        case DnsType.SRV:
          offset = packName(r.target, offset + 6, seen, false)
          break
        case DnsType.SOA:
          offset = packName(r.rname, packName(r.mname, offset, seen, true), seen, true) + 20
          break
        case DnsType.TXT:
          for (const s of r.text) offset += 1 + s.length
          break
      }
    }
  return msg.ednsUdpPayloadBytes !== undefined ? offset + DNS_OPT_RECORD_BYTES : offset
}

/**
 * Offset after packing `name` at `offset`, as miekg/dns packDomainName: walk suffixes from the
 * longest; the first one already seen becomes a 2-byte pointer when `compress`; suffixes not seen
 * are remembered when their offset fits 14 bits.
 */
function packName(name: string, offset: number, seen: Set<string>, compress: boolean): number {
  if (name.length === 0) return offset + 1
  let begin = 0
  let at = offset
  while (begin < name.length) {
    const suffix = begin === 0 ? name : name.slice(begin)
    if (seen.has(suffix)) {
      if (compress) return at + 2
    } else if (at < MAX_COMPRESSION_OFFSET) seen.add(suffix)
    const dot = name.indexOf(".", begin)
    const labelEnd = dot < 0 ? name.length : dot
    at += 1 + (labelEnd - begin)
    begin = labelEnd + 1
  }
  return at + 1
}

/**
 * The length CoreDNS puts on the wire for `reply` (request.Scrub + miekg/dns Msg.Truncate):
 * uncompressed when it fits `clientBufferBytes` (512 over UDP without EDNS, 65535 over TCP), and
 * for UDP also not over 1480 (IPv4) / 1220 (IPv6) bytes; compressed otherwise. Truncation of a
 * reply that does not fit even compressed (TC=1, records dropped) is the caller's business.
 */
export function coreDnsReplyLengthBytes(
  reply: DnsMessage,
  clientBufferBytes: number,
  transport: "udp" | "tcp",
  family: 4 | 6 = 4,
): number {
  const size = Math.max(clientBufferBytes, DNS_UDP_MIN_MSG_BYTES)
  const plain = encodedLengthBytes(reply)
  if (plain > size) return compressedLengthBytes(reply)
  if (transport === "udp" && plain > (family === 4 ? 1480 : 1220)) return compressedLengthBytes(reply)
  return plain
}

/**
 * The reply size a server may use for `query` (CoreDNS edns.Size): 65535 over TCP; over UDP the
 * query's EDNS(0) size, at least 512 (no OPT -> 512).
 */
export function clientBufferBytes(query: DnsMessage, transport: "udp" | "tcp"): number {
  if (transport === "tcp") return DNS_TCP_MAX_MSG_BYTES
  return Math.max(query.ednsUdpPayloadBytes ?? 0, DNS_UDP_MIN_MSG_BYTES)
}

// --- construction helpers (the shapes stub resolvers and servers emit) -------------------------

/**
 * A stub resolver query: one question, RD=1 (glibc res_mkquery and musl __res_mkquery set RD);
 * `ednsUdpPayloadBytes` adds an OPT record (Go's resolver: 1232).
 */
export function dnsQuery(id: number, name: string, type: number, ednsUdpPayloadBytes?: number): DnsMessage {
  const query: DnsMessage = {
    id,
    flags: DnsFlag.RD,
    rcode: Rcode.NOERROR,
    questions: [{ name, type }],
    answers: [],
    authorities: [],
    additionals: [],
  }
  return ednsUdpPayloadBytes === undefined ? query : { ...query, ednsUdpPayloadBytes }
}

/** The reply skeleton to `query`: same id and question, QR set, RD copied (RFC 1035 §4.1.1). */
export function dnsReply(
  query: DnsMessage,
  rcode: number,
  flags: number,
  answers: readonly DnsRecord[],
  authorities: readonly DnsRecord[] = [],
  additionals: readonly DnsRecord[] = [],
): DnsMessage {
  const reply: DnsMessage = {
    id: query.id,
    flags: DnsFlag.QR | (query.flags & (DnsFlag.RD | DnsFlag.CD)) | flags,
    rcode,
    questions: query.questions,
    answers,
    authorities,
    additionals,
  }
  // CoreDNS's SizeAndDo answers an OPT with an OPT advertising the request's size.
  return query.ednsUdpPayloadBytes === undefined ? reply : { ...reply, ednsUdpPayloadBytes: query.ednsUdpPayloadBytes }
}

// --- codec (dns-packet) ---------------------------------------------------------------------------

const TYPE_NAMES: Record<number, dnsPacket.RecordType> = {
  [DnsType.A]: "A",
  [DnsType.NS]: "NS",
  [DnsType.CNAME]: "CNAME",
  [DnsType.SOA]: "SOA",
  [DnsType.PTR]: "PTR",
  [DnsType.MX]: "MX",
  [DnsType.TXT]: "TXT",
  [DnsType.AAAA]: "AAAA",
  [DnsType.SRV]: "SRV",
  [DnsType.IXFR]: "IXFR",
  [DnsType.AXFR]: "AXFR",
  [DnsType.ANY]: "ANY" as dnsPacket.RecordType,
}
const TYPE_NUMBERS = new Map<string, number>(Object.entries(TYPE_NAMES).map(([n, s]) => [s, Number(n)]))

function typeName(type: number): dnsPacket.RecordType {
  const name = TYPE_NAMES[type]
  // dns-packet spells types it has no mnemonic for "UNKNOWN_<n>" (e.g. HTTPS, 65).
  return name ?? (`UNKNOWN_${type}` as dnsPacket.RecordType)
}

function typeNumber(name: string): number {
  const known = TYPE_NUMBERS.get(name)
  if (known !== undefined) return known
  const m = /^UNKNOWN_(\d+)$/.exec(name)
  if (m !== null) return Number(m[1])
  throw new Error(`dns: unsupported record type ${name}`)
}

function toPacketRecord(r: DnsRecord): dnsPacket.Answer {
  const base = { name: r.name, ttl: r.ttl, class: "IN" as const }
  switch (r.type) {
    case DnsType.A:
      return { ...base, type: "A", data: r.address }
    case DnsType.AAAA:
      return { ...base, type: "AAAA", data: r.address }
    case DnsType.CNAME:
      return { ...base, type: "CNAME", data: r.target }
    case DnsType.PTR:
      return { ...base, type: "PTR", data: r.target }
    case DnsType.SRV:
      return { ...base, type: "SRV", data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } }
    case DnsType.SOA:
      return {
        ...base,
        type: "SOA",
        data: {
          mname: r.mname,
          rname: r.rname,
          serial: r.serial,
          refresh: r.refresh,
          retry: r.retry,
          expire: r.expire,
          minimum: r.minimum,
        },
      }
    case DnsType.TXT:
      return { ...base, type: "TXT", data: r.text.map((s) => Buffer.from(s, "latin1")) }
  }
}

/** dns-packet writes the root as "." and reads it back as "."; the representation uses "". */
function fromPacketName(name: string): string {
  return name === "." ? "" : name
}

function fromPacketRecord(a: dnsPacket.Answer): DnsRecord {
  if (a.type === "OPT") throw new Error("dns: OPT records are not represented")
  const name = fromPacketName(a.name)
  const ttl = a.ttl ?? 0
  switch (a.type) {
    case "A":
      return { name, ttl, type: DnsType.A, address: a.data }
    case "AAAA":
      return { name, ttl, type: DnsType.AAAA, address: a.data }
    case "CNAME":
      return { name, ttl, type: DnsType.CNAME, target: fromPacketName(a.data) }
    case "PTR":
      return { name, ttl, type: DnsType.PTR, target: fromPacketName(a.data) }
    case "SRV":
      return {
        name,
        ttl,
        type: DnsType.SRV,
        priority: a.data.priority ?? 0,
        weight: a.data.weight ?? 0,
        port: a.data.port,
        target: fromPacketName(a.data.target),
      }
    case "SOA":
      return {
        name,
        ttl,
        type: DnsType.SOA,
        mname: fromPacketName(a.data.mname),
        rname: fromPacketName(a.data.rname),
        serial: a.data.serial ?? 0,
        refresh: a.data.refresh ?? 0,
        retry: a.data.retry ?? 0,
        expire: a.data.expire ?? 0,
        minimum: a.data.minimum ?? 0,
      }
    case "TXT": {
      const data = a.data
      const parts = Array.isArray(data) ? data : [data]
      return {
        name,
        ttl,
        type: DnsType.TXT,
        text: parts.map((p) => (typeof p === "string" ? p : p.toString("latin1"))),
      }
    }
    default:
      throw new Error(`dns: unsupported record type ${a.type}`)
  }
}

/** RFC 1035 bytes of `msg`, uncompressed (dns-packet never compresses when encoding). */
export function encodeDnsMessage(msg: DnsMessage): Uint8Array {
  const qr = (msg.flags & DnsFlag.QR) !== 0
  const buf = dnsPacket.encode({
    id: msg.id,
    type: qr ? "response" : "query",
    // dns-packet's `flags` is the header word without QR (which `type` sets), rcode included.
    flags: (msg.flags & 0x7ff0) | (msg.rcode & 0xf),
    questions: msg.questions.map((q) => ({ name: q.name, type: typeName(q.type), class: "IN" as const })),
    answers: msg.answers.map(toPacketRecord),
    authorities: msg.authorities.map(toPacketRecord),
    additionals:
      msg.ednsUdpPayloadBytes === undefined
        ? msg.additionals.map(toPacketRecord)
        : [
            ...msg.additionals.map(toPacketRecord),
            {
              type: "OPT",
              name: ".",
              udpPayloadSize: msg.ednsUdpPayloadBytes,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ],
  })
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** Parses RFC 1035 bytes (compressed names accepted); throws on malformed input or unsupported records. */
export function decodeDnsMessage(bytes: Uint8Array): DnsMessage {
  const p = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  const word = p.flags ?? 0
  const flagBits = word & (0x7ff0 & ~0x0040)
  let ednsUdpPayloadBytes = -1
  const additionals: DnsRecord[] = []
  for (const a of p.additionals ?? []) {
    if (a.type === "OPT") ednsUdpPayloadBytes = a.udpPayloadSize
    else additionals.push(fromPacketRecord(a))
  }
  const msg: DnsMessage = {
    id: p.id ?? 0,
    flags: (p.type === "response" ? DnsFlag.QR : 0) | flagBits | (word & OPCODE_MASK),
    rcode: word & 0xf,
    questions: (p.questions ?? []).map((q) => ({ name: fromPacketName(q.name), type: typeNumber(q.type) })),
    answers: (p.answers ?? []).map(fromPacketRecord),
    authorities: (p.authorities ?? []).map(fromPacketRecord),
    additionals,
  }
  return ednsUdpPayloadBytes < 0 ? msg : { ...msg, ednsUdpPayloadBytes }
}

/** Name of an rcode as dig prints it. */
export function rcodeName(rcode: number): string {
  for (const [name, value] of Object.entries(Rcode)) if (value === rcode) return name
  return `RCODE${rcode}`
}

/** Name of a type as dig prints it. */
export function typeMnemonic(type: number): string {
  return type === DnsType.HTTPS ? "HTTPS" : (TYPE_NAMES[type] ?? `TYPE${type}`)
}
